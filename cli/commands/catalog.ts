/** `reelnet catalog`: list the items for rent. */
import { parseFlags, type Command } from '../command.ts'
import { callMain, mainUrlOf, DEFAULT_MAIN_URL } from '../http.ts'
import { readSession } from '../session.ts'

export interface CatalogItem { itemId: string, title: string, size: number, chunkSize: number, chunkCount: number }

export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`
}

const usage = `usage: reelnet catalog [--main URL] [--json]

List the items for rent (itemId, size, title). Uses the main you logged in
to, else --main, else ${DEFAULT_MAIN_URL}.

flags:
  --main URL   main's address
  --json       print main's answer as JSON
  -h, --help   show this help`

export const command: Command = {
  name: 'catalog',
  summary: 'list the items for rent',
  usage,
  async run (argv) {
    const { values } = parseFlags(argv, { main: { type: 'string' }, json: { type: 'boolean' } })
    const mainUrl = mainUrlOf(values.main ?? (await readSession().catch(() => undefined))?.mainUrl ?? DEFAULT_MAIN_URL)
    const { items } = await callMain<{ items: CatalogItem[] }>(mainUrl, 'GET', '/v1/catalog', { what: 'fetch the catalog' })
    if (values.json === true) {
      console.log(JSON.stringify({ items }, null, 2))
      return 0
    }
    if (items.length === 0) {
      console.log('the catalog is empty')
      return 0
    }
    for (const i of items) console.log(`${i.itemId}  ${formatBytes(i.size).padStart(10)}  ${i.title}`)
    return 0
  }
}
