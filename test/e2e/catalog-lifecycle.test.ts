/**
 * Catalog lifecycle with real processes (issue 15): `reelnet main`, parents and an edge, `reelnet get` customers
 * and the `reelnet` admin commands on 127.0.0.1.
 *
 * - takedown: after `reelnet admin item remove`, parent and edge stores hold none of the item's chunks within a
 *   rules poll plus the delete, a seeding customer stops serving it, a directive gets 410, the operator page's
 *   overview shows it gone;
 * - replace: a v1 download interrupted by the replace finishes as v1; the v1 holder and a new customer then get
 *   v2 byte-exact; v1's chunks leave every store (parent, edge, main's origin) once no download runs on it;
 * - windows: held before availableFrom but not rentable (the error names the date), rentable at the date, and
 *   after availableUntil not rentable while a licence sold before still downloads;
 * - regions: an item offered only in eu is not in us's catalog, not held by us's parent, and a us directive is refused;
 * - prices: `reelnet rent` and `reelnet rentals` show what the rental charged.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { mkdtempSync, rmSync } from 'node:fs'
import { Network, createCustomer, runClient, spawnReelnet, waitJson, waitFor as waitForLine, nodeStatus, NODE_READY_RE, STATUS_FLAGS, ADMIN_TOKEN, OPERATOR_TOKEN, type CustomerInfo, type NodeInfo, type Proc } from './client-net.ts'
import { verifyManifest } from '../../protocol/documents.ts'
import { fromText } from '../../protocol/signing.ts'
import { fromBase64url } from '../../protocol/encoding.ts'
import type { Manifest } from '../../protocol/types.ts'

const dir = mkdtempSync(join(tmpdir(), 'reelnet-catalog-'))
/** Short directives: a download's hold on an old version ends this long after its last renewal. */
const DIRECTIVE_TTL_MS = 6_000
const net = new Network({ dir, regions: [{ name: 'eu', parents: 1, edges: 1 }, { name: 'us', parents: 1, edges: 0 }], directiveTtlMs: DIRECTIVE_TTL_MS, heartbeatMs: 500 })
const procs: Proc[] = []
const MiB = 1024 * 1024

test.before(async () => { await net.start() })
test.after(async () => {
  for (const p of procs) p.kill('SIGKILL')
  await net.stop()
  rmSync(dir, { recursive: true, force: true })
})

async function until (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000, everyMs = 100): Promise<number> {
  const started = Date.now()
  while (Date.now() - started < timeoutMs) {
    try { if (await check()) return Date.now() - started } catch { /* not yet */ }
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

async function run (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, out: string }> {
  const p = spawnReelnet(args, { env })
  procs.push(p)
  const code = await p.exited
  return { code, out: p.output() }
}

async function runAs (c: CustomerInfo, args: string[]): Promise<{ code: number | null, out: string }> {
  const p = runClient(c, args)
  procs.push(p)
  const code = await p.exited
  return { code, out: p.output() }
}

async function ingestFile (bytes: Uint8Array, title: string, extra: string[] = []): Promise<string> {
  const file = join(dir, `in-${randomBytes(4).toString('hex')}`)
  await writeFile(file, bytes)
  const r = await run(['ingest', file, '--title', title, '--main', net.mainUrl, '--admin-token', ADMIN_TOKEN, ...extra])
  assert.is(r.code, 0, r.out)
  return /^([0-9a-f]{32})$/m.exec(r.out)![1]!
}

async function manifestOf (itemId: string, version?: number): Promise<Manifest> {
  const body = await net.api('GET', `/v1/items/${itemId}${version !== undefined ? `?version=${version}` : ''}`) as { manifest: string }
  return verifyManifest(fromText(body.manifest), { publicKey: fromBase64url(net.mainKeyText), itemId })
}

const hexOf = (h: Uint8Array): string => Buffer.from(h).toString('hex')
const chunkFile = (n: NodeInfo, h: string): string => join(n.dataDir, 'store', 'chunks', h.slice(0, 2), h)
const originFile = (h: string): string => join(dir, 'main', 'origin', h)

async function directiveStatus (c: CustomerInfo, licenseId: string, region?: string): Promise<{ status: number, body: any }> {
  const res = await fetch(`${net.mainUrl}/v1/directives`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${c.token}` },
    body: JSON.stringify({ licenseId, clientPeerId: '12D3KooWLnVQbPkxNuxRnb3u3PXYqFhbt9CTaxFHfSn3iuJ6kJpE', ...(region !== undefined ? { region } : {}) })
  })
  return { status: res.status, body: await res.json() }
}

async function licenseIdOf (c: CustomerInfo, itemId: string): Promise<string> {
  const { rentals } = await net.api('GET', '/v1/rentals', undefined, c.token) as { rentals: Array<{ licenseId: string, itemId: string }> }
  return rentals.find(r => r.itemId === itemId)!.licenseId
}

test('takedown: the item leaves the catalog, every store and the seeding customer within a rules poll; directives get 410', async () => {
  const [parent] = net.nodesOf('eu', 'parent') as [NodeInfo]
  const [edge] = net.nodesOf('eu', 'edge') as [NodeInfo]
  const bytes = new Uint8Array(randomBytes(3 * MiB + 1234))
  const itemId = await ingestFile(bytes, 'Takedown film')
  const manifest = await manifestOf(itemId)
  const seeder = await createCustomer(net, 'seeder', 'eu', { ownAccount: true })
  const get = runClient(seeder, ['get', itemId, '--rent', '--seed', '--json', '-o', join(seeder.configDir, 'film')])
  procs.push(get)
  await waitJson(get, o => o.type === 'seeding', 120_000)
  assert.ok((await readFile(join(seeder.configDir, 'film'))).equals(bytes))
  await until('the parent holds it and the edge has chunks', async () => (await nodeStatus(parent)).heldItems.includes(itemId) && manifest.chunkHashes.some(h => existsSync(chunkFile(edge, hexOf(h)))))
  const licenseId = await licenseIdOf(seeder, itemId)

  const removed = await run(['admin', 'item', 'remove', itemId, '--reason', 'legal notice 7', '--main', net.mainUrl, '--admin-token', ADMIN_TOKEN])
  assert.is(removed.code, 0, removed.out)
  assert.match(removed.out, `removed 'Takedown film' (${itemId})`)
  const started = Date.now()
  const held = (n: NodeInfo): number => manifest.chunkHashes.filter(h => existsSync(chunkFile(n, hexOf(h)))).length
  // nodes poll the rules every 500 ms: a rules poll plus the delete, with room for a loaded machine
  await until('parent and edge stores without the item', () => held(parent) === 0 && held(edge) === 0, 30_000)
  const goneMs = Date.now() - started
  console.log(`[catalog-lifecycle] takedown: parent and edge stores empty of the item ${goneMs} ms after remove (rules poll 500 ms)`)
  assert.not.ok((await nodeStatus(parent)).heldItems.includes(itemId))
  const seeded = await waitJson(get, o => o.type === 'seeded', 30_000)
  assert.match(String(seeded.ended), 'taken down')
  console.log(`[catalog-lifecycle] takedown: the seeding customer stopped ${Date.now() - started} ms after remove`)
  assert.is(await get.exited, 0)
  const d = await directiveStatus(seeder, licenseId)
  assert.equal([d.status, d.body.error.code], [410, 'item_removed'])
  assert.match(d.body.error.message, 'legal notice 7')
  const overview = await net.api('GET', '/v1/operator/overview', undefined, OPERATOR_TOKEN) as { items: Array<{ itemId: string }>, removed: Array<{ itemId: string, reason: string }> }
  assert.not.ok(overview.items.some(i => i.itemId === itemId), 'the operator page lists it no more')
  assert.equal(overview.removed.find(r => r.itemId === itemId)?.reason, 'legal notice 7')
  assert.not.ok(manifest.chunkHashes.some(h => existsSync(originFile(hexOf(h)))), "main's origin copy is gone too")
  const rentals = await runAs(seeder, ['rentals'])
  assert.match(rentals.out, 'legal notice 7')
})

test('replace: a v1 download running during the replace finishes as v1; the v1 holder and a new customer get v2 byte-exact; v1 leaves every store', async () => {
  const [parent] = net.nodesOf('eu', 'parent') as [NodeInfo]
  const [edge] = net.nodesOf('eu', 'edge') as [NodeInfo]
  const v1 = new Uint8Array(randomBytes(4 * MiB))
  const v2 = new Uint8Array(randomBytes(3 * MiB + 777))
  const itemId = await ingestFile(v1, 'Director cut')
  const m1 = await manifestOf(itemId)
  await until('the parent holds v1', async () => (await nodeStatus(parent)).heldItems.includes(itemId))
  assert.ok(m1.chunkHashes.every(h => existsSync(chunkFile(parent, hexOf(h))) && existsSync(originFile(hexOf(h)))), 'v1 is in the parent and the origin before the replace')
  const holder = await createCustomer(net, 'holder', 'eu', { ownAccount: true })
  const first = await runAs(holder, ['get', itemId, '--rent', '--quiet', '-o', join(holder.configDir, 'cut')])
  assert.is(first.code, 0, first.out)
  assert.ok((await readFile(join(holder.configDir, 'cut'))).equals(v1))

  // a slow download of v1 (~4 s at 1 MiB/s), interrupted by the replace
  const slow = await createCustomer(net, 'slow', 'eu', { ownAccount: true })
  const slowGet = runClient(slow, ['get', itemId, '--rent', '--json', '--max-download', '1MiB', '-o', join(slow.configDir, 'cut')])
  procs.push(slowGet)
  await waitJson(slowGet, o => o.type === 'start')
  const v2File = join(dir, 'cut-v2')
  await writeFile(v2File, v2)
  const rep = await run(['ingest', v2File, '--replace', itemId, '--main', net.mainUrl, '--admin-token', ADMIN_TOKEN])
  assert.is(rep.code, 0, rep.out)
  assert.match(rep.out, 'as version 2')
  assert.is(await slowGet.exited, 0, slowGet.output())
  const slowEnded = Date.now()
  assert.ok((await readFile(join(slow.configDir, 'cut'))).equals(v1), 'the download begun on v1 finished as v1, whole')
  assert.not.ok(existsSync(join(slow.configDir, 'cut.part')))

  const m2 = await manifestOf(itemId)
  assert.is(m2.version, 2)
  const again = await runAs(holder, ['get', itemId, '--quiet', '-o', join(holder.configDir, 'cut')])
  assert.is(again.code, 0, again.out)
  assert.ok((await readFile(join(holder.configDir, 'cut'))).equals(v2), 'the v1 holder now has v2, byte-exact')
  const fresh = await createCustomer(net, 'fresh', 'eu', { ownAccount: true })
  const got = await runAs(fresh, ['get', itemId, '--rent', '--quiet', '-o', join(fresh.configDir, 'cut')])
  assert.is(got.code, 0, got.out)
  assert.ok((await readFile(join(fresh.configDir, 'cut'))).equals(v2), 'a new customer gets v2, byte-exact')

  // once no directive runs on v1 (DIRECTIVE_TTL_MS after the slow download's last), v1 leaves the rules and every store
  const onlyV1 = m1.chunkHashes.map(hexOf).filter(h => !m2.chunkHashes.some(x => hexOf(x) === h))
  const started = Date.now()
  await until('v1 chunks gone from parent, edge and origin', () => onlyV1.every(h => !existsSync(chunkFile(parent, h)) && !existsSync(chunkFile(edge, h)) && !existsSync(originFile(h))), 60_000)
  console.log(`[catalog-lifecycle] replace: v1's ${onlyV1.length} chunks gone from parent, edge and origin ${Date.now() - slowEnded} ms after the last v1 download ended (waited ${Date.now() - started} ms after the v2 downloads; directive TTL ${DIRECTIVE_TTL_MS} ms)`)
  assert.ok(m2.chunkHashes.every(h => existsSync(chunkFile(parent, hexOf(h)))), 'the parent keeps v2')
  const gone = await fetch(`${net.mainUrl}/v1/items/${itemId}?version=1`)
  assert.is(gone.status, 410)
})

test('windows: held before availableFrom but not rentable (naming the date); rentable at the date; after availableUntil a licence sold before still downloads', async () => {
  const [parent] = net.nodesOf('eu', 'parent') as [NodeInfo]
  const bytes = new Uint8Array(randomBytes(MiB + 99))
  const from = Date.now() + 8_000
  const to = from + 8_000
  const fromIso = new Date(from).toISOString()
  const itemId = await ingestFile(bytes, 'Release day', ['--available-from', fromIso, '--available-until', new Date(to).toISOString(), '--price', '399', '--currency', 'EUR'])
  await until('the parent holds it before release', async () => (await nodeStatus(parent)).heldItems.includes(itemId), 30_000)
  assert.ok(Date.now() < from, 'held before its window (the machine was too slow to check this if it fails)')
  const c = await createCustomer(net, 'early', 'eu', { ownAccount: true })
  const early = await runAs(c, ['rent', itemId])
  assert.is(early.code, 1)
  assert.match(early.out, `can be rented from ${fromIso}`)
  const cat = await runAs(c, ['catalog'])
  assert.not.match(cat.out, itemId)
  // wait for the date (an event: the first successful rent), no fixed sleep
  let rented = { code: null as number | null, out: '' }
  await until('the release date', async () => { rented = await runAs(c, ['rent', itemId]); return rented.code === 0 }, 30_000, 300)
  assert.ok(Date.now() >= from - 1000)
  assert.match(rented.out, 'for 3.99 EUR')
  await until('the end of the window', async () => { const r = await runAs(c, ['rent', itemId]); return r.code === 1 && r.out.includes('could be rented until') }, 30_000, 300)
  const late = await runAs(c, ['get', itemId, '--quiet', '-o', join(c.configDir, 'release')])
  assert.is(late.code, 0, late.out)
  assert.ok((await readFile(join(c.configDir, 'release'))).equals(bytes), 'the licence sold in the window still plays')
})

test('regions: an item offered only in eu is not in us\'s catalog, not held by us\'s parent, and a directive for us is refused; rentals show the price', async () => {
  const [euParent] = net.nodesOf('eu', 'parent') as [NodeInfo]
  const [usParent] = net.nodesOf('us', 'parent') as [NodeInfo]
  const itemId = await ingestFile(new Uint8Array(randomBytes(MiB)), 'Eu only', ['--regions', 'eu', '--price', '250', '--currency', 'GBP', '--rental-hours', '24'])
  await until('the eu parent holds it', async () => (await nodeStatus(euParent)).heldItems.includes(itemId))
  // the us parent polls the same rules; give it a few polls to be sure it would have fetched it
  const rulesVersion = (await nodeStatus(euParent)).rulesVersion
  await until('the us parent at the same rules version', async () => (await nodeStatus(usParent)).rulesVersion >= rulesVersion)
  await new Promise(resolve => setTimeout(resolve, 200))
  assert.not.ok((await nodeStatus(usParent)).heldItems.includes(itemId))
  const m = await manifestOf(itemId)
  assert.not.ok(m.chunkHashes.some(h => existsSync(chunkFile(usParent, hexOf(h)))), "no chunk of it in the us parent's store")
  const us = await createCustomer(net, 'usa', 'us', { ownAccount: true })
  const usCat = await runAs(us, ['catalog'])
  assert.not.match(usCat.out, itemId)
  const usRent = await runAs(us, ['rent', itemId])
  assert.is(usRent.code, 1)
  assert.match(usRent.out, 'not offered in region us')
  const eu = await createCustomer(net, 'euro', 'eu', { ownAccount: true })
  const euCat = await runAs(eu, ['catalog'])
  assert.match(euCat.out, itemId)
  assert.match(euCat.out, '2.50 GBP')
  const r = await runAs(eu, ['rent', itemId])
  assert.is(r.code, 0, r.out)
  assert.match(r.out, 'for 2.50 GBP')
  const d = await directiveStatus(eu, await licenseIdOf(eu, itemId), 'us')
  assert.equal([d.status, d.body.error.code], [403, 'not_offered_in_region'])
  const rentals = await runAs(eu, ['rentals', '--json'])
  const list = JSON.parse(rentals.out.slice(rentals.out.indexOf('{'))) as { rentals: Array<{ itemId: string, price: unknown }> }
  assert.equal(list.rentals.find(x => x.itemId === itemId)?.price, { amount: 250, currency: 'GBP' })
  const text = await runAs(eu, ['rentals'])
  assert.match(text.out, '2.50 GBP')
})

test('parents under pressure: a parent short of space holds the higher priority item and reports the other as lacking (heartbeat, operator overview)', async () => {
  const low = await ingestFile(new Uint8Array(randomBytes(2 * MiB)), 'Low priority', ['--regions', 'tight', '--priority', '1'])
  const high = await ingestFile(new Uint8Array(randomBytes(2 * MiB)), 'High priority', ['--regions', 'tight', '--priority', '5'])
  const proc = spawnReelnet(['node', '--role', 'parent', '--region', 'tight', '--main', net.mainUrl, '--data', join(dir, 'tight-parent'), '--operator-token', OPERATOR_TOKEN,
    `--main-key=${net.mainKeyText}`, '--heartbeat-ms', '500', '--rules-poll-ms', '500', '--capacity', '3MiB', ...STATUS_FLAGS], { name: 'tight' })
  procs.push(proc)
  const m = await waitForLine(proc, NODE_READY_RE)
  const tight = { statusUrl: `${m[5]!}/status` }
  const peerId = m[3]!
  await until('the high priority item held, the low one lacking', async () => {
    const st = await nodeStatus(tight) as { heldItems: string[], lacking: string[] }
    return st.heldItems.includes(high) && st.lacking.includes(low)
  }, 60_000)
  const st = await nodeStatus(tight) as { heldItems: string[], lacking: string[] }
  assert.not.ok(st.heldItems.includes(low))
  assert.not.ok(st.lacking.includes(high))
  assert.match(proc.output(), `no space for ${low}`)
  await until('the operator overview names the parent lacking the low item', async () => {
    const o = await net.api('GET', '/v1/operator/overview', undefined, OPERATOR_TOKEN) as { items: Array<{ itemId: string, parentsLacking: string[], priority: number }> }
    const items = o.items.filter(i => i.itemId === low || i.itemId === high)
    return items[0]?.itemId === high && items.find(i => i.itemId === low)?.parentsLacking.includes(peerId) === true
  }, 30_000)
  const admin = await run(['admin', 'items', '--main', net.mainUrl, '--operator-token', OPERATOR_TOKEN])
  assert.match(admin.out, /High priority\s+1\s+5/)
})

test.run()
