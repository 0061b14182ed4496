/**
 * Two regions, each with a parent and an edge, all separate processes on
 * 127.0.0.1 with a real main: every parent holds the item verified; an
 * edge fills from its own region's parent; the region DHTs never mix; a
 * stranger is refused; a parent killed mid-transfer does not stop an edge
 * from serving correct bytes.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createHost } from '../../node/net/host.ts'
import { fetchChunks } from '../../node/net/chunk-client.ts'
import type { Manifest } from '../../protocol/types.ts'
import {
  cleanup, customer, fetchItem, ingest, manifestOf, startMain, startNode, status, tempDir, waitFor, type NodeProc, type Proc
} from './node-kit.ts'

/** 32 chunks (two of an edge's fill batches): enough to kill a parent after 4 with most of the fill ahead; small enough for a loaded CI machine (64 MiB timed out there) */
const SIZE = 32 * 1024 * 1024
let dir: string
let main: { url: string, proc: Proc }
let parentA: NodeProc, edgeA: NodeProc, parentB: NodeProc, edgeB: NodeProc
let item: Buffer
let itemId: string
let manifest: Manifest

test.before(async () => {
  try { await setup() } catch (err) { console.error('setup failed:', err); throw err }
})

async function setup (): Promise<void> {
  dir = await tempDir('regions')
  main = await startMain(dir)
  ;[parentA, edgeA, parentB, edgeB] = await Promise.all([
    startNode(main.url, 'parent', 'a', join(dir, 'pa')),
    startNode(main.url, 'edge', 'a', join(dir, 'ea')),
    startNode(main.url, 'parent', 'b', join(dir, 'pb')),
    startNode(main.url, 'edge', 'b', join(dir, 'eb'))
  ])
  item = randomBytes(SIZE)
  itemId = await ingest(main.url, item, 'sixty-four')
  manifest = await manifestOf(main.url, itemId)
}

test.after(async () => {
  await cleanup(dir, [parentA?.proc, edgeA?.proc, parentB?.proc, edgeB?.proc, main?.proc])
})

test('both parents hold the item, verified, within a bounded time', async () => {
  await waitFor('both parents to hold the item', async () =>
    (await status(parentA)).heldItems.includes(itemId) && (await status(parentB)).heldItems.includes(itemId), 120_000)
  for (const [p, other] of [[parentA, parentB], [parentB, parentA]] as const) {
    const s = await status(p)
    const seen = JSON.stringify(s.fetched)
    assert.is(s.store.usedBytes, SIZE, `the parent stores the whole item: ${s.store.usedBytes} (fetched ${seen})`)
    // from the origin, as there is no other parent in its region; never from the other region's parent
    assert.is(s.fetched.bytes.origin + s.fetched.bytes.parent + s.fetched.bytes.edge, SIZE, `fetched ${seen}`)
    assert.ok(s.fetched.bytes.origin > 0, `fetched ${seen}`)
    assert.is(s.fetched.bySource[other.peerId], undefined, `nothing from the other region's parent: ${seen}`)
  }
})

test("an edge asked for the item fills from its own region's parent, and serves correct bytes", async () => {
  const c = await customer(main.url, 'a', itemId, 'alice')
  try {
    // main lists the edge once its heartbeats are in
    let d = await c.directive()
    await waitFor('a directive listing edge a', async () => {
      d = await c.directive()
      return d.directive.peers.some(p => p.peerId === edgeA.peerId)
    }, 10_000, 500)
    const got = await fetchItem(c.host, { peerId: edgeA.peerId, addrs: edgeA.addrs }, manifest, d.bytes)
    assert.ok(got.equals(item), 'bytes from edge a match the item')
    await waitFor('the fill counters to include the whole item', async () => { const st = await status(edgeA); return st.fetched.bytes.parent + st.fetched.bytes.origin >= SIZE }, 10_000)
    const s = await status(edgeA)
    const seen = JSON.stringify(s.fetched)
    // its region's parent first; a fill that stalls there on a starved machine goes on from the origin
    assert.is(s.fetched.bytes.parent + s.fetched.bytes.origin, SIZE, `every byte came from a parent or the origin: ${seen}`)
    assert.ok(s.fetched.bytes.parent >= SIZE / 2, `most of it from a parent: ${seen}`)
    assert.is(s.fetched.bySource[parentA.peerId], s.fetched.bytes.parent, `…and every parent byte from region a's parent: ${seen}`)
    assert.is(s.fetched.bySource[parentB.peerId], undefined, `nothing from region b's parent: ${seen}`)
    // the fill went over the parent's fast lane (the default), not libp2p
    assert.ok(s.transport.fastLane > 0 && s.transport.libp2p === 0 && s.transport.fallbacks === 0, `fill paths: ${JSON.stringify(s.transport)}`)
  } finally { await c.host.stop() }
})

test('the DHT of region a never contains a peer of region b, and the reverse', async () => {
  const a = new Set([parentA.peerId, edgeA.peerId])
  const b = new Set([parentB.peerId, edgeB.peerId])
  // each side learns of the other on its own schedule (identify, then a DHT query)
  try {
    await waitFor('routing tables to fill', async () =>
      (await status(edgeA)).routingTable.includes(parentA.peerId) && (await status(parentA)).routingTable.includes(edgeA.peerId), 30_000)
  } catch (err) {
    const tables: Record<string, string[]> = {}
    for (const [name, n] of Object.entries({ parentA, edgeA, parentB, edgeB })) tables[`${name} ${n.peerId.slice(-6)}`] = ((await status(n)).routingTable as string[]).map(p => p.slice(-6))
    throw new Error(`${(err as Error).message}; routing tables: ${JSON.stringify(tables)}`)
  }
  for (const n of [parentA, edgeA]) {
    const s = await status(n)
    assert.ok(s.routingTable.length > 0, 'region a has a routing table')
    for (const p of s.routingTable) assert.ok(!b.has(p), `region a node ${n.peerId} has region b peer ${p} in its DHT`)
  }
  for (const n of [parentB, edgeB]) {
    const s = await status(n)
    for (const p of s.routingTable) assert.ok(!a.has(p), `region b node ${n.peerId} has region a peer ${p} in its DHT`)
  }
})

test('a peer not in the rules and without a directive is refused on the chunk protocol', async () => {
  const stranger = await createHost({ privateKey: await generateKeyPair('Ed25519'), region: 'a', dht: false })
  try {
    for (const n of [edgeA, parentA]) {
      try {
        await fetchChunks(stranger, { peerId: n.peerId, addrs: n.addrs }, { itemId, indexes: [0] }, { signal: AbortSignal.timeout(10_000), onChunk: () => { assert.unreachable('got a chunk') } })
        assert.unreachable('should be refused')
      } catch (e) {
        assert.is((e as Error).name, 'AccessDeniedError')
      }
    }
  } finally { await stranger.stop() }
})

test('a parent killed mid-transfer: the edge falls back and still serves correct bytes', async () => {
  const c = await customer(main.url, 'b', itemId, 'bob')
  try {
    let d = await c.directive()
    await waitFor('a directive listing edge b', async () => {
      d = await c.directive()
      return d.directive.peers.some(p => p.peerId === edgeB.peerId)
    }, 10_000, 500)
    const out = Buffer.alloc(SIZE)
    let received = 0
    let killed: Promise<void> | undefined
    await fetchChunks(c.host, { peerId: edgeB.peerId, addrs: edgeB.addrs }, { itemId, indexes: Array.from({ length: manifest.chunkCount }, (_, i) => i), credential: d.bytes }, {
      signal: AbortSignal.timeout(120_000),
      onChunk: (i, bytes) => {
        out.set(bytes, i * manifest.chunkSize)
        if (++received === 4) killed = parentB.proc.kill('SIGKILL')
      }
    }).catch((err: Error) => {
      // what the edge saw is the diagnosis: its log goes with the failure
      throw new Error(`${err.message} after ${received} chunks; edge b's log:\n${edgeB.proc.output().slice(-3000)}`)
    })
    await killed
    assert.ok(out.equals(item), 'bytes from edge b match the item')
    await waitFor('the fill counters to include the whole item', async () => { const st = await status(edgeB); return st.fetched.bytes.parent + st.fetched.bytes.origin >= SIZE }, 10_000)
    const s = await status(edgeB)
    assert.ok(s.fetched.bytes.parent > 0, 'started from the parent')
    assert.ok(s.fetched.bytes.origin > 0, 'finished from the fallback (origin)')
    assert.is(s.fetched.bytes.parent + s.fetched.bytes.origin, SIZE)
  } finally { await c.host.stop() }
})

test.run()
