/** `reelnet rent ITEM`: rent an item; the signed license is verified and kept in the config folder. */
import { parseFlags, UsageError, CommandError, type Command } from '../command.ts'
import { callMain } from '../http.ts'
import { loadSession, saveLicense } from '../session.ts'
import { verifyLicense } from '../../protocol/documents.ts'
import { fromText } from '../../protocol/signing.ts'
import { fromBase64url } from '../../protocol/encoding.ts'
import { formatBytes, type CatalogItem } from './catalog.ts'
import { formatPrice } from './terms-flags.ts'

const usage = `usage: reelnet rent ITEM [--purchase] [--json]

Rent ITEM (an itemId, or a title from 'reelnet catalog') as the logged-in
customer. main's signed license is checked against the pinned key and kept
under licenses/ in the config folder; 'reelnet get ITEM' then downloads it.
A rental's period starts now, at rent (not at first play), and ends at the
time printed; then play stops, seeding stops and the content key is removed.

flags:
  --purchase   buy instead of renting: the license never ends, and
               'reelnet export ITEM -o FILE' may write the plaintext
  --json       print the license as JSON
  -h, --help   show this help`

/** Resolve an itemId or an exact (case-insensitive) title to an itemId. */
async function resolveItem (mainUrl: string, item: string, region: string | undefined): Promise<string> {
  if (/^[0-9a-f]{32}$/.test(item)) return item
  const { items } = await callMain<{ items: CatalogItem[] }>(mainUrl, 'GET', `/v1/catalog${region !== undefined ? `?region=${region}` : ''}`, { what: 'fetch the catalog' })
  const matches = items.filter(i => i.title.toLowerCase() === item.toLowerCase())
  if (matches.length === 1) return matches[0]!.itemId
  if (matches.length > 1) throw new CommandError(`several items are titled '${item}'; rent by itemId: ${matches.map(m => `${m.itemId} (${m.title}, ${formatBytes(m.size)})`).join(', ')}`)
  throw new CommandError(`no item '${item}' in the catalog (see reelnet catalog)`)
}

export const command: Command = {
  name: 'rent',
  summary: 'rent an item and receive its signed license',
  usage,
  async run (argv) {
    const { values, positionals } = parseFlags(argv, { json: { type: 'boolean' }, purchase: { type: 'boolean' } }, true)
    if (positionals.length !== 1) throw new UsageError('usage: reelnet rent ITEM')
    const session = await loadSession()
    const itemId = await resolveItem(session.mainUrl, positionals[0]!, session.region)
    const r = await callMain<{ licenseId: string, license: string, expiresAt: number, price?: { amount: number, currency: string } | null }>(session.mainUrl, 'POST', '/v1/rentals', {
      json: { itemId, ...(values.purchase === true ? { kind: 'purchase' } : {}) }, token: session.token, what: `${values.purchase === true ? 'buy' : 'rent'} ${itemId}`
    })
    let license
    try {
      license = verifyLicense(fromText(r.license), { publicKey: fromBase64url(session.mainKey), now: Date.now(), itemId, accountId: session.accountId, licenseId: r.licenseId })
    } catch (err) {
      throw new CommandError(`main's license does not verify against the pinned key: ${(err as Error).message}`)
    }
    const kind = license.kind ?? 'rental'
    const path = await saveLicense({ licenseId: license.licenseId, itemId, license: r.license, expiresAt: license.expiresAt, mainUrl: session.mainUrl, kind })
    if (values.json === true) {
      console.log(JSON.stringify({ licenseId: license.licenseId, itemId, kind, expiresAt: license.expiresAt, price: license.price ?? null, license: r.license, path }, null, 2))
    } else if (kind === 'purchase') {
      console.log(`bought ${itemId} for ${formatPrice(license.price)}: yours for good (license ${license.licenseId})`)
    } else {
      console.log(`rented ${itemId} until ${new Date(license.expiresAt).toISOString()} for ${formatPrice(license.price)} (license ${license.licenseId})`)
      console.log(`license kept in ${path}; next: reelnet get ${itemId}`)
    }
    return 0
  }
}
