/** `reelnet catalog`: list the items for rent. */
import { parseFlags, UsageError, type Command } from '../command.ts'
import { callMain, mainUrlOf, DEFAULT_MAIN_URL } from '../http.ts'
import { readSession } from '../session.ts'
import { formatPrice } from './terms-flags.ts'

interface Price { amount: number, currency: string }
export interface CatalogItem {
  itemId: string
  title: string
  size: number
  chunkSize: number
  chunkCount: number
  version?: number
  rental?: { hours: number, price: Price | null }
  purchase?: { price: Price } | null
  maxDevices?: number | null
  availableUntil?: number | null
}

export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`
}

const usage = `usage: reelnet catalog [--main URL] [--region R] [--json]

List what is available to rent now in your region (the logged-in account's,
else --region, else every region): itemId, size, rental period and price,
purchase price, and until when it can be rented. Uses the main you logged in
to, else --main, else ${DEFAULT_MAIN_URL}.

flags:
  --main URL   main's address
  --region R   the region to list (default: your account's)
  --json       print main's answer as JSON
  -h, --help   show this help`

export const command: Command = {
  name: 'catalog',
  summary: 'list the items for rent',
  usage,
  async run (argv) {
    const { values } = parseFlags(argv, { main: { type: 'string' }, json: { type: 'boolean' }, region: { type: 'string' } })
    const session = await readSession().catch(() => undefined)
    const mainUrl = mainUrlOf(values.main ?? session?.mainUrl ?? DEFAULT_MAIN_URL)
    const region = values.region ?? session?.region
    if (region !== undefined && !/^[a-z0-9][a-z0-9-]{0,31}$/.test(region)) throw new UsageError(`--region must be lower-case letters, digits and '-', got '${region}'`)
    const { items } = await callMain<{ items: CatalogItem[] }>(mainUrl, 'GET', `/v1/catalog${region !== undefined ? `?region=${region}` : ''}`, { what: 'fetch the catalog' })
    if (values.json === true) {
      console.log(JSON.stringify({ ...(region !== undefined ? { region } : {}), items }, null, 2))
      return 0
    }
    if (items.length === 0) {
      console.log(region !== undefined ? `nothing is available in region ${region} now` : 'the catalog is empty')
      return 0
    }
    for (const i of items) {
      const rental = i.rental !== undefined ? `${i.rental.hours} h ${formatPrice(i.rental.price)}` : ''
      const buy = i.purchase != null ? `  buy ${formatPrice(i.purchase.price)}` : ''
      const until = i.availableUntil != null ? `  until ${new Date(i.availableUntil).toISOString()}` : ''
      console.log(`${i.itemId}  ${formatBytes(i.size).padStart(10)}  ${rental.padEnd(16)}  ${i.title}${buy}${until}`)
    }
    return 0
  }
}
