import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { sha256 } from '../../protocol/chunking.ts'
import type { Manifest, NodeEntry } from '../../protocol/types.ts'
import { ChunkStore } from './store/chunk-store.ts'
import { Filler, ORIGIN_CONCURRENCY, PROVIDER_CACHE_MS, type FillerOptions } from './fill.ts'
import { FakeClock } from '../download/clock.ts'
import type { ChunkTransport } from '../net/fast-lane/transport.ts'
import type { MainClient } from '../control/main-client.ts'
import type { ReelnetHost } from '../net/host.ts'
import { PeerProtocolError } from '../net/errors.ts'

const CHUNK = 16 * 1024
const COUNT = 16
const data = randomBytes(CHUNK * COUNT)
const chunkOf = (i: number): Buffer => data.subarray(i * CHUNK, (i + 1) * CHUNK)
const manifest: Manifest = {
  itemId: 'item', title: 't', size: data.length, chunkSize: CHUNK, chunkCount: COUNT,
  chunkHashes: Array.from({ length: COUNT }, (_, i) => sha256(chunkOf(i))), merkleRoot: new Uint8Array(32), version: 1
}
const parent = (id: string): NodeEntry => ({ peerId: id, role: 'parent', addrs: [], capacityBytes: 0 })

/** A transport whose peers answer from `data` in memory, except those told to fail after some chunks. */
function fakeTransport (behaviour: Record<string, { failAfter?: number, corrupt?: boolean }>): ChunkTransport & { asked: Record<string, number[]> } {
  const asked: Record<string, number[]> = {}
  return {
    asked,
    stats: { fastLane: 0, libp2p: 0, fallbacks: 0 },
    close: () => {},
    async fetch (peer, req, o) {
      const b = behaviour[peer.peerId] ?? {}
      asked[peer.peerId] = [...(asked[peer.peerId] ?? []), ...req.indexes]
      let n = 0
      for (const i of req.indexes) {
        if (b.failAfter !== undefined && n++ >= b.failAfter) throw new PeerProtocolError('connection reset')
        await new Promise(resolve => setImmediate(resolve))
        const bytes = Buffer.from(chunkOf(i))
        if (b.corrupt === true) bytes[0] = bytes[0]! ^ 1
        await o.onChunk(i, bytes)
      }
    }
  }
}

/**
 * Wait for `cond`, turn by turn, up to 10 s. A count of turns is no bound here: what the conditions wait on goes
 * through the filler's level store (writes on the libuv thread pool), which a loaded machine answers after any
 * number of turns (a 16 KiB put and get: median 9 turns quiet, 624 beside busy loops, p99 over 10,000).
 */
async function until (what: string, cond: () => boolean, each: () => void = () => {}): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    each()
    await new Promise(resolve => setImmediate(resolve))
  }
}

async function filler (parents: string[], transport: ChunkTransport, origin: number[] = [], limits?: FillerOptions['limits']): Promise<{ f: Filler, store: ChunkStore, dir: string, failed: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'reelnet-fill-'))
  const store = await ChunkStore.open(dir, { capacityBytes: 1 << 26, policy: null })
  const failed: string[] = []
  const main = { getOriginChunk: async (_id: string, i: number) => { origin.push(i); return Buffer.from(chunkOf(i)) } } as unknown as MainClient
  const f = new Filler({
    host: {} as ReelnetHost, store, main, selfPeerId: 'me', role: 'edge', transport,
    regionMembers: () => ({ parents: parents.map(parent), edges: [] }),
    signal: new AbortController().signal,
    onSourceFailed: (_k, id) => { failed.push(id) },
    limits
  })
  return { f, store, dir, failed }
}

test('a miss is filled from both parents at once, each a share of the batch', async () => {
  const t = fakeTransport({})
  const { f, store, dir } = await filler(['p1', 'p2'], t)
  try {
    const got = await f.get(manifest, 0, AbortSignal.timeout(5000))
    assert.ok(Buffer.from(got).equals(chunkOf(0)))
    for (let i = 0; i < COUNT; i++) assert.ok(Buffer.from(await f.get(manifest, i, AbortSignal.timeout(5000))).equals(chunkOf(i)))
    assert.ok((t.asked.p1?.length ?? 0) > 0 && (t.asked.p2?.length ?? 0) > 0, JSON.stringify(t.asked))
    assert.is((t.asked.p1?.length ?? 0) + (t.asked.p2?.length ?? 0), COUNT, 'no chunk asked twice')
    assert.ok(f.stats.bySource.p1! > 0 && f.stats.bySource.p2! > 0)
    assert.is(f.stats.bytes.origin, 0)
  } finally { await store.close(); await rm(dir, { recursive: true, force: true }) }
})

test('a parent that fails mid-batch hands its chunks to the other; main is not asked', async () => {
  const t = fakeTransport({ p1: { failAfter: 1 } })
  const origin: number[] = []
  const { f, store, dir, failed } = await filler(['p1', 'p2'], t, origin)
  try {
    for (let i = 0; i < COUNT; i++) assert.ok(Buffer.from(await f.get(manifest, i, AbortSignal.timeout(5000))).equals(chunkOf(i)))
    assert.ok(failed.includes('p1'))
    assert.equal(origin, [])
    assert.is(f.stats.bySource.p1, CHUNK, 'one chunk from p1 before it failed')
    assert.is(f.stats.bySource.p2, (COUNT - 1) * CHUNK)
  } finally { await store.close(); await rm(dir, { recursive: true, force: true }) }
})

test('a parent sending bad chunks is dropped; when every region source fails, main\'s origin gives the rest', async () => {
  const t = fakeTransport({ p1: { corrupt: true }, p2: { failAfter: 0 } })
  const origin: number[] = []
  const { f, store, dir, failed } = await filler(['p1', 'p2'], t, origin)
  try {
    for (let i = 0; i < COUNT; i++) assert.ok(Buffer.from(await f.get(manifest, i, AbortSignal.timeout(5000))).equals(chunkOf(i)))
    assert.ok(failed.includes('p1') && failed.includes('p2'))
    assert.is(f.stats.bySource.p1, undefined, 'no bad byte was kept')
    assert.is(origin.length, COUNT)
    assert.is(store.corruptOnRead, 0)
  } finally { await store.close(); await rm(dir, { recursive: true, force: true }) }
})

test('a customer waiting on a miss is filled first: its chunk jumps the queued catalog copy', async () => {
  // one parent that sends a chunk only when released, one chunk per request: the order it is asked in is the fill's queue
  const asked: number[] = []
  const delivered: number[] = []
  const gates: Array<() => void> = []
  const t: ChunkTransport = {
    stats: { fastLane: 0, libp2p: 0, fallbacks: 0 },
    close: () => {},
    async fetch (_peer, req, o) {
      asked.push(...req.indexes)
      for (const i of req.indexes) {
        await new Promise<void>(resolve => { gates.push(resolve) })
        delivered.push(i)
        await o.onChunk(i, Buffer.from(chunkOf(i)))
      }
    }
  }
  const origin: number[] = []
  const { f, store, dir } = await filler(['p1'], t, origin, { initialWindow: 1, minWindow: 1, maxWindow: 1, maxBatch: 1 })
  try {
    // a parent's catalog copy (or an edge's preposition): every chunk, at background priority
    const copy = Promise.all(Array.from({ length: COUNT }, async (_, i) => await f.get(manifest, i, AbortSignal.timeout(10_000), 'background')))
    await until('the first request', () => asked.length > 0)
    gates.shift()?.()
    await until('the second request', () => asked.length >= 2)
    assert.equal(asked, [0, 1], 'the copy runs in order')
    // a customer now asks the edge for chunk 12
    let customerDone = false
    const customer = f.get(manifest, 12, AbortSignal.timeout(10_000)).then(b => { customerDone = true; return b })
    await until('the customer\'s request', () => asked.length >= 3)
    assert.is(asked[2], 12, `the waiting customer's chunk is asked next: ${JSON.stringify(asked)}`)
    await until('the customer\'s chunk', () => customerDone, () => { gates.shift()?.() })
    assert.ok(Buffer.from(await customer).equals(chunkOf(12)))
    assert.ok(delivered.indexOf(12) <= 2, `the customer waited only for the copy's chunks already in flight: ${JSON.stringify(delivered)}`)
    await until('the copy to finish', () => f.missing(manifest).length === 0, () => { gates.shift()?.() })
    const all = await copy
    all.forEach((b, i) => { assert.ok(Buffer.from(b).equals(chunkOf(i)), `chunk ${i}`) })
    assert.is(asked.filter(i => i === 12).length, 1, 'chunk 12 was fetched once for both')
    assert.equal(origin, [])
  } finally { await store.close(); await rm(dir, { recursive: true, force: true }) }
})

test('a fill that keeps running looks its sources up again: a parent new in the rules joins in (fake clock)', async () => {
  const clock = new FakeClock()
  const asked: Record<string, number[]> = {}
  const gates: Array<() => void> = []
  const t: ChunkTransport = {
    stats: { fastLane: 0, libp2p: 0, fallbacks: 0 },
    close: () => {},
    async fetch (peer, req, o) {
      asked[peer.peerId] = [...(asked[peer.peerId] ?? []), ...req.indexes]
      for (const i of req.indexes) {
        if (peer.peerId === 'p1') await new Promise<void>(resolve => { gates.push(resolve) })
        await o.onChunk(i, Buffer.from(chunkOf(i)))
      }
    }
  }
  const parents = ['p1']
  const dir = await mkdtemp(join(tmpdir(), 'reelnet-fill-'))
  const store = await ChunkStore.open(dir, { capacityBytes: 1 << 26, policy: null })
  const main = { getOriginChunk: async () => { throw new Error('main is not asked here') } } as unknown as MainClient
  const f = new Filler({
    host: {} as ReelnetHost, store, main, selfPeerId: 'me', role: 'edge', transport: t, clock,
    regionMembers: () => ({ parents: parents.map(parent), edges: [] }),
    signal: new AbortController().signal,
    limits: { initialWindow: 1, minWindow: 1, maxWindow: 1, maxBatch: 1 }
  })
  const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }
  try {
    const first = f.get(manifest, 0, AbortSignal.timeout(10_000))
    await until('the request to p1', () => asked.p1 !== undefined)
    assert.equal(asked.p1, [0])
    parents.push('p2')
    await clock.advance(PROVIDER_CACHE_MS + 1)
    assert.is(asked.p2, undefined, 'not looked up again before a new miss')
    const later = f.get(manifest, 8, AbortSignal.timeout(10_000))
    await until('the request to p2', () => asked.p2 !== undefined)
    assert.ok((asked.p2?.length ?? 0) > 0, 'the new parent was asked')
    const deadline = Date.now() + 10_000
    while (gates.length > 0 || f.missing(manifest).length > 0) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the fill to finish')
      gates.shift()?.(); await tick(); await clock.advance(1)
    }
    assert.ok(Buffer.from(await first).equals(chunkOf(0)))
    assert.ok(Buffer.from(await later).equals(chunkOf(8)))
  } finally { await store.close(); await rm(dir, { recursive: true, force: true }) }
})

test('a parent\'s catalog copy comes from main\'s origin through the same engine, at most ORIGIN_CONCURRENCY requests at once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'reelnet-fill-'))
  const store = await ChunkStore.open(dir, { capacityBytes: 1 << 26, policy: null })
  let open = 0
  let most = 0
  const asked: number[] = []
  const main = {
    getOriginChunk: async (_id: string, i: number) => {
      open++
      most = Math.max(most, open)
      asked.push(i)
      await new Promise(resolve => setTimeout(resolve, 2))
      open--
      return Buffer.from(chunkOf(i))
    }
  } as unknown as MainClient
  const f = new Filler({
    host: {} as ReelnetHost, store, main, selfPeerId: 'me', role: 'parent', transport: fakeTransport({}),
    regionMembers: () => ({ parents: [parent('other-parent')], edges: [] }),
    signal: new AbortController().signal
  })
  try {
    // run.ts copyItems: PARENT_COPY_WORKERS workers, each asking for the next missing chunk at background priority
    let next = 0
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < COUNT) { const i = next++; await f.get(manifest, i, AbortSignal.timeout(10_000), 'background') }
    }))
    assert.ok(f.isComplete(manifest))
    assert.is(f.stats.bytes.origin, data.length, 'a parent copies from main only, never from another parent')
    assert.is(asked.length, COUNT, 'each chunk asked of main once')
    assert.ok(most <= ORIGIN_CONCURRENCY, `at most ${ORIGIN_CONCURRENCY} origin requests at once (saw ${most})`)
  } finally { await store.close(); await rm(dir, { recursive: true, force: true }) }
})

test.run()
