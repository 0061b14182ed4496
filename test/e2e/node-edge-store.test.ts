/**
 * An edge's store under pressure, with real processes: a capacity smaller
 * than the catalog (it evicts, stays under capacity and still serves every
 * item byte for byte), and a SIGKILL mid-fill (on restart the store
 * reconciles: no partial or corrupt chunk survives, and serving resumes).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fetchChunks } from '../../node/chunk-client.ts'
import type { Manifest } from '../../protocol/types.ts'
import {
  cleanup, customer, fetchItem, ingest, manifestOf, startMain, startNode, status, tempDir, waitFor, type NodeProc, type Proc
} from './node-kit.ts'

const MiB = 1024 * 1024
const ITEM_SIZE = 8 * MiB
const CAPACITY = 12 * MiB
let dir: string
let main: { url: string, proc: Proc }
let parent: NodeProc, edge: NodeProc
const items: Array<{ id: string, bytes: Buffer, manifest: Manifest }> = []

test.before(async () => {
  try {
    dir = await tempDir('edge-store')
    main = await startMain(dir)
    ;[parent, edge] = await Promise.all([
      startNode(main.url, 'parent', 'a', join(dir, 'p')),
      startNode(main.url, 'edge', 'a', join(dir, 'e'), ['--capacity', String(CAPACITY)])
    ])
    for (let i = 0; i < 3; i++) {
      const bytes = randomBytes(ITEM_SIZE)
      const id = await ingest(main.url, bytes, `item ${i}`)
      items.push({ id, bytes, manifest: await manifestOf(main.url, id) })
    }
    await waitFor('the parent to hold the catalog', async () => {
      const held = (await status(parent.dataDir)).heldItems
      return items.every(it => held.includes(it.id))
    }, 120_000)
  } catch (err) { console.error('setup failed:', err); throw err }
})

test.after(async () => { await cleanup(dir, [parent?.proc, edge?.proc, main?.proc]) })

async function directiveFor (itemId: string, name: string) {
  const c = await customer(main.url, 'a', itemId, name)
  let d = await c.directive()
  await waitFor('a directive listing the edge', async () => {
    d = await c.directive()
    return d.directive.peers.some(p => p.peerId === edge.peerId)
  }, 15_000, 500)
  return { host: c.host, credential: d.bytes }
}

test('an edge smaller than the catalog evicts, stays under capacity, and serves every item correctly', async () => {
  for (const [n, it] of items.entries()) {
    const c = await directiveFor(it.id, `cap${n}`)
    try {
      const got = await fetchItem(c.host, { peerId: edge.peerId, addrs: edge.addrs }, it.manifest, c.credential)
      assert.ok(got.equals(it.bytes), `item ${n} byte for byte`)
    } finally { await c.host.stop() }
    const s = await status(edge.dataDir)
    assert.ok(s.store.usedBytes <= CAPACITY, `used ${s.store.usedBytes} <= ${CAPACITY}`)
  }
  // the first item was evicted (at least partly) and is served again, correctly
  const c = await directiveFor(items[0]!.id, 'cap-again')
  try {
    const got = await fetchItem(c.host, { peerId: edge.peerId, addrs: edge.addrs }, items[0]!.manifest, c.credential)
    assert.ok(got.equals(items[0]!.bytes))
  } finally { await c.host.stop() }
  const s = await status(edge.dataDir)
  assert.ok(s.store.usedBytes <= CAPACITY)
  assert.ok(s.fetched.bytes.parent > 3 * ITEM_SIZE, 'evicted chunks were fetched again')
})

test('an edge killed mid-fill restarts with a reconciled store and serves again', async () => {
  // a fresh item the edge does not hold yet
  const bytes = randomBytes(ITEM_SIZE)
  const id = await ingest(main.url, bytes, 'kill me')
  const manifest = await manifestOf(main.url, id)
  await waitFor('the parent to hold the new item', async () => (await status(parent.dataDir)).heldItems.includes(id), 60_000)
  const c = await directiveFor(id, 'killer')
  let received = 0
  try {
    await fetchChunks(c.host, { peerId: edge.peerId, addrs: edge.addrs }, { itemId: id, indexes: manifest.chunkHashes.map((_, i) => i), credential: c.credential }, {
      signal: AbortSignal.timeout(60_000),
      onChunk: async () => { if (++received === 2) await edge.proc.kill('SIGKILL') }
    })
    assert.unreachable('the edge died: the fetch must fail')
  } catch (e) {
    assert.not.equal((e as Error).name, 'Assertion')
  }
  // every file under a final name in the store is a whole, correct chunk
  edge = await startNode(main.url, 'edge', 'a', edge.dataDir, ['--capacity', String(CAPACITY)])
  const chunkRoot = join(edge.dataDir, 'store', 'chunks')
  for (const sub of await readdir(chunkRoot)) {
    for (const name of await readdir(join(chunkRoot, sub))) {
      assert.ok(!name.includes('.tmp-'), `temp file ${name} survived`)
      const h = createHash('sha256').update(await readFile(join(chunkRoot, sub, name))).digest('hex')
      assert.is(h, name, 'a stored chunk matches its hash')
    }
  }
  const s = await status(edge.dataDir)
  assert.ok(s.store.usedBytes <= CAPACITY)
  // serving resumes (same PeerId, new address)
  try {
    const got = await fetchItem(c.host, { peerId: edge.peerId, addrs: edge.addrs }, manifest, c.credential)
    assert.ok(got.equals(bytes), 'the item, byte for byte, after the restart')
  } finally { await c.host.stop() }
})

test.run()
