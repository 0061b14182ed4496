/**
 * The download engine: decides which chunk to ask which source for, and
 * reacts to what comes back. It knows nothing of libp2p or disks: sources,
 * verification and storage are handed in, so a test can drive it with
 * in-memory fakes and a real download drives it with libp2p streams.
 *
 * - Each source has a window of chunks in flight, sized from its measured
 *   throughput (about TARGET_QUEUE_MS of data), so fast sources get more.
 * - Chunks go out in play order: urgent ranges first (a seek), then
 *   sequentially from the read head.
 * - When nothing is left unassigned, idle sources duplicate the oldest
 *   stragglers (endgame); the first verified copy wins, the rest are dropped.
 * - A request that stalls past its deadline or fails puts its chunks back and
 *   backs its source off; repeated failures drop the source.
 * - A chunk that fails verification is never stored; its sender gets a strike
 *   and is dropped for the rest of the download after MAX_BAD_CHUNKS.
 * - When no usable source is left, `moreSources` is asked (a new directive).
 */
import type { VerifiedChunk } from '../../protocol/chunking.ts'
import { DownloadAbortedError, NoSourcesError } from './errors.ts'
import { systemClock, type Clock, type TimerHandle } from '../clock.ts'

export type SourceKind = 'edge' | 'parent' | 'peer'

export interface FetchOptions {
  signal: AbortSignal
  /** Called once per chunk as it arrives, in any order. */
  onChunk: (index: number, bytes: Uint8Array) => void
  /**
   * Called as raw response bytes arrive, before a chunk is whole: lets the scheduler tell a transfer that is
   * slow but moving from one that stalled. A source that never calls it is judged by whole chunks only.
   */
  onBytes?: (n: number) => void
}

export interface DownloadSource {
  /** Stable id (the PeerId). */
  readonly id: string
  readonly kind: SourceKind
  /**
   * Ask for `indexes`; resolve when the source has answered all it will.
   * Indexes not delivered by then are taken as "this source lacks them".
   * Reject on any failure (dead connection, refused credential, ...).
   */
  fetch: (indexes: number[], opts: FetchOptions) => Promise<void>
  /** Whether the source is known to hold chunk `index` (a have-bitfield); absent = assume it does. */
  has?: (index: number) => boolean
  /** Release whatever the source holds open (called once when dropped or the download ends). */
  close?: () => void
}

export interface SchedulerLimits {
  /** Chunks in flight per source before anything is measured: enough to fill a loopback pipe's first round trips. */
  initialWindow: number
  /** Never fewer than this in flight per source: one chunk in transit while the next is requested. */
  minWindow: number
  /** Never more than this per source: bounds memory (window × chunk size) and what a dying source takes down with it. */
  maxWindow: number
  /** A window holds about this much time of the source's measured throughput. */
  targetQueueMs: number
  /** Chunks per request: fewer stream opens, yet small enough to spread a range across sources. */
  maxBatch: number
  /**
   * Requests (streams) open to one source at once. Nodes and seeding peers answer at most MAX_STREAMS_PER_PEER (16)
   * chunk streams per peer with 'busy'; a window refilled one chunk at a time opened more than that against an
   * uncapped edge, and each 'busy' counted as a failure and backed the edge off (the parent then carried 14-149 MiB
   * of a 256 MiB download that the edge alone could serve).
   */
  maxRequests: number
  /**
   * A request that delivers no chunk for this long, and fewer than minProgressRate bytes per second over it,
   * is abandoned and its chunks rescheduled.
   */
  stallMs: number
  /**
   * Bytes per second that keep a late request alive. Under load a busy uplink is shared by every stream it
   * serves, so each chunk arrives slowly; cutting them all would throw away the bytes already moved and retry
   * them elsewhere, on the same overloaded machines (congestion collapse). A request still moving at this rate
   * is not stalled; a peer trickling a byte a second is far below it.
   */
  minProgressRate: number
  /** A request's first chunk may take this long (dial, credential check, an edge's miss to its parent). */
  firstChunkMs: number
  /** A sender of this many bad chunks is dropped for the rest of the download. */
  maxBadChunks: number
  /** This many failed requests in a row drop a source. */
  maxFailures: number
  /** Base back-off after a failed request, doubled per consecutive failure. */
  backoffMs: number
  /** How many sources may be asked for one chunk at once in the endgame. */
  maxRequestersPerChunk: number
  /** A source that did not deliver a chunk is not asked for it again for this long (a peer may get it later). */
  lackRetryMs: number
  /** A source dropped for failures is not re-added from a new directive for this long. */
  deadCooldownMs: number
  /** Consecutive refills that bring no usable source before the download gives up. */
  maxEmptyRefills: number
  /** Wait between refills that brought nothing. */
  refillRetryMs: number
  /** Timer tick for deadlines and back-offs. */
  tickMs: number
  /**
   * Download cap, bytes per second; 0 for none (`--max-download`). Chunks are asked for no faster than this on
   * average (a token bucket of one second at the cap, at least one chunk); a seek still goes first under it.
   */
  maxRate: number
}

export const DEFAULT_LIMITS: SchedulerLimits = {
  // 2, not 4: at 4, two capped edges were handed half of a 16-chunk item before anything was measured, and a
  // faster seeding peer could only win the rest (peer-assist fell to 37 % in test/adversarial/network.test.ts)
  initialWindow: 2,
  minWindow: 2,
  maxWindow: 24,
  targetQueueMs: 250,
  maxBatch: 4,
  maxRequests: 8,
  stallMs: 6_000,
  minProgressRate: 16 * 1024,
  firstChunkMs: 15_000,
  maxBadChunks: 2,
  maxFailures: 5,
  backoffMs: 250,
  maxRequestersPerChunk: 2,
  lackRetryMs: 2_000,
  deadCooldownMs: 5_000,
  maxEmptyRefills: 20,
  refillRetryMs: 1_000,
  tickMs: 100,
  maxRate: 0
}

export type SchedulerEvent =
  | { type: 'chunk', index: number, bytes: number, source: string, kind: SourceKind }
  | { type: 'bad-chunk', index: number, source: string, kind: SourceKind, strikes: number }
  | { type: 'failure', source: string, kind: SourceKind, error: string }
  | { type: 'drop', source: string, kind: SourceKind, reason: 'bad-chunks' | 'failures' }
  | { type: 'refill', reason: string, added: number }

export interface SourceStats {
  id: string
  kind: SourceKind
  bytes: number
  chunks: number
  badChunks: number
  failures: number
  /** Measured throughput, bytes/s (0 before the first chunk). */
  rate: number
  dropped: false | 'bad-chunks' | 'failures'
}

export interface DownloadStats {
  totalBytes: number
  doneBytes: number
  doneChunks: number
  chunkCount: number
  /** Verified bytes by the kind of source that delivered them (this run only, not resumed ones). */
  byKind: Record<SourceKind, number>
  /** Bytes received from the network this run, verified or not, duplicates included. */
  receivedBytes: number
  /** Bytes received that were not used: duplicates from the endgame and bad chunks. */
  wastedBytes: number
  resumedChunks: number
  resumedBytes: number
  sources: SourceStats[]
}

export interface SchedulerOptions {
  chunkCount: number
  chunkLength: (index: number) => number
  /** Chunks already verified and stored (a resumed download). */
  done?: Iterable<number>
  /** True if `bytes` are chunk `index` as the manifest says. */
  verify: (index: number, bytes: Uint8Array) => boolean
  /** Persist a verified chunk (only chunks `verify` passed are handed here). A rejection ends the download with that error. */
  store: (index: number, chunk: VerifiedChunk, source: DownloadSource) => Promise<void>
  /** Ask for more sources (a new directive); resolve with the ones to add (may repeat current ones). */
  moreSources?: (reason: string, signal: AbortSignal) => Promise<DownloadSource[]>
  signal?: AbortSignal
  /** Kinds asked only while no other source can help (the customer client passes ['parent']). */
  fallbackKinds?: SourceKind[]
  limits?: Partial<SchedulerLimits>
  /** Time and timers (default the system's); tests hand a FakeClock. */
  clock?: Clock
  onEvent?: (event: SchedulerEvent) => void
}

interface SourceState {
  source: DownloadSource
  inFlight: number
  requests: Set<Request>
  rate: number
  /** When the rate sampler last saw an event while busy. */
  lastSampleAt: number
  samples: Array<{ bytes: number, dt: number }>
  /** First-chunk latencies of recent requests (ms). */
  latencies: number[]
  sampleBytes: number
  sampleTime: number
  bytes: number
  chunks: number
  badChunks: number
  failures: number
  consecutiveFailures: number
  retryAt: number
  lacks: Map<number, number>
  dropped: false | 'bad-chunks' | 'failures'
}

interface Request {
  state: SourceState
  indexes: Set<number>
  controller: AbortController
  startedAt: number
  lastProgressAt: number
  /** Raw bytes received since lastProgressAt (sources that report them through onBytes). */
  bytesSinceProgress: number
  gotAny: boolean
  endgame: boolean
}

class StallError extends Error { name = 'StallError' }

/** Throughput is measured over this many recent chunks: reacts within a window, ignores one odd gap. */
const RATE_SAMPLES = 16
/** The base round trip of a source is the fastest of this many recent first-chunk latencies. */
const LATENCY_SAMPLES = 16
/** ...and over at least this much time. */
const MIN_RATE_SPAN_MS = 100

export class Scheduler {
  readonly limits: SchedulerLimits
  private readonly opts: SchedulerOptions
  private readonly clock: Clock
  private readonly now: () => number
  /** The download cap's token bucket (bytes), and when it was last refilled (-1: never). */
  private capTokens = 0
  private capAt = -1
  private readonly verified: Uint8Array
  private readonly storedFlags: Uint8Array
  private readonly holders = new Map<number, Set<Request>>()
  private readonly states = new Map<string, SourceState>()
  private readonly banned = new Set<string>()
  private readonly deadUntil = new Map<string, number>()
  private readonly waiters = new Map<number, Array<() => void>>()
  private readonly pendingStores = new Set<Promise<void>>()
  private readonly controller = new AbortController()
  private readonly fallbackKinds: ReadonlySet<SourceKind>
  private urgent: number[] = []
  private readHead = 0
  private remaining = 0
  private remainingStores = 0
  private doneBytes = 0
  private readonly totalBytes: number
  private readonly byKind: Record<SourceKind, number> = { edge: 0, parent: 0, peer: 0 }
  private receivedBytes = 0
  private wastedBytes = 0
  private resumedChunks = 0
  private resumedBytes = 0
  private refilling = false
  private emptyRefills = 0
  private nextRefillAt = 0
  private timer: TimerHandle | undefined
  private finished: { resolve: () => void, reject: (e: Error) => void } | undefined
  private failed: Error | undefined

  constructor (opts: SchedulerOptions) {
    if (!Number.isSafeInteger(opts.chunkCount) || opts.chunkCount < 0) throw new RangeError('chunkCount must be a whole number')
    this.opts = opts
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits }
    this.clock = opts.clock ?? systemClock
    this.now = this.clock.now
    this.fallbackKinds = new Set(opts.fallbackKinds ?? [])
    this.verified = new Uint8Array(opts.chunkCount)
    this.storedFlags = new Uint8Array(opts.chunkCount)
    let total = 0
    for (let i = 0; i < opts.chunkCount; i++) total += opts.chunkLength(i)
    this.totalBytes = total
    this.remaining = opts.chunkCount
    this.remainingStores = opts.chunkCount
    for (const i of opts.done ?? []) {
      if (i < 0 || i >= opts.chunkCount || this.verified[i] === 1) continue
      this.verified[i] = 1
      this.storedFlags[i] = 1
      this.remaining--
      this.remainingStores--
      this.resumedChunks++
      this.resumedBytes += opts.chunkLength(i)
      this.doneBytes += opts.chunkLength(i)
    }
  }

  /** Add sources (e.g. from a directive); banned and recently dead ones are skipped. Returns how many were new. */
  addSources (sources: DownloadSource[]): number {
    let added = 0
    const now = this.now()
    for (const source of sources) {
      if (this.banned.has(source.id)) { source.close?.(); continue }
      const dead = this.deadUntil.get(source.id)
      if (dead !== undefined && dead > now) { source.close?.(); continue }
      const existing = this.states.get(source.id)
      if (existing !== undefined && existing.dropped === false) { if (existing.source !== source) source.close?.(); continue }
      this.states.set(source.id, {
        source,
        inFlight: 0,
        requests: new Set(),
        rate: 0,
        lastSampleAt: now,
        samples: [],
        latencies: [],
        sampleBytes: 0,
        sampleTime: 0,
        bytes: existing?.bytes ?? 0,
        chunks: existing?.chunks ?? 0,
        badChunks: existing?.badChunks ?? 0,
        failures: existing?.failures ?? 0,
        consecutiveFailures: 0,
        retryAt: 0,
        lacks: new Map(),
        dropped: false
      })
      added++
    }
    if (added > 0) this.emptyRefills = 0
    this.pump()
    return added
  }

  /** Run until every chunk is verified and stored. */
  async run (): Promise<DownloadStats> {
    const signal = this.opts.signal
    if (signal?.aborted === true) throw new DownloadAbortedError('download aborted')
    const onAbort = (): void => { this.fail(new DownloadAbortedError('download aborted')) }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await new Promise<void>((resolve, reject) => {
        this.finished = { resolve, reject }
        this.timer = this.clock.setInterval(() => { this.tick() }, this.limits.tickMs)
        this.pump()
        this.checkFinished()
      })
      return this.stats()
    } finally {
      signal?.removeEventListener('abort', onAbort)
      this.shutdown()
    }
  }

  /** Move chunks [first, last] to the front of the queue and continue sequentially from `first` (a seek). */
  prioritize (first: number, last: number): void {
    const lo = Math.max(0, first)
    const hi = Math.min(this.opts.chunkCount - 1, last)
    if (hi < lo) return
    const fresh: number[] = []
    for (let i = lo; i <= hi; i++) if (this.verified[i] === 0) fresh.push(i)
    this.urgent = [...fresh, ...this.urgent.filter(i => i < lo || i > hi)]
    this.readHead = lo
    this.pump()
  }

  /** True once chunk `index` is verified and stored. */
  isStored (index: number): boolean {
    return this.storedFlags[index] === 1
  }

  /** Resolve once chunk `index` is verified and stored (or reject if the download fails). */
  async waitFor (index: number, signal?: AbortSignal): Promise<void> {
    if (this.storedFlags[index] === 1) return
    if (this.failed !== undefined) throw this.failed
    await new Promise<void>((resolve, reject) => {
      const list = this.waiters.get(index) ?? []
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort)
        if (this.storedFlags[index] === 1) resolve()
        else reject(this.failed ?? new DownloadAbortedError('download ended'))
      }
      const onAbort = (): void => {
        const l = this.waiters.get(index)
        if (l !== undefined) this.waiters.set(index, l.filter(f => f !== done))
        reject(new DownloadAbortedError('wait aborted'))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      list.push(done)
      this.waiters.set(index, list)
    })
  }

  stats (): DownloadStats {
    return {
      totalBytes: this.totalBytes,
      doneBytes: this.doneBytes,
      doneChunks: this.opts.chunkCount - this.remaining,
      chunkCount: this.opts.chunkCount,
      byKind: { ...this.byKind },
      receivedBytes: this.receivedBytes,
      wastedBytes: this.wastedBytes,
      resumedChunks: this.resumedChunks,
      resumedBytes: this.resumedBytes,
      sources: [...this.states.values()].map(s => ({
        id: s.source.id,
        kind: s.source.kind,
        bytes: s.bytes,
        chunks: s.chunks,
        badChunks: s.badChunks,
        failures: s.failures,
        rate: Math.round(s.rate),
        dropped: s.dropped
      }))
    }
  }

  /** Sources still in use, fastest first. */
  activeSources (): DownloadSource[] {
    return this.usable().map(s => s.source)
  }

  // ---- scheduling ----

  private usable (): SourceState[] {
    return [...this.states.values()].filter(s => s.dropped === false).sort((a, b) => b.rate - a.rate)
  }

  private windowOf (s: SourceState): number {
    const { initialWindow, minWindow, maxWindow, targetQueueMs } = this.limits
    if (s.rate <= 0) return initialWindow
    const chunk = this.opts.chunkLength(0) || 1
    // cover at least twice the source's base round trip (its fastest recent first-chunk latency),
    // else a slow round trip would cap the window, which caps the measured rate, which caps the window
    const horizonMs = Math.max(targetQueueMs, 2 * (s.latencies.length > 0 ? Math.min(...s.latencies) : 0))
    const w = Math.ceil((s.rate * horizonMs / 1000) / chunk) + 1
    return Math.max(minWindow, Math.min(maxWindow, w))
  }

  private mayAsk (s: SourceState, index: number, now: number): boolean {
    if (s.source.has !== undefined && !s.source.has(index)) return false
    const lack = s.lacks.get(index)
    if (lack !== undefined) {
      if (lack > now) return false
      s.lacks.delete(index)
    }
    return true
  }

  /** Chunk `index` is verified, or some source is fetching it. */
  private doneOrAsked (index: number): boolean {
    return this.verified[index] === 1 || (this.holders.get(index)?.size ?? 0) > 0
  }

  /** The next unassigned chunks for `s` in play order, up to `max`, contiguous where possible. */
  private pick (s: SourceState, max: number, now: number): number[] {
    const out: number[] = []
    const free = (i: number): boolean => !this.doneOrAsked(i) && this.mayAsk(s, i, now)
    while (this.urgent.length > 0 && out.length < max) {
      const i = this.urgent[0] as number
      if (this.doneOrAsked(i)) { this.urgent.shift(); continue }
      if (!this.mayAsk(s, i, now)) break
      out.push(i)
      this.urgent.shift()
    }
    if (out.length >= max) return out
    const n = this.opts.chunkCount
    for (let k = 0; k < n && out.length < max; k++) {
      const i = (this.readHead + k) % n
      if (out.includes(i) || !free(i)) continue
      // keep a batch contiguous: once started, stop at the first gap
      if (out.length > 0 && i !== (out[out.length - 1] as number) + 1) break
      out.push(i)
    }
    return out
  }

  /** An urgent chunk (a seek) that nobody is fetching yet and `s` may be asked for. */
  private hasFreshUrgent (s: SourceState, now: number): boolean {
    for (const i of this.urgent) {
      if (this.doneOrAsked(i)) continue
      return this.mayAsk(s, i, now)
    }
    return false
  }

  /** Endgame: one straggler that another source has had longest, for `s` to duplicate. */
  private pickStraggler (s: SourceState, now: number): number | undefined {
    let best: number | undefined
    let bestStart = Infinity
    for (const [i, reqs] of this.holders) {
      if (this.verified[i] === 1 || reqs.size === 0 || reqs.size >= this.limits.maxRequestersPerChunk) continue
      let mine = false
      let oldest = Infinity
      for (const r of reqs) {
        if (r.state === s) mine = true
        oldest = Math.min(oldest, r.startedAt)
      }
      if (mine || !this.mayAsk(s, i, now)) continue
      // duplicate only what the current holder is slow on: never a chunk just asked for
      // (a holder not yet measured gets the same grace: it may just be dialling)
      if (now - oldest < Math.min(this.limits.stallMs / 4, 500) && (s.rate === 0 || [...reqs].every(r => r.state.rate === 0 || r.state.rate >= s.rate))) continue
      if (oldest < bestStart) { bestStart = oldest; best = i }
    }
    return best
  }

  private pump (): void {
    if (this.failed !== undefined || this.finished === undefined) return
    if (this.remaining === 0) { this.checkFinished(); return }
    const now = this.now()
    let anyUsable = false
    const sources = this.usable()
    // parents are the last resort (DESIGN flow 5): asked only while no edge or peer can help
    const primaryCanHelp = sources.some(s => !this.isFallback(s) && s.retryAt <= now && (s.inFlight > 0 || this.canServeSomething(s, now)))
    // peer-assist first: while a peer that has delivered is serving, an edge keeps one request in flight, so the
    // operator's edges carry what the customers' peers cannot (on a busy client every source ran at the same
    // CPU-bound rate and the peer's share fell to a third)
    const peerServing = sources.some(s => s.source.kind === 'peer' && s.rate > 0 && s.retryAt <= now)
    let capLeft = this.capChunks(now)
    for (const s of sources) {
      if (s.retryAt > now) { anyUsable = true; continue }
      if (primaryCanHelp && this.isFallback(s)) { anyUsable = true; continue }
      const window = peerServing && s.source.kind === 'edge' ? 1 : this.windowOf(s)
      let room = window - s.inFlight
      // a seek does not wait for a full window to drain: one urgent chunk may go beyond it (play's Range
      // request otherwise waited behind whole batches at a capped edge, and the sequential download won)
      if (room <= 0 && this.hasFreshUrgent(s, now)) room = 1
      room = Math.min(room, capLeft)
      let progressed = true
      while (room > 0 && progressed && s.requests.size < this.limits.maxRequests) {
        progressed = false
        const batch = this.pick(s, Math.min(room, this.limits.maxBatch), now)
        if (batch.length > 0) {
          this.issue(s, batch, false, now)
          room -= batch.length
          capLeft -= batch.length
          progressed = true
          continue
        }
        const straggler = this.pickStraggler(s, now)
        if (straggler !== undefined) {
          this.issue(s, [straggler], true, now)
          room -= 1
          capLeft -= 1
          progressed = true
        }
      }
      if (s.inFlight > 0 || this.canServeSomething(s, now)) anyUsable = true
    }
    if (!anyUsable) this.refill(this.states.size === 0 ? 'no sources yet' : 'no usable source left')
  }

  /** Chunks the download cap lets us ask for now (Infinity without a cap); `issue` spends the tokens. */
  private capChunks (now: number): number {
    const rate = this.limits.maxRate
    if (!(rate > 0)) return Infinity
    const chunk = this.opts.chunkLength(0) || 1
    const burst = Math.max(chunk, rate)
    this.capTokens = this.capAt < 0 ? burst : Math.min(burst, this.capTokens + (now - this.capAt) * rate / 1000)
    this.capAt = now
    return Math.floor(this.capTokens / chunk)
  }

  private isFallback (s: SourceState): boolean {
    return this.fallbackKinds.has(s.source.kind)
  }

  private canServeSomething (s: SourceState, now: number): boolean {
    for (let i = 0; i < this.opts.chunkCount; i++) {
      if (this.verified[i] === 0 && (s.source.has === undefined || s.source.has(i))) {
        const lack = s.lacks.get(i)
        if (lack === undefined || lack <= now + this.limits.lackRetryMs) return true
      }
    }
    return false
  }

  private issue (s: SourceState, indexes: number[], endgame: boolean, now: number): void {
    const req: Request = {
      state: s,
      indexes: new Set(indexes),
      controller: new AbortController(),
      startedAt: now,
      lastProgressAt: now,
      bytesSinceProgress: 0,
      gotAny: false,
      endgame
    }
    if (s.inFlight === 0) s.lastSampleAt = now
    if (this.limits.maxRate > 0) for (const i of indexes) this.capTokens -= this.opts.chunkLength(i)
    s.inFlight += indexes.length
    s.requests.add(req)
    for (const i of indexes) {
      let set = this.holders.get(i)
      if (set === undefined) { set = new Set(); this.holders.set(i, set) }
      set.add(req)
    }
    const signal = AbortSignal.any([req.controller.signal, this.controller.signal])
    let promise: Promise<void>
    try {
      promise = s.source.fetch(indexes, {
        signal,
        onChunk: (index, bytes) => { this.onChunk(req, index, bytes) },
        onBytes: n => { req.bytesSinceProgress += n }
      })
    } catch (err) {
      promise = Promise.reject(err)
    }
    promise.then(
      () => { this.onRequestEnd(req, undefined) },
      (err: unknown) => { this.onRequestEnd(req, err instanceof Error ? err : new Error(String(err))) }
    )
  }

  private release (req: Request, index: number): void {
    if (!req.indexes.delete(index)) return
    req.state.inFlight--
    const set = this.holders.get(index)
    if (set !== undefined) {
      set.delete(req)
      if (set.size === 0) this.holders.delete(index)
    }
  }

  private onChunk (req: Request, index: number, bytes: Uint8Array): void {
    if (this.failed !== undefined || this.finished === undefined) return
    const s = req.state
    const now = this.now()
    this.receivedBytes += bytes.length
    if (!req.indexes.has(index)) {
      // not asked of this request (or already answered): a confused or hostile sender
      this.wastedBytes += bytes.length
      return
    }
    req.lastProgressAt = now
    req.bytesSinceProgress = 0
    if (!req.gotAny) {
      s.latencies.push(now - req.startedAt)
      if (s.latencies.length > LATENCY_SAMPLES) s.latencies.shift()
    }
    req.gotAny = true
    this.sampleRate(s, bytes.length, now)
    this.release(req, index)
    let ok = false
    try { ok = bytes.length === this.opts.chunkLength(index) && this.opts.verify(index, bytes) } catch { ok = false }
    if (ok && this.verified[index] === 1) {
      // a duplicate from the endgame: good, just late
      this.wastedBytes += bytes.length
      this.maybeAbandon(req)
      this.pump()
      return
    }
    if (!ok) {
      // bad is bad even when the chunk came from elsewhere already: the sender is penalised either way
      this.wastedBytes += bytes.length
      s.badChunks++
      this.emit({ type: 'bad-chunk', index, source: s.source.id, kind: s.source.kind, strikes: s.badChunks })
      if (s.badChunks >= this.limits.maxBadChunks) this.drop(s, 'bad-chunks')
      this.pump()
      return
    }
    this.verified[index] = 1
    this.remaining--
    s.bytes += bytes.length
    s.chunks++
    s.consecutiveFailures = 0
    this.byKind[s.source.kind] += bytes.length
    this.doneBytes += bytes.length
    // other requesters of this chunk (endgame duplicates) no longer need it
    for (const other of [...(this.holders.get(index) ?? [])]) {
      this.release(other, index)
      this.maybeAbandon(other)
    }
    this.emit({ type: 'chunk', index, bytes: bytes.length, source: s.source.id, kind: s.source.kind })
    // `verify` (the manifest's check) passed just above: this is where a download's chunk becomes a VerifiedChunk
    const p = this.opts.store(index, bytes as VerifiedChunk, s.source).then(() => {
      this.storedFlags[index] = 1
      this.remainingStores--
      const list = this.waiters.get(index)
      this.waiters.delete(index)
      for (const f of list ?? []) f()
      this.checkFinished()
    }, (err: unknown) => { this.fail(err instanceof Error ? err : new Error(String(err))) })
    this.pendingStores.add(p)
    void p.finally(() => this.pendingStores.delete(p))
    this.pump()
  }

  /** A request whose every chunk was answered elsewhere is cancelled (no blame). */
  private maybeAbandon (req: Request): void {
    if (req.indexes.size === 0 && req.state.requests.has(req)) {
      req.state.requests.delete(req)
      req.controller.abort()
    }
  }

  /**
   * Throughput over the source's recent busy time: bytes of the last
   * RATE_SAMPLES chunks over the busy time they took, never over less than
   * MIN_RATE_SPAN_MS (a first chunk that was already buffered must not look
   * like gigabytes per second and open a huge window).
   */
  private sampleRate (s: SourceState, bytes: number, now: number): void {
    const dt = Math.max(now - s.lastSampleAt, 0)
    s.lastSampleAt = now
    s.samples.push({ bytes, dt })
    s.sampleBytes += bytes
    s.sampleTime += dt
    while (s.samples.length > RATE_SAMPLES) {
      const old = s.samples.shift() as { bytes: number, dt: number }
      s.sampleBytes -= old.bytes
      s.sampleTime -= old.dt
    }
    s.rate = s.sampleBytes / (Math.max(s.sampleTime, MIN_RATE_SPAN_MS) / 1000)
  }

  private onRequestEnd (req: Request, err: Error | undefined): void {
    const s = req.state
    const wasLive = s.requests.delete(req)
    const now = this.now()
    const left = [...req.indexes]
    for (const i of left) this.release(req, i)
    if (this.failed !== undefined || this.finished === undefined) return
    if (!wasLive) { this.pump(); return } // abandoned on purpose
    if (err !== undefined) {
      if (s.dropped === false) {
        s.failures++
        s.consecutiveFailures++
        this.emit({ type: 'failure', source: s.source.id, kind: s.source.kind, error: `${err.name}: ${err.message}` })
        if (s.consecutiveFailures >= this.limits.maxFailures) this.drop(s, 'failures')
        else s.retryAt = now + this.limits.backoffMs * 2 ** (s.consecutiveFailures - 1)
      }
    } else {
      // answered without some chunks: it lacks them, for now
      for (const i of left) if (this.verified[i] === 0) s.lacks.set(i, now + this.limits.lackRetryMs)
    }
    if (left.length > 0) this.readHead = Math.min(this.readHead, Math.min(...left))
    this.pump()
  }

  private drop (s: SourceState, reason: 'bad-chunks' | 'failures'): void {
    if (s.dropped !== false) return
    s.dropped = reason
    if (reason === 'bad-chunks') this.banned.add(s.source.id)
    else this.deadUntil.set(s.source.id, this.now() + this.limits.deadCooldownMs)
    this.emit({ type: 'drop', source: s.source.id, kind: s.source.kind, reason })
    for (const req of [...s.requests]) {
      s.requests.delete(req)
      for (const i of [...req.indexes]) this.release(req, i)
      req.controller.abort()
    }
    s.source.close?.()
  }

  private tick (): void {
    const now = this.now()
    for (const s of this.states.values()) {
      for (const req of [...s.requests]) {
        const limit = req.gotAny ? this.limits.stallMs : this.limits.firstChunkMs
        const waited = now - req.lastProgressAt
        if (waited > limit) {
          // late, but still moving at the floor rate: a slow share of a busy uplink, not a stall
          if (req.bytesSinceProgress >= this.limits.minProgressRate * waited / 1000) {
            req.lastProgressAt = now
            req.bytesSinceProgress = 0
            continue
          }
          // count the failure now: a source that ignores its signal must not hold the chunks
          const err = new StallError(`no chunk for ${Math.round(waited)} ms, and ${req.bytesSinceProgress} bytes`)
          req.controller.abort(err)
          this.onRequestEnd(req, err)
        }
      }
    }
    this.pump()
  }

  private refill (reason: string): void {
    if (this.refilling || this.failed !== undefined) return
    const more = this.opts.moreSources
    if (more === undefined) { this.fail(new NoSourcesError(`${reason}, and nowhere to ask for more`)); return }
    if (this.now() < this.nextRefillAt) return
    this.refilling = true
    const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(30_000)])
    more(reason, signal).then(sources => {
      this.refilling = false
      const added = this.addSources(sources)
      this.emit({ type: 'refill', reason, added })
      if (added === 0) {
        this.emptyRefills++
        this.nextRefillAt = this.now() + this.limits.refillRetryMs
        if (this.emptyRefills >= this.limits.maxEmptyRefills) this.fail(new NoSourcesError(`${reason}: ${this.emptyRefills} new directives in a row brought no usable source`))
      }
    }, (err: unknown) => {
      this.refilling = false
      // main says the region has no source at all: asking again every second cannot help soon
      if ((err as Error).name === 'RegionUnservedError') { this.fail(err as Error); return }
      this.emptyRefills++
      this.nextRefillAt = this.now() + this.limits.refillRetryMs
      this.emit({ type: 'refill', reason: `${reason} (failed: ${(err as Error).message})`, added: 0 })
      if (this.emptyRefills >= this.limits.maxEmptyRefills) this.fail(new NoSourcesError(`${reason}; asking main failed: ${(err as Error).message}`))
    })
  }

  private checkFinished (): void {
    if (this.finished !== undefined && this.failed === undefined && this.remainingStores === 0) {
      const f = this.finished
      this.finished = undefined
      f.resolve()
    }
  }

  private fail (err: Error): void {
    if (this.failed !== undefined) return
    this.failed = err
    const f = this.finished
    this.finished = undefined
    for (const list of this.waiters.values()) for (const w of list) w()
    this.waiters.clear()
    f?.reject(err)
  }

  private shutdown (): void {
    if (this.timer !== undefined) this.clock.clearInterval(this.timer)
    this.controller.abort()
    for (const s of this.states.values()) {
      for (const req of s.requests) req.controller.abort()
      s.requests.clear()
      if (s.dropped === false) s.source.close?.()
    }
    if (this.failed === undefined) this.failed = new DownloadAbortedError('download ended')
    for (const list of this.waiters.values()) for (const w of list) w()
    this.waiters.clear()
  }

  private emit (e: SchedulerEvent): void {
    try { this.opts.onEvent?.(e) } catch { /* a listener's bug must not stop the download */ }
  }
}
