/** `reelnet rentals`: the logged-in customer's licences with their kind and time left. */
import { parseFlags, formatDuration, type Command } from '../command.ts'
import { callMain } from '../http.ts'
import { loadSession, configDir } from '../session.ts'

const usage = `usage: reelnet rentals [--json]

List your licences (newest first) as main keeps them: rentals with the time
left (a rental's period starts when it is rented), purchases (no end), and
whether this machine keeps the item's content key (kept while the licence is
valid, removed at its end; expired keys are removed now).

flags:
  --json       print them as JSON
  -h, --help   show this help`

interface Rental { licenseId: string, itemId: string, kind: 'rental' | 'purchase', notBefore: number, expiresAt: number }

export const command: Command = {
  name: 'rentals',
  summary: 'list your licences with their time left',
  usage,
  async run (argv) {
    const { values } = parseFlags(argv, { json: { type: 'boolean' } })
    const session = await loadSession()
    const { sweepExpiredKeys, loadContentKey } = await import('../../node/client/content-key-file.ts')
    const dir = configDir()
    await sweepExpiredKeys(dir)
    const { rentals } = await callMain<{ rentals: Rental[] }>(session.mainUrl, 'GET', '/v1/rentals', { token: session.token, what: 'list your rentals' })
    const now = Date.now()
    const rows = await Promise.all(rentals.map(async r => {
      const kept = await loadContentKey(dir, r.itemId, now)
      return { ...r, active: r.expiresAt > now, timeLeftMs: r.kind === 'purchase' ? null : Math.max(0, r.expiresAt - now), keyKept: kept?.licenseId === r.licenseId }
    }))
    if (values.json === true) {
      console.log(JSON.stringify({ rentals: rows }, null, 2))
      return 0
    }
    if (rows.length === 0) {
      console.log('no rentals yet (reelnet rent ITEM)')
      return 0
    }
    console.log(['ITEM'.padEnd(32), 'KIND'.padEnd(8), 'LEFT'.padEnd(12), 'KEY'.padEnd(4), 'LICENSE'].join('  '))
    for (const r of rows) {
      const left = r.kind === 'purchase' ? 'no end' : r.active ? formatDuration(Math.floor((r.timeLeftMs ?? 0) / 1000) * 1000) : 'ended'
      console.log([r.itemId.padEnd(32), r.kind.padEnd(8), left.padEnd(12), (r.keyKept ? 'kept' : '-').padEnd(4), r.licenseId].join('  '))
    }
    return 0
  }
}
