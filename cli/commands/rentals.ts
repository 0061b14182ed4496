/** `reelnet rentals`: the logged-in customer's licences, newest first: kind, price paid, time left, whether it still plays. */
import { parseFlags, formatDuration, UsageError, type Command } from '../command.ts'
import { callMain } from '../http.ts'
import { loadSession, configDir } from '../session.ts'
import { formatPrice } from './terms-flags.ts'

const usage = `usage: reelnet rentals [--json]

Your licences, newest first, as main keeps them: rentals with the price paid
and the time left (a rental's period starts when it is rented), purchases (no
end), their state (active, expired, or removed when the item was taken down,
with the reason main gave), and whether this machine keeps the item's content
key (kept while the licence is valid, removed at its end; expired keys are
removed now).

flags:
  --json       print them as JSON
  -h, --help   show this help`

interface RentalView {
  licenseId: string
  itemId: string
  title: string | null
  kind?: 'rental' | 'purchase'
  notBefore: number
  expiresAt: number
  price: { amount: number, currency: string } | null
  status: 'active' | 'expired' | 'removed'
  endedReason: string | null
}

export const command: Command = {
  name: 'rentals',
  summary: 'list your licences: kind, price paid, time left, whether each still plays',
  usage,
  async run (argv) {
    const { values, positionals } = parseFlags(argv, { json: { type: 'boolean' } }, true)
    if (positionals.length > 0) throw new UsageError('usage: reelnet rentals [--json]')
    const session = await loadSession()
    const { sweepExpiredKeys, loadContentKey } = await import('../../node/client/content-key-file.ts')
    const dir = configDir()
    await sweepExpiredKeys(dir)
    const { rentals } = await callMain<{ rentals: RentalView[] }>(session.mainUrl, 'GET', '/v1/rentals', { token: session.token, what: 'list your rentals' })
    const now = Date.now()
    const rows = await Promise.all(rentals.map(async r => {
      const kind = r.kind ?? 'rental'
      const kept = await loadContentKey(dir, r.itemId, now)
      return { ...r, kind, active: r.status === 'active', timeLeftMs: kind === 'purchase' ? null : Math.max(0, r.expiresAt - now), keyKept: kept?.licenseId === r.licenseId }
    }))
    if (values.json === true) { console.log(JSON.stringify({ rentals: rows }, null, 2)); return 0 }
    if (rows.length === 0) { console.log('you have no rentals yet (reelnet rent ITEM)'); return 0 }
    console.log(['LICENSE'.padEnd(36), 'KIND'.padEnd(8), 'PRICE'.padStart(10), 'TITLE'.padEnd(24), 'LEFT'.padEnd(12), 'KEY'.padEnd(4), 'STATE'].join('  '))
    for (const r of rows) {
      const left = r.kind === 'purchase' ? 'no end' : r.active ? formatDuration(Math.floor((r.timeLeftMs ?? 0) / 1000) * 1000) : 'ended'
      const state = r.status === 'active'
        ? (r.kind === 'purchase' ? 'yours for good' : `until ${new Date(r.expiresAt).toISOString()}`)
        : r.status === 'expired' ? `ended ${new Date(r.expiresAt).toISOString()}` : `removed: ${r.endedReason ?? ''}`
      console.log([r.licenseId.padEnd(36), r.kind.padEnd(8), formatPrice(r.price).padStart(10), (r.title ?? r.itemId).padEnd(24), left.padEnd(12), (r.keyKept ? 'kept' : '-').padEnd(4), state].join('  '))
    }
    return 0
  }
}
