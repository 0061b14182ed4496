/**
 * The download engine: decides which chunk to ask which source for, and
 * reacts to what comes back. It knows nothing of libp2p or disks: sources,
 * verification and storage are handed in, so a test can drive it with
 * in-memory fakes and a real download drives it with libp2p streams.
 *
 * - Each source has a window of chunks in flight, sized from its measured
 *   throughput (rate.ts), so fast sources get more.
 * - Chunks go out in play order (priorities.ts): urgent ones first (a seek),
 *   then sequentially from the read head.
 * - When nothing is left unassigned, idle sources duplicate the oldest
 *   stragglers (endgame.ts); the first verified copy wins, the rest are dropped.
 * - A request that stalls past its deadline or fails puts its chunks back and
 *   backs its source off; repeated failures drop the source.
 * - A chunk that fails verification is never stored; its sender gets a strike
 *   and is dropped for the rest of the download after `maxBadChunks`. A
 *   failed request's error goes through node/net/errors.ts penaltyFor: a ban drops
 *   its sender at once. Dropped sources are kept out through one penalty map
 *   (penalties.ts).
 * - When no usable source is left, `moreSources` is asked (a new directive).
 * - Request priorities (priorities.ts): a customer's download wants every
 *   chunk at normal priority; an on-demand engine (an edge's fill, a parent's
 *   catalog copy) wants chunks as they are asked for, urgent when someone
 *   waits on them, background when nobody does. Concurrent asks for one chunk
 *   share its one fetch.
 * - Disk back-pressure: past `maxPendingStoreBytes` handed to `store` and not
 *   yet written, no new request goes out and `onChunk` holds the sources that
 *   await it, so a slow disk slows the streams instead of filling memory.
 */
import type { VerifiedChunk } from '../../protocol/chunking.ts'
import { DownloadAbortedError } from './errors.ts'
import { penaltyFor, StallError } from '../net/errors.ts'
import { systemClock, type Clock, type TimerHandle } from './clock.ts'
import type { DownloadSource, SourceKind } from './source.ts'
import { DEFAULT_LIMITS, type SchedulerLimits } from './limits.ts'
import type { DownloadStats, DropReason, SchedulerEvent } from './stats.ts'
import { RateMeter } from './rate.ts'
import { PenaltyMap } from './penalties.ts'
import { ChunkQueue, type Priority } from './priorities.ts'
import { pickStraggler } from './endgame.ts'
import { ChunkWaiters } from './waiters.ts'
import { DownloadCap } from './cap.ts'
import { StoreGate } from './back-pressure.ts'
import { Refiller } from './refill.ts'

export interface SchedulerOptions {
  chunkCount: number
  chunkLength: (index: number) => number
  /** Chunks already verified and stored (a resumed download). */
  done?: Iterable<number>
  /** True if `bytes` are chunk `index` as the manifest says. */
  verify: (index: number, bytes: Uint8Array) => boolean
  /** Persist a verified chunk (only chunks `verify` passed are handed here). A rejection ends the download with that error. */
  store: (index: number, chunk: VerifiedChunk, source: DownloadSource) => Promise<void>
  /**
   * `store` keeps no reference to a chunk once its promise resolves (a part file's write): a stored chunk no waiter
   * was given goes back to its source (`recycle`) for the next one. Default false (an edge's store keeps recent
   * chunks in memory). Duplicates, bad chunks and chunks not asked for go back always: nobody else ever sees them.
   */
  recycleStored?: boolean
  /** Ask for more sources (a new directive); resolve with the ones to add (may repeat current ones). */
  moreSources?: (reason: string, signal: AbortSignal) => Promise<DownloadSource[]>
  signal?: AbortSignal
  /** Kinds asked only while no other source can help (the customer client passes ['parent']). */
  fallbackKinds?: SourceKind[]
  limits?: Partial<SchedulerLimits>
  /** Time and timers (default the system's); tests hand a FakeClock. */
  clock?: Clock
  onEvent?: (event: SchedulerEvent) => void
  /** No chunk is wanted until `want` asks for it (an edge's fill); default: every chunk not `done` (a download). */
  onDemand?: boolean
  /** Where dropped sources are kept out; hand one in to share it beyond this engine (an edge's filler). */
  penalties?: PenaltyMap
}


interface SourceState {
  source: DownloadSource
  inFlight: number
  requests: Set<Request>
  meter: RateMeter
  bytes: number
  chunks: number
  badChunks: number
  failures: number
  consecutiveFailures: number
  retryAt: number
  lacks: Map<number, number>
  dropped: false | DropReason
}

interface Request {
  state: SourceState
  indexes: Set<number>
  /** Every index asked in this request (indexes shrinks as chunks arrive). */
  asked: number[]
  controller: AbortController
  startedAt: number
  lastProgressAt: number
  /** Raw bytes received since lastProgressAt (sources that report them through onBytes). */
  bytesSinceProgress: number
  gotAny: boolean
  endgame: boolean
}

export class Scheduler {
  readonly limits: SchedulerLimits
  private readonly opts: SchedulerOptions
  private readonly clock: Clock
  private readonly now: () => number
  private readonly cap: DownloadCap
  private readonly verified: Uint8Array
  private readonly storedFlags: Uint8Array
  private readonly holders = new Map<number, Set<Request>>()
  private readonly states = new Map<string, SourceState>()
  private readonly penalties: PenaltyMap
  private readonly waiters = new ChunkWaiters()
  private readonly gate: StoreGate
  /** Finished or failed: `want` asks a new engine. */
  private closed = false
  private readonly pendingStores = new Set<Promise<void>>()
  private readonly controller = new AbortController()
  private readonly fallbackKinds: ReadonlySet<SourceKind>
  private readonly queue: ChunkQueue
  private remaining = 0
  private remainingStores = 0
  private doneBytes = 0
  private readonly totalBytes: number
  private readonly byKind: Record<SourceKind, number> = { edge: 0, parent: 0, peer: 0, origin: 0 }
  private receivedBytes = 0
  private wastedBytes = 0
  private resumedChunks = 0
  private resumedBytes = 0
  private readonly refiller: Refiller
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
    this.queue = new ChunkQueue(opts.chunkCount, opts.onDemand !== true)
    this.penalties = opts.penalties ?? new PenaltyMap()
    this.cap = new DownloadCap(this.limits.maxRate, opts.chunkLength(0))
    this.gate = new StoreGate(this.limits.maxPendingStoreBytes)
    this.refiller = new Refiller(opts.moreSources, this.limits, {
      add: sources => this.addSources(sources),
      fail: err => { this.fail(err) },
      done: (reason, added) => { this.emit({ type: 'refill', reason, added }) },
      now: () => this.now(),
      signal: this.controller.signal
    })
    let total = 0
    for (let i = 0; i < opts.chunkCount; i++) total += opts.chunkLength(i)
    this.totalBytes = total
    const all = opts.onDemand === true ? 0 : opts.chunkCount
    this.remaining = all
    this.remainingStores = all
    for (const i of opts.onDemand === true ? [] : opts.done ?? []) {
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
      if (this.penalties.isPenalised(source.id, now)) { source.close?.(); continue }
      const existing = this.states.get(source.id)
      if (existing !== undefined && existing.dropped === false) { if (existing.source !== source) source.close?.(); continue }
      this.states.set(source.id, {
        source,
        inFlight: 0,
        requests: new Set(),
        meter: new RateMeter(now),
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
    if (added > 0) this.refiller.sourcesAdded()
    this.pump()
    return added
  }

  /** Run until every wanted chunk is verified and stored. */
  async run (): Promise<DownloadStats> {
    const signal = this.opts.signal
    if (signal?.aborted === true) {
      // those `want` handed a promise hear it too
      const err = new DownloadAbortedError('download aborted')
      this.fail(err)
      this.shutdown()
      throw err
    }
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
    this.queue.prioritize(lo, hi, i => this.verified[i] === 1)
    this.pump()
  }

  /**
   * Want chunk `index` at `priority` (an on-demand engine). The promise settles with its verified bytes once stored,
   * or with the error that ended the engine; every ask for one chunk shares its one fetch, and a higher priority
   * moves it up. Undefined when this engine cannot fetch it any more (it has ended, or already stored the chunk): the
   * caller reads its store, or asks a new engine.
   */
  want (index: number, priority: Priority): Promise<VerifiedChunk> | undefined {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.opts.chunkCount) throw new RangeError(`chunk ${index} out of range`)
    if (this.closed || this.failed !== undefined || this.storedFlags[index] === 1) return undefined
    const fresh = this.queue.want(index, priority)
    const chunk = this.waiters.promiseOf(index)
    // only wanted chunks are ever asked for, so one not wanted before is neither verified nor stored yet
    if (fresh) {
      this.remaining++
      this.remainingStores++
    }
    if (this.finished !== undefined) this.pump()
    return chunk
  }

  /** Chunks wanted and not yet stored. */
  get pending (): number { return this.remainingStores }

  /** Chunk `index` is wanted (and so being fetched, or to be) — a second ask for it collapses into the first. */
  wants (index: number): boolean { return this.queue.isWanted(index) && this.storedFlags[index] === 0 }

  /** Finished or failed: it fetches nothing more. */
  get isClosed (): boolean { return this.closed }

  /** True once chunk `index` is verified and stored. */
  isStored (index: number): boolean {
    return this.storedFlags[index] === 1
  }

  /** Resolve once chunk `index` is verified and stored (or reject if the download fails). */
  async waitFor (index: number, signal?: AbortSignal): Promise<void> {
    if (this.storedFlags[index] === 1) return
    if (this.failed !== undefined) throw this.failed
    const stored = this.waiters.promiseOf(index)
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { reject(new DownloadAbortedError('wait aborted')) }
      signal?.addEventListener('abort', onAbort, { once: true })
      stored.then(() => { signal?.removeEventListener('abort', onAbort); resolve() }, (err: unknown) => { signal?.removeEventListener('abort', onAbort); reject(err) })
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
        rate: Math.round(s.meter.rate),
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
    return [...this.states.values()].filter(s => s.dropped === false).sort((a, b) => b.meter.rate - a.meter.rate)
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

  /** Chunk `index` is verified, or some source is fetching it, or nobody wants it. */
  private doneOrAsked (index: number): boolean {
    return this.verified[index] === 1 || (this.holders.get(index)?.size ?? 0) > 0 || !this.queue.isWanted(index)
  }

  /** The next unassigned chunks for `s` in play order, up to `max`, contiguous where possible. */
  private pick (s: SourceState, max: number, now: number): number[] {
    return this.queue.pick(max, i => this.doneOrAsked(i), i => this.mayAsk(s, i, now))
  }

  /** An urgent chunk (a seek) that nobody is fetching yet and `s` may be asked for. */
  private hasFreshUrgent (s: SourceState, now: number): boolean {
    return this.queue.hasFreshUrgent(i => this.doneOrAsked(i), i => this.mayAsk(s, i, now))
  }

  /** Endgame: one straggler that another source has had longest, for `s` to duplicate. */
  private pickStraggler (s: SourceState, now: number): number | undefined {
    const chunkBytes = this.opts.chunkLength(0)
    // what a source has in flight takes this long at its measured rate (0 while it is not measured)
    const backlogMs = (st: SourceState): number => st.meter.rate > 0 ? st.inFlight * chunkBytes / st.meter.rate * 1000 : 0
    return pickStraggler(this.holders, s, st => st.meter.rate, backlogMs, i => this.verified[i] === 1, i => this.mayAsk(s, i, now), this.limits, now)
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
    const peerServing = sources.some(s => s.source.kind === 'peer' && s.meter.rate > 0 && s.retryAt <= now)
    // the disk is behind: ask for nothing more until it catches up (the sources in flight are held in onChunk)
    let capLeft = this.gate.full ? 0 : this.cap.chunks(now)
    for (const s of sources) {
      if (s.retryAt > now) { anyUsable = true; continue }
      if (primaryCanHelp && this.isFallback(s)) { anyUsable = true; continue }
      const window = peerServing && s.source.kind === 'edge' ? 1 : s.meter.window(this.limits, this.opts.chunkLength(0))
      let room = window - s.inFlight
      // a seek does not wait for a full window to drain: one urgent chunk may go beyond it (play's Range
      // request otherwise waited behind whole batches at a capped edge, and the sequential download won)
      if (room <= 0 && this.hasFreshUrgent(s, now)) room = 1
      room = Math.min(room, capLeft)
      let progressed = true
      const maxRequests = Math.min(this.limits.maxRequests, s.source.maxRequests ?? Infinity)
      while (room > 0 && progressed && s.requests.size < maxRequests) {
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
    if (!anyUsable && this.failed === undefined) this.refiller.request(this.states.size === 0 ? 'no sources yet' : 'no usable source left')
  }

  private isFallback (s: SourceState): boolean {
    return this.fallbackKinds.has(s.source.kind)
  }

  private canServeSomething (s: SourceState, now: number): boolean {
    const open = this.queue.open
    if (open !== undefined) {
      for (const i of open) if (this.mayServe(s, i, now)) return true
      return false
    }
    for (let i = 0; i < this.opts.chunkCount; i++) if (this.mayServe(s, i, now)) return true
    return false
  }

  private mayServe (s: SourceState, i: number, now: number): boolean {
    if (this.verified[i] !== 0 || !this.queue.isWanted(i) || (s.source.has !== undefined && !s.source.has(i))) return false
    const lack = s.lacks.get(i)
    return lack === undefined || lack <= now + this.limits.lackRetryMs
  }

  private issue (s: SourceState, indexes: number[], endgame: boolean, now: number): void {
    const req: Request = {
      state: s,
      indexes: new Set(indexes),
      asked: indexes,
      controller: new AbortController(),
      startedAt: now,
      lastProgressAt: now,
      bytesSinceProgress: 0,
      gotAny: false,
      endgame
    }
    if (s.inFlight === 0) s.meter.busyFrom(now)
    for (const i of indexes) this.cap.spend(this.opts.chunkLength(i))
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
        onChunk: (index, bytes) => this.onChunk(req, index, bytes),
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

  private onChunk (req: Request, index: number, bytes: Uint8Array): Promise<void> | undefined {
    this.handleChunk(req, index, bytes)
    return this.failed !== undefined ? undefined : this.gate.room()
  }

  private handleChunk (req: Request, index: number, bytes: Uint8Array): void {
    const s = req.state
    if (this.failed !== undefined || this.finished === undefined) { s.source.recycle?.(bytes); return }
    const now = this.now()
    this.receivedBytes += bytes.length
    if (!req.indexes.has(index)) {
      // not asked of this request (or already answered): a confused or hostile sender
      this.wastedBytes += bytes.length
      s.source.recycle?.(bytes)
      return
    }
    req.lastProgressAt = now
    req.bytesSinceProgress = 0
    if (!req.gotAny) s.meter.firstChunkAfter(now - req.startedAt)
    req.gotAny = true
    s.meter.sample(bytes.length, now)
    this.release(req, index)
    let ok = false
    try { ok = bytes.length === this.opts.chunkLength(index) && this.opts.verify(index, bytes) } catch { ok = false }
    if (ok && this.verified[index] === 1) {
      // a duplicate from the endgame: good, just late
      this.wastedBytes += bytes.length
      s.source.recycle?.(bytes)
      this.maybeAbandon(req)
      this.pump()
      return
    }
    if (!ok) {
      // bad is bad even when the chunk came from elsewhere already: the sender is penalised either way
      this.wastedBytes += bytes.length
      s.source.recycle?.(bytes)
      s.badChunks++
      this.emit({ type: 'bad-chunk', index, source: s.source.id, kind: s.source.kind, strikes: s.badChunks })
      if (s.badChunks >= this.limits.maxBadChunks) this.drop(s, 'bad-chunks')
      this.pump()
      return
    }
    this.verified[index] = 1
    this.queue.done(index)
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
    const chunk = bytes as VerifiedChunk
    this.gate.add(chunk.length)
    const p = this.opts.store(index, chunk, s.source).then(() => {
      this.gate.done(chunk.length)
      this.storedFlags[index] = 1
      this.remainingStores--
      const given = this.waiters.stored(index, chunk)
      if (!given && this.opts.recycleStored === true) s.source.recycle?.(chunk)
      this.checkFinished()
      this.pump()
    }, (err: unknown) => {
      this.gate.done(chunk.length)
      this.fail(err instanceof Error ? err : new Error(String(err)))
    })
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
        // node/net/errors.ts penaltyFor is the one place that says what an error means for its sender
        const penalty = penaltyFor(err)
        this.emit({ type: 'failure', source: s.source.id, kind: s.source.kind, error: `${err.name}: ${err.message}`, errorName: err.name, penalty, index: left[0] ?? req.asked[0] ?? 0 })
        if (penalty === 'ban') this.drop(s, 'protocol')
        else if (s.consecutiveFailures >= this.limits.maxFailures) this.drop(s, 'failures')
        else s.retryAt = now + this.limits.backoffMs * 2 ** (s.consecutiveFailures - 1)
      }
    } else {
      // answered without some chunks: it lacks them, for now
      for (const i of left) if (this.verified[i] === 0) s.lacks.set(i, now + this.limits.lackRetryMs)
    }
    if (left.length > 0) this.queue.rewind(Math.min(...left))
    this.pump()
  }

  private drop (s: SourceState, reason: DropReason): void {
    if (s.dropped !== false) return
    s.dropped = reason
    if (reason !== 'failures') this.penalties.penalise(s.source.id, this.now() + this.limits.banMs, 'ban', this.now())
    else this.penalties.penalise(s.source.id, this.now() + this.limits.deadCooldownMs, 'avoid', this.now())
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
    // held by our own disk: a request that cannot move is not the source's fault
    const held = this.gate.full
    for (const s of this.states.values()) {
      for (const req of [...s.requests]) {
        if (held) { req.lastProgressAt = now; req.bytesSinceProgress = 0; continue }
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

  private checkFinished (): void {
    if (this.finished !== undefined && this.failed === undefined && this.remainingStores === 0) {
      this.closed = true
      const f = this.finished
      this.finished = undefined
      f.resolve()
    }
  }

  private fail (err: Error): void {
    if (this.failed !== undefined) return
    this.failed = err
    this.closed = true
    const f = this.finished
    this.finished = undefined
    this.waiters.failAll(err)
    this.gate.releaseAll()
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
    this.closed = true
    this.waiters.failAll(this.failed)
    this.gate.releaseAll()
  }

  private emit (e: SchedulerEvent): void {
    try { this.opts.onEvent?.(e) } catch { /* a listener's bug must not stop the download */ }
  }
}

