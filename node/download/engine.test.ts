import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import { Scheduler } from './engine.ts'
import type { DownloadSource, SourceKind } from './source.ts'
import type { SchedulerEvent } from './stats.ts'
import { FakeClock } from './clock.ts'

const CHUNK = 1024
const COUNT = 48
const data = randomBytes(CHUNK * COUNT - 100) // last chunk short
const chunkLength = (i: number): number => Math.min(CHUNK, data.length - i * CHUNK)
const hashes = Array.from({ length: COUNT }, (_, i) => createHash('sha256').update(data.subarray(i * CHUNK, i * CHUNK + chunkLength(i))).digest())
const verify = (i: number, b: Uint8Array): boolean => createHash('sha256').update(b).digest().equals(hashes[i] as Buffer)

interface FakeOpts { delayMs?: number, corrupt?: boolean, dieAfter?: number, stall?: boolean, lacks?: (i: number) => boolean, paceBy?: { served: () => number, ratio: number } }

function sleep (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) { reject(signal.reason); return }
    // 0: the next turn of the event loop, for sources beside a fake clock (no real time passes)
    if (ms === 0) { setImmediate(resolve); return }
    const t = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason) }, { once: true })
  })
}

function fake (id: string, kind: SourceKind, o: FakeOpts = {}): DownloadSource & { asked: number[], served: () => number } {
  let served = 0
  const asked: number[] = []
  return {
    id,
    kind,
    asked,
    served: () => served,
    async fetch (indexes, { signal, onChunk }) {
      asked.push(...indexes)
      for (const i of indexes) {
        if (o.stall === true) await sleep(1e9, signal)
        await sleep(o.delayMs ?? 1, signal)
        // paced by another source's progress, not by timers a loaded machine coarsens: this one's n-th chunk only
        // once the other has served ratio * n
        while (o.paceBy !== undefined && o.paceBy.served() < o.paceBy.ratio * (served + 1)) await sleep(1, signal)
        if (o.dieAfter !== undefined && served >= o.dieAfter) throw new Error('connection reset')
        if (o.lacks?.(i) === true) continue
        const bytes = Uint8Array.from(data.subarray(i * CHUNK, i * CHUNK + chunkLength(i)))
        if (o.corrupt === true) bytes[0] = (bytes[0] ?? 0) ^ 0xff
        served++
        onChunk(i, bytes)
      }
    }
  }
}

function harness (extra: Partial<ConstructorParameters<typeof Scheduler>[0]> = {}) {
  const out = Buffer.alloc(data.length)
  const stored: number[] = []
  const events: SchedulerEvent[] = []
  const sched = new Scheduler({
    chunkCount: COUNT,
    chunkLength,
    verify,
    store: async (i, b) => { Buffer.from(b).copy(out, i * CHUNK); stored.push(i) },
    onEvent: e => events.push(e),
    limits: { stallMs: 2000, firstChunkMs: 2000, tickMs: 20, backoffMs: 20, refillRetryMs: 20 },
    ...extra
  })
  return { sched, out, stored, events }
}

test('a download from several sources is byte-exact and uses them all', async () => {
  const { sched, out } = harness()
  const a = fake('edge-a', 'edge', { delayMs: 1 })
  const b = fake('edge-b', 'edge', { delayMs: 3 })
  // a third of edge-a's pace whatever the machine: 1 ms and 6 ms timers are one pace on an event loop slowed to 10 ms a turn
  const c = fake('parent', 'parent', { delayMs: 6, paceBy: { served: a.served, ratio: 3 } })
  sched.addSources([a, b, c])
  const stats = await sched.run()
  assert.ok(out.equals(data))
  assert.equal(stats.doneBytes, data.length)
  const used = stats.sources.filter(s => s.bytes > 0).length
  assert.ok(used >= 2, `sources used: ${used}`)
  const fast = stats.sources.find(s => s.id === 'edge-a')?.bytes ?? 0
  const slow = stats.sources.find(s => s.id === 'parent')?.bytes ?? 0
  assert.ok(fast > slow, `fast ${fast} > slow ${slow}`)
  assert.equal(stats.byKind.edge + stats.byKind.parent, data.length)
})

test('a source that dies mid-download does not stop the download', async () => {
  const { sched, out, events } = harness()
  sched.addSources([fake('dies', 'edge', { dieAfter: 5 }), fake('ok', 'edge', { delayMs: 2 })])
  await sched.run()
  assert.ok(out.equals(data))
  assert.ok(events.some(e => e.type === 'failure' && e.source === 'dies'))
})

test('bad chunks are never stored; the sender is penalised and dropped', async () => {
  const { sched, out, events } = harness()
  const stored = new Set<number>()
  const h = harness({ store: async (i, b) => { assert.ok(verify(i, b), `stored chunk ${i} verifies`); stored.add(i); Buffer.from(b).copy(out, i * CHUNK) } })
  h.sched.addSources([fake('liar', 'peer', { delayMs: 1, corrupt: true }), fake('honest', 'edge', { delayMs: 2 })])
  const stats = await h.sched.run()
  assert.ok(out.equals(data))
  const liar = stats.sources.find(s => s.id === 'liar')
  assert.equal(liar?.dropped, 'bad-chunks')
  assert.equal(liar?.bytes, 0)
  assert.ok(h.events.some(e => e.type === 'bad-chunk' && e.source === 'liar'))
  assert.ok(h.events.some(e => e.type === 'drop' && e.source === 'liar'))
  void sched; void events
})

/** Run the download while moving `clock` forward `stepMs` at a time (at most `maxSteps`); resolves with its stats. */
async function runOn (clock: FakeClock, sched: Scheduler, stepMs: number, maxSteps = 100_000): Promise<Awaited<ReturnType<Scheduler['run']>>> {
  let finished = false
  const run = sched.run()
  void run.then(() => {}, () => {}).finally(() => { finished = true })
  for (let k = 0; k < maxSteps && !finished; k++) await clock.advance(stepMs)
  if (!finished) throw new Error(`not finished after ${maxSteps} steps of ${stepMs} ms on the fake clock`)
  return await run
}

test('a stalled source is abandoned at its first-chunk deadline, not before, and replaced (fake clock)', async () => {
  const clock = new FakeClock()
  const failedAt: number[] = []
  const limits = { stallMs: 3000, firstChunkMs: 3000, tickMs: 20, backoffMs: 20, refillRetryMs: 20 }
  const { sched, out, events } = harness({
    clock,
    moreSources: async () => [fake('ok', 'parent', { delayMs: 0 })],
    limits,
    onEvent: e => { if (e.type === 'failure') failedAt.push(clock.now()) }
  })
  sched.addSources([fake('stuck', 'edge', { stall: true })])
  const stats = await runOn(clock, sched, 20)
  assert.ok(out.equals(data))
  assert.equal(stats.sources.find(s => s.id === 'stuck')?.bytes, 0)
  assert.ok(failedAt.length > 0, `stuck failed: ${JSON.stringify(events.slice(0, 5))}`)
  // on the engine's own clock: at the deadline (within a tick), never before it
  assert.ok(failedAt[0]! >= limits.firstChunkMs && failedAt[0]! <= limits.firstChunkMs + 2 * limits.tickMs, `abandoned at ${failedAt[0]} ms`)
})

/**
 * One source whose every chunk takes `chunkMs`, reporting `bytesPerTick` raw bytes every 10 ms meanwhile.
 * With `advance`, the 10 ms are the scheduler's clock, moved only by this source: a test process stalled by a
 * loaded machine then cannot make a steady transfer look stalled.
 */
function dribbler (id: string, chunkMs: number, bytesPerTick: number, advance?: (ms: number) => Promise<void>): DownloadSource {
  return {
    id,
    kind: 'edge',
    async fetch (indexes, { signal, onChunk, onBytes }) {
      for (const i of indexes) {
        for (let t = 0; t < chunkMs; t += 10) {
          if (advance === undefined) await sleep(10, signal)
          else { await advance(10); signal.throwIfAborted() }
          onBytes?.(bytesPerTick)
        }
        onChunk(i, Uint8Array.from(data.subarray(i * CHUNK, i * CHUNK + chunkLength(i))))
      }
    }
  }
}

test('a late request whose bytes still arrive above the floor rate is kept; one trickling below it is cut', async () => {
  // Every chunk takes 3x the stall limit, at 100 kB/s on the scheduler's (fake) clock: above the 16 KiB/s floor, never abandoned.
  const clock = new FakeClock()
  const slow = harness({ clock, limits: { stallMs: 60, firstChunkMs: 60, minProgressRate: 16 * 1024, maxWindow: 2, tickMs: 5 } })
  slow.sched.addSources([dribbler('busy-edge', 180, 1000, async ms => { await clock.advance(ms) })])
  const stats = await slow.sched.run()
  assert.ok(slow.out.equals(data))
  assert.equal(slow.events.filter(e => e.type === 'failure'), [], 'no request was abandoned')
  assert.equal(stats.sources[0]?.bytes, data.length)
  // a byte every 10 ms (100 B/s, a trickler; fake clock): abandoned at the deadline, the chunks go elsewhere
  const clock2 = new FakeClock()
  const cutAt: number[] = []
  const cut = harness({ clock: clock2, moreSources: async () => [fake('ok', 'parent', { delayMs: 0 })], limits: { stallMs: 60, firstChunkMs: 60, minProgressRate: 16 * 1024, tickMs: 10, backoffMs: 20 }, onEvent: e => { cut.events.push(e); if (e.type === 'failure') cutAt.push(clock2.now()) } })
  cut.sched.addSources([dribbler('trickler', 10_000, 1, async ms => { await clock2.advance(ms) })])
  await runOn(clock2, cut.sched, 10, 2000)
  assert.ok(cut.out.equals(data))
  assert.ok(cut.events.some(e => e.type === 'failure' && e.source === 'trickler'), 'the trickler was cut')
  assert.ok(cutAt[0]! >= 60 && cutAt[0]! <= 60 + 40, `cut at ${cutAt[0]} ms on the engine's clock (deadline 60)`)
})

test('endgame: a straggler on a slow source is duplicated to a fast one', async () => {
  // the slow source answers after a minute (its deadlines are later still): a download that waited for it would
  // count its bytes. No bound on the run's own time, which a loaded machine stretches.
  const { sched, out } = harness({ limits: { stallMs: 120_000, firstChunkMs: 120_000, tickMs: 20 } })
  const slow = fake('slow', 'parent', { delayMs: 60_000 })
  sched.addSources([slow, fake('fast', 'edge', { delayMs: 1 })])
  const stats = await sched.run()
  assert.ok(out.equals(data))
  assert.ok(slow.asked.length > 0, 'the slow source was given chunks')
  assert.equal(stats.sources.find(s => s.id === 'fast')?.bytes, data.length, 'the fast source sent every chunk, the slow one\'s too')
  assert.is(stats.sources.find(s => s.id === 'slow')?.bytes, 0, 'did not wait for the slow source')
})

test('resumed chunks are never fetched again', async () => {
  const done = Array.from({ length: 30 }, (_, i) => i)
  const out = Buffer.alloc(data.length)
  data.copy(out, 0, 0, 30 * CHUNK)
  const src = fake('e', 'edge')
  const sched = new Scheduler({ chunkCount: COUNT, chunkLength, verify, done, store: async (i, b) => { Buffer.from(b).copy(out, i * CHUNK) } })
  sched.addSources([src])
  const stats = await sched.run()
  assert.ok(out.equals(data))
  assert.equal(stats.resumedChunks, 30)
  assert.ok(src.asked.every(i => i >= 30), `asked only missing: ${src.asked.join(',')}`)
  assert.equal(src.asked.length, COUNT - 30)
})

test('with no usable source left it asks for more (a new directive), and gives up when none come', async () => {
  let asks = 0
  const { sched, out, events } = harness({
    moreSources: async () => { asks++; return asks === 1 ? [fake('fresh', 'edge')] : [] }
  })
  sched.addSources([fake('liar', 'edge', { corrupt: true })])
  await sched.run()
  assert.ok(out.equals(data))
  assert.ok(events.some(e => e.type === 'refill' && e.added === 1))

  const h = harness({ moreSources: async () => [], limits: { maxEmptyRefills: 3, refillRetryMs: 10, tickMs: 10 } })
  h.sched.addSources([fake('dead', 'edge', { dieAfter: 0 })])
  try {
    await h.sched.run()
    assert.unreachable('should fail')
  } catch (err) {
    assert.equal((err as Error).name, 'NoSourcesError')
  }
})

test('a new directive that names no source in the region ends the download at once with its reason', async () => {
  let asks = 0
  const { RegionUnservedError } = await import('./errors.ts')
  const h = harness({
    moreSources: async () => { asks++; throw new RegionUnservedError("no source in region eu: every node of region 'eu' is down or drained (1 parent down; last heartbeat 20 s ago)") },
    limits: { maxEmptyRefills: 20, refillRetryMs: 10, tickMs: 10 }
  })
  h.sched.addSources([fake('dead', 'edge', { dieAfter: 0 })])
  try {
    await h.sched.run()
    assert.unreachable('should fail')
  } catch (err) {
    assert.is((err as Error).name, 'RegionUnservedError')
    assert.match((err as Error).message, /^no source in region eu: every node/)
  }
  assert.is(asks, 1, 'asked main once, not maxEmptyRefills times')
})

test('a source that lacks chunks is not asked for them again at once', async () => {
  const { sched, out } = harness()
  const partial = fake('half', 'peer', { lacks: i => i % 2 === 1 })
  sched.addSources([partial, fake('full', 'parent', { delayMs: 4 })])
  await sched.run()
  assert.ok(out.equals(data))
  const odd = partial.asked.filter(i => i % 2 === 1)
  assert.equal(new Set(odd).size, odd.length, `an odd chunk was asked of 'half' twice: ${odd.join(',')}`)
})

test('prioritize: a seek to the end is served before the middle', async () => {
  const { sched, stored } = harness({ limits: { maxWindow: 4 } })
  sched.addSources([fake('one', 'edge', { delayMs: 5 })])
  const run = sched.run()
  // the seek comes once the download is under way, not after a fixed time (a busy machine may not have begun)
  await until('the first chunks', () => stored.length >= 2)
  sched.prioritize(COUNT - 1, COUNT - 1)
  await sched.waitFor(COUNT - 1)
  assert.ok(stored.length < COUNT / 2, `last chunk came after ${stored.length} chunks`)
  await run
})

test('a seek is asked for at once, even when every window is full', async () => {
  const ac = new AbortController()
  const { sched, stored } = harness({ signal: ac.signal, limits: { initialWindow: 2, minWindow: 2, maxWindow: 2, maxBatch: 2, stallMs: 60_000, firstChunkMs: 60_000, tickMs: 20 } })
  const slow = fake('slow', 'edge', { delayMs: 400 })
  sched.addSources([slow])
  const run = sched.run().catch((err: Error) => err)
  await until('the window to fill', () => slow.asked.length >= 2)
  assert.equal(slow.asked, [0, 1], 'the window is full')
  sched.prioritize(COUNT - 1, COUNT - 1)
  await until('the seek to go out', () => slow.asked.includes(COUNT - 1))
  assert.equal(stored, [], `the seek went out before the window drained: ${JSON.stringify(slow.asked)}`)
  await sched.waitFor(COUNT - 1)
  assert.ok(stored.length <= 3, `the last chunk came after ${stored.length - 1} others`)
  ac.abort()
  assert.equal((await run as Error).name, 'DownloadAbortedError')
})

test('a download cap (maxRate) paces the requests; a seek still goes first under it', async () => {
  // 48 chunks of 1 KiB at 8 KiB/s: about 5 s uncapped at 1 ms a chunk, here one second's burst (8 chunks) and then
  // one chunk per 125 ms
  const ac = new AbortController()
  // the cap's token bucket runs on the engine's (fake) clock: 500 ms of it, whatever the machine's speed
  const clock = new FakeClock()
  const { sched, stored } = harness({ clock, signal: ac.signal, limits: { maxRate: 8 * CHUNK, tickMs: 10 } })
  const a = fake('a', 'edge', { delayMs: 0 })
  const b = fake('b', 'peer', { delayMs: 0 })
  sched.addSources([a, b])
  const run = sched.run().catch((err: Error) => err)
  for (let t = 0; t < 500; t += 10) await clock.advance(10)
  const asked = a.asked.length + b.asked.length
  // 8 at once (the burst), then one per 125 ms: 4 more by 500 ms
  assert.ok(asked >= 8 + 3 && asked <= 8 + 4 + 1, `asked ${asked} in 500 ms`)
  sched.prioritize(COUNT - 1, COUNT - 1)
  let seekDone = false
  const seek = sched.waitFor(COUNT - 1).then(() => { seekDone = true })
  for (let k = 0; k < 1000 && !seekDone; k++) await clock.advance(10)
  await seek
  assert.ok(stored.length < 20, `the seek came after ${stored.length - 1} others`)
  ac.abort()
  assert.equal((await run as Error).name, 'DownloadAbortedError')
})

test('abort stops the download with DownloadAbortedError', async () => {
  const ac = new AbortController()
  const { sched } = harness({ signal: ac.signal })
  sched.addSources([fake('slow', 'edge', { delayMs: 50 })])
  setTimeout(() => ac.abort(), 30)
  try {
    await sched.run()
    assert.unreachable()
  } catch (err) {
    assert.equal((err as Error).name, 'DownloadAbortedError')
  }
})

test('parents are a last resort: used only when no edge or peer can help', async () => {
  const log: string[] = []
  const { sched, out } = harness({ fallbackKinds: ['parent'], onEvent: e => { if (e.type !== 'chunk') log.push(e.type) } })
  const parent = fake('parent', 'parent', { delayMs: 1 })
  const fetchParent = parent.fetch.bind(parent)
  parent.fetch = async (idx, o) => { log.push('parent-asked'); await fetchParent(idx, o) }
  sched.addSources([fake('edge', 'edge', { delayMs: 2, dieAfter: 20 }), parent])
  const stats = await sched.run()
  assert.ok(out.equals(data))
  assert.ok((stats.sources.find(s => s.id === 'edge')?.bytes ?? 0) >= 20 * CHUNK - CHUNK, 'the edge served first')
  assert.ok((stats.sources.find(s => s.id === 'parent')?.bytes ?? 0) > 0, 'the parent took over')
  assert.ok(log.indexOf('failure') >= 0 && log.indexOf('failure') < log.indexOf('parent-asked'), `order: ${log.slice(0, 6).join(',')}`)
})

test('never more requests open to one source than a node answers (it refuses the 17th stream as busy)', async () => {
  const { sched, out, events } = harness({ limits: { stallMs: 2000, firstChunkMs: 2000, tickMs: 20, backoffMs: 20, refillRetryMs: 20, maxWindow: 24, initialWindow: 24, maxBatch: 1 } })
  let open = 0
  let most = 0
  const edge: DownloadSource = {
    id: 'edge',
    kind: 'edge',
    async fetch (indexes, { signal, onChunk }) {
      if (open >= 16) throw Object.assign(new Error('more than 16 chunk streams from one peer'), { name: 'BusyError' })
      open++
      most = Math.max(most, open)
      try {
        for (const i of indexes) {
          await sleep(5, signal)
          onChunk(i, Uint8Array.from(data.subarray(i * CHUNK, i * CHUNK + chunkLength(i))))
        }
      } finally { open-- }
    }
  }
  sched.addSources([edge])
  await sched.run()
  assert.ok(out.equals(data))
  assert.ok(most <= 8, `at most 8 requests open at once (saw ${most})`)
  assert.equal(events.filter(e => e.type === 'failure').length, 0, 'no request was refused as busy')
})

/** A source that answers one chunk each time `release()` is called, and records what it was asked in order. */
function gated (id: string, kind: SourceKind = 'parent'): DownloadSource & { asked: number[], release: () => void, waiting: () => number } {
  const asked: number[] = []
  const gates: Array<() => void> = []
  return {
    id,
    kind,
    asked,
    release: () => { gates.shift()?.() },
    waiting: () => gates.length,
    async fetch (indexes, { signal, onChunk }) {
      asked.push(...indexes)
      for (const i of indexes) {
        await new Promise<void>((resolve, reject) => {
          gates.push(resolve)
          signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
        })
        onChunk(i, Uint8Array.from(data.subarray(i * CHUNK, i * CHUNK + chunkLength(i))))
      }
    }
  }
}

async function until (what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setImmediate(resolve))
  }
}

/** One chunk per request and in flight: the order of requests is the order of the queue. */
const ONE_AT_A_TIME = { initialWindow: 1, minWindow: 1, maxWindow: 1, maxBatch: 1, tickMs: 20, stallMs: 60_000, firstChunkMs: 60_000 }

test('priorities: an urgent chunk is fetched before the queued normal and background ones', async () => {
  const src = gated('parent')
  const { sched } = harness({ onDemand: true, limits: ONE_AT_A_TIME })
  for (let i = 0; i < 8; i++) void sched.want(i, 'background')
  for (let i = 20; i < 24; i++) void sched.want(i, 'normal')
  sched.addSources([src])
  const run = sched.run()
  // the first request goes out in queue order: normal before background
  await until('the first request', () => src.asked.length === 1)
  assert.equal(src.asked, [20])
  // a customer now waits on chunk 30: it goes out next, past the full window, ahead of everything queued
  const urgent = sched.want(30, 'urgent')
  await until('the urgent request', () => src.asked.length === 2)
  assert.equal(src.asked, [20, 30])
  let urgentDone = false
  void urgent?.then(() => { urgentDone = true })
  while (!urgentDone) { src.release(); await new Promise(resolve => setImmediate(resolve)) }
  for (let k = 0; k < 200 && sched.pending > 0; k++) { src.release(); await new Promise(resolve => setImmediate(resolve)) }
  await run
  assert.equal(src.asked, [20, 30, 21, 22, 23, 0, 1, 2, 3, 4, 5, 6, 7], 'urgent, then normal, then background')
  const bytes = await urgent
  assert.ok(bytes !== undefined && Buffer.from(bytes).equals(data.subarray(30 * CHUNK, 31 * CHUNK)), 'the waiter got the verified bytes')
})

test('on demand: concurrent asks for one chunk share one fetch; a chunk nobody wants is never asked for', async () => {
  const src = fake('parent', 'parent', { delayMs: 0 })
  const { sched, stored } = harness({ onDemand: true })
  const a = sched.want(5, 'normal')
  const b = sched.want(5, 'urgent')
  assert.ok(sched.wants(5))
  sched.addSources([src])
  await sched.run()
  assert.ok(a !== undefined && b !== undefined)
  assert.ok(Buffer.from(await a).equals(Buffer.from(await b)))
  assert.equal(src.asked, [5])
  assert.equal(stored, [5])
  assert.is(sched.want(5, 'urgent'), undefined, 'an ended engine fetches nothing more')
})

test('back-pressure: a store that blocks pauses requests and holds the sources; nothing is blamed; it resumes when the store does', async () => {
  const clock = new FakeClock()
  const blocked: Array<() => void> = []
  let block = true
  const stored: number[] = []
  let held = 0
  let fetches = 0
  const source: DownloadSource = {
    id: 'edge',
    kind: 'edge',
    async fetch (indexes, { signal, onChunk }) {
      fetches++
      for (const i of indexes) {
        await sleep(0, signal)
        const room = onChunk(i, Uint8Array.from(data.subarray(i * CHUNK, i * CHUNK + chunkLength(i))))
        // a stream that awaits onChunk stops reading here: the back-pressure reaches it
        if (room !== undefined) { held++; await room }
      }
    }
  }
  const events: SchedulerEvent[] = []
  const sched = new Scheduler({
    chunkCount: COUNT,
    chunkLength,
    verify,
    clock,
    // a disk that takes no write until told to
    store: async i => {
      if (block) await new Promise<void>(resolve => { blocked.push(resolve) })
      stored.push(i)
    },
    onEvent: e => events.push(e),
    limits: { maxPendingStoreBytes: 3 * CHUNK, initialWindow: 4, minWindow: 4, maxBatch: 2, tickMs: 20, stallMs: 200, firstChunkMs: 200 }
  })
  sched.addSources([source])
  let finished = false
  const run = sched.run().finally(() => { finished = true })
  await until('three chunks at the blocked store', () => blocked.length >= 3)
  for (let k = 0; k < 20; k++) await new Promise(resolve => setImmediate(resolve))
  const fetchesAtBlock = fetches
  const atBlock = blocked.length
  // what was already asked may still land (at most one window), nothing more
  assert.ok(atBlock <= 3 + 4, `${atBlock} chunks at the store`)
  // far past every stall deadline on the engine's clock: no new request, no failure, the source still held
  for (let k = 0; k < 50; k++) await clock.advance(100)
  assert.is(blocked.length, atBlock, 'no chunk beyond those in flight was taken while the store was behind')
  assert.is(fetches, fetchesAtBlock, 'no new request went out')
  assert.ok(atBlock < COUNT)
  assert.ok(held >= 1, 'the source was held in onChunk')
  assert.equal(events.filter(e => e.type === 'failure' || e.type === 'drop'), [], 'our slow disk is not the source\'s fault')
  assert.ok(!finished)
  block = false
  for (const f of blocked.splice(0)) f()
  for (let k = 0; k < 1000 && !finished; k++) await clock.advance(20)
  await run
  assert.equal([...stored].sort((a, b) => a - b), Array.from({ length: COUNT }, (_, i) => i))
})


test('recycle: a stored chunk goes back to its source only after its store and only with recycleStored; bad ones always', async () => {
  // a recycled buffer is poisoned at once: had the engine handed one back before its store was done with it (or
  // stored it after), the output would not match
  const recycled: Array<{ id: string, index: number, storedBefore: boolean }> = []
  let storedSet = new Set<number>()
  let unknown = 0
  const recycling = (src: DownloadSource & { asked: number[] }): DownloadSource & { asked: number[] } => {
    const seen = new Map<Uint8Array, number>()
    return {
      ...src,
      asked: src.asked,
      async fetch (indexes, opts) {
        await src.fetch(indexes, { ...opts, onChunk: (i, b) => { seen.set(b, i); return opts.onChunk(i, b) } })
      },
      recycle: b => {
        const index = seen.get(b)
        if (index === undefined) { unknown++; return }
        seen.delete(b)
        recycled.push({ id: src.id, index, storedBefore: storedSet.has(index) })
        b.fill(0xee)
      }
    }
  }
  for (const recycleStored of [true, false]) {
    recycled.length = 0
    storedSet = new Set()
    const out = Buffer.alloc(data.length)
    const sched = new Scheduler({
      chunkCount: COUNT,
      chunkLength,
      verify,
      recycleStored,
      store: async (i, b) => {
        await new Promise(resolve => setTimeout(resolve, 1))
        Buffer.from(b).copy(out, i * CHUNK)
        storedSet.add(i)
      },
      limits: { stallMs: 2000, firstChunkMs: 2000, tickMs: 20, backoffMs: 20, refillRetryMs: 20 }
    })
    sched.addSources([recycling(fake('good', 'edge', { delayMs: 1 })), recycling(fake('bad', 'edge', { delayMs: 1, corrupt: true }))])
    await sched.run()
    assert.ok(out.equals(data), `byte-exact with recycleStored ${recycleStored}`)
    assert.is(unknown, 0, 'only bytes a source gave are handed back to it, and once')
    const good = recycled.filter(r => r.id === 'good')
    assert.ok(recycled.some(r => r.id === 'bad'), 'bad chunks go back')
    if (recycleStored) {
      assert.is(good.length, COUNT, 'every stored chunk went back once')
      assert.ok(good.every(r => r.storedBefore), 'never before its store was done')
    } else assert.is(good.length, 0, 'a store that keeps chunks gets to keep them')
  }
})

test.run()
