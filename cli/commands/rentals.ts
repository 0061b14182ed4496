/** `reelnet rentals`: the logged-in customer's rentals, newest first, with what each charged and whether it still plays. */
import { parseFlags, UsageError, type Command } from '../command.ts'
import { callMain } from '../http.ts'
import { loadSession } from '../session.ts'
import { formatPrice } from './terms-flags.ts'

const usage = `usage: reelnet rentals [--json]

Your rentals, newest first: licenseId, title, the price paid, until when it
plays, and its state (active, expired, or removed when the item was taken
down, with the reason main gave).

flags:
  --json       print main's answer as JSON
  -h, --help   show this help`

interface RentalView {
  licenseId: string
  itemId: string
  title: string | null
  notBefore: number
  expiresAt: number
  price: { amount: number, currency: string } | null
  status: 'active' | 'expired' | 'removed'
  endedReason: string | null
}

export const command: Command = {
  name: 'rentals',
  summary: 'list your rentals with what each charged and whether it still plays',
  usage,
  async run (argv) {
    const { values, positionals } = parseFlags(argv, { json: { type: 'boolean' } }, true)
    if (positionals.length > 0) throw new UsageError('usage: reelnet rentals [--json]')
    const session = await loadSession()
    const { rentals } = await callMain<{ rentals: RentalView[] }>(session.mainUrl, 'GET', '/v1/rentals', { token: session.token, what: 'list your rentals' })
    if (values.json === true) { console.log(JSON.stringify({ rentals }, null, 2)); return 0 }
    if (rentals.length === 0) { console.log('you have no rentals'); return 0 }
    for (const r of rentals) {
      const state = r.status === 'active' ? `until ${new Date(r.expiresAt).toISOString()}` : r.status === 'expired' ? `ended ${new Date(r.expiresAt).toISOString()}` : `removed: ${r.endedReason ?? ''}`
      console.log(`${r.licenseId}  ${formatPrice(r.price).padStart(10)}  ${(r.title ?? r.itemId).padEnd(24)}  ${state}`)
    }
    return 0
  }
}
