/**
 * Filling the store on a miss, through the download engine (node/download/).
 * A miss for chunk i of an item asks the item's fill engine for i (urgent:
 * a customer waits on it) and the next few missing chunks (readahead, normal
 * priority); a parent's catalog copy and an edge's preposition ask at
 * background priority, so a waiting customer's chunk goes first. One engine
 * runs per item while it has chunks to fetch: concurrent misses for the same
 * chunk share its one fetch (request collapsing), and every region source
 * that holds the chunks is used at once — edges that hold some (found through
 * the region DHT and have-bitfields) and the region's parents, each its share
 * by measured throughput — and main's origin last, for what no region source
 * can give. Each chunk is verified against the manifest, stored, and handed to
 * every waiter as soon as it arrives. Sources that fail or send bad chunks are
 * kept out through one penalty map shared by every fill.
 */
import type { PeerId } from '@libp2p/interface'
import { verifiedChunk, type VerifiedChunk } from '../../protocol/chunking.ts'
import { CHUNK_DATA_HEADER_BYTES } from '../../protocol/wire/limits.ts'
import { REQUEST_ID_BYTES } from '../../protocol/wire/fast-lane.ts'
import { itemCid } from '../../protocol/cid.ts'
import type { Manifest, NodeEntry } from '../../protocol/types.ts'
import { createChunkTransport, type ChunkTransport } from '../net/fast-lane/transport.ts'
import { fetchHave } from '../net/have-client.ts'
import { ChunkHashMismatchError } from '../../protocol/errors.ts'
import { NoSourceError, type Penalty } from '../net/errors.ts'
import { systemClock, type Clock } from '../download/clock.ts'
import type { ReelnetHost } from '../net/host.ts'
import type { MainClient } from '../control/main-client.ts'
import { hex, type ChunkStore } from './store/chunk-store.ts'
import { Scheduler } from '../download/engine.ts'
import type { SchedulerLimits } from '../download/limits.ts'
import type { SchedulerEvent } from '../download/stats.ts'
import type { DownloadSource, SourceKind } from '../download/source.ts'
import { PenaltyMap } from '../download/penalties.ts'
import type { Priority } from '../download/priorities.ts'

/** Chunks fetched together on a miss: the missed one plus readahead, so a sequential reader never waits a round trip per chunk. */
export const FILL_BATCH_CHUNKS = 16
/** A source that delivers no chunk for this long (and moves fewer than FILL_PROGRESS_BYTES of one) is abandoned to the next source. */
export const FILL_STALL_TIMEOUT_MS = 15_000
/** Bytes of a chunk that keep a fill alive over FILL_STALL_TIMEOUT_MS (so at least ~17 KiB/s is moving, not stalled). */
export const FILL_PROGRESS_BYTES = 256 * 1024
/** How long DHT provider lookups (and have answers) for an item are reused. */
export const PROVIDER_CACHE_MS = 3_000
/** A DHT provider lookup is cut off after this long; a region's DHT answers in tens of ms. */
export const FIND_PROVIDERS_TIMEOUT_MS = 2_000
/** Origin requests open at once per item (HTTP to main, one chunk at a time each): main serves every region's misses. */
export const ORIGIN_CONCURRENCY = 4
/** A received chunk is kept without a copy when its buffer holds at most this many other bytes (a data frame's header, and the fast lane's request id). */
export const MAX_UNCOPIED_SLACK_BYTES = REQUEST_ID_BYTES + CHUNK_DATA_HEADER_BYTES
/** A peer that sent a bad chunk or broke the protocol is skipped for this long. */
export const BAD_PEER_MS = 10 * 60_000
/** A peer that failed twice in a row is skipped for this long: long enough that the next misses go elsewhere, short enough that a restarted node is soon back. */
export const AVOID_PEER_MS = 5 * PROVIDER_CACHE_MS
/** The id of main's origin copy as a source; never kept out beyond one fill (it is the copy of last resort). */
export const ORIGIN_SOURCE_ID = 'origin'

/** How a fill's engine differs from a customer's download (node/download/limits.ts DEFAULT_LIMITS has the rest). */
export const FILL_LIMITS: Partial<SchedulerLimits> = {
  // a first chunk may wait on the source's own miss to its parent or main
  firstChunkMs: FILL_STALL_TIMEOUT_MS,
  stallMs: FILL_STALL_TIMEOUT_MS,
  minProgressRate: FILL_PROGRESS_BYTES / (FILL_STALL_TIMEOUT_MS / 1000),
  // a fill's sources are operators' nodes, never a flaky customer's peer: one bad chunk is one too many
  maxBadChunks: 1,
  // one failure backs off (main's origin steps in meanwhile); a second in a row leaves the fill
  maxFailures: 2,
  deadCooldownMs: AVOID_PEER_MS,
  banMs: BAD_PEER_MS,
  // no endgame duplicates: a fill's batch ends at every miss, and asking a second parent for each batch's tail
  // doubled parents' load for it (9 of 16 chunks asked twice in fill.test); a slow source is left by the stall rule
  maxRequestersPerChunk: 1
}

export interface FillStats {
  bytes: Record<SourceKind, number>
  bySource: Record<string, number>
  failures: number
  collapsed: number
}

export interface FillerOptions {
  host: ReelnetHost
  store: ChunkStore
  main: MainClient
  selfPeerId: string
  role: 'parent' | 'edge'
  /** The region's parents and edges in the current rules. */
  regionMembers: () => { parents: NodeEntry[], edges: NodeEntry[] }
  /** Stops every fetch at shutdown. */
  signal: AbortSignal
  log?: (msg: string) => void
  /** A chunk of this item was stored (edges announce the item in the DHT). */
  onStored?: (manifest: Manifest, index: number) => void
  /** A verified chunk arrived from a source (for metrics). */
  onFetched?: (kind: SourceKind, sourceId: string, bytes: number) => void
  /** A source failed; `penalty` is what the engine does about it (for metrics and logs). */
  onSourceFailed?: (kind: SourceKind, sourceId: string, err: Error, penalty: Penalty, at?: { itemId: string, chunkIndex: number }) => void
  /** Time and timers for stalls, penalties and caches (default the system's); tests hand a FakeClock. */
  clock?: Clock
  /** How chunks are fetched from region members (fast lane, libp2p fallback); default libp2p only. */
  transport?: ChunkTransport
  /** Engine limits over FILL_LIMITS (tests). */
  limits?: Partial<SchedulerLimits>
}

interface EdgeHolder { peer: NodeEntry, bits: { get: (i: number) => boolean } }

export class Filler {
  readonly stats: FillStats = { bytes: { edge: 0, parent: 0, peer: 0, origin: 0 }, bySource: {}, failures: 0, collapsed: 0 }
  /** The running fill engine of each item. */
  private readonly engines = new Map<string, Scheduler>()
  /** One penalty map for every fill: a source kept out of one item's fill is kept out of the next. */
  private readonly penalties = new PenaltyMap(id => id === ORIGIN_SOURCE_ID)
  private readonly providerCache = new Map<string, { at: number, edges: EdgeHolder[] }>()

  private readonly clock: Clock
  private readonly transport: ChunkTransport

  constructor (private readonly opts: FillerOptions) {
    this.clock = opts.clock ?? systemClock
    this.transport = opts.transport ?? createChunkTransport({ host: opts.host })
  }

  /** Chunks being fetched right now. */
  get inFlight (): number {
    let n = 0
    for (const e of this.engines.values()) n += e.pending
    return n
  }

  /**
   * The verified bytes of chunk `index`, from the store or fetched. `priority`: urgent when a customer waits on it
   * (the default), background for work nobody waits on (a catalog copy, a preposition).
   */
  async get (manifest: Manifest, index: number, signal: AbortSignal, priority: Priority = 'urgent'): Promise<Uint8Array> {
    const hash = manifest.chunkHashes[index]
    if (hash === undefined) throw new RangeError(`chunk ${index} out of range for ${manifest.itemId}`)
    const stored = await this.opts.store.get(hash)
    if (stored !== null) return stored
    // an engine that ended since it was looked up is replaced once; the store is read again in between
    for (let attempt = 0; attempt < 2; attempt++) {
      const running = this.engines.get(manifest.itemId)
      const engine = running !== undefined && !running.isClosed ? running : this.engineFor(manifest)
      if (engine.wants(index)) this.stats.collapsed++
      const chunk = engine.want(index, priority)
      if (chunk === undefined) {
        const again = await this.opts.store.get(hash)
        if (again !== null) return again
        if (this.engines.get(manifest.itemId) === engine) this.engines.delete(manifest.itemId)
        continue
      }
      const readahead: Priority = priority === 'urgent' ? 'normal' : priority
      for (let i = index + 1, n = 1; i < manifest.chunkCount && n < FILL_BATCH_CHUNKS; i++, n++) {
        if (this.opts.store.has(manifest.chunkHashes[i]!) || engine.wants(i)) break
        engine.want(i, readahead)
      }
      this.start(manifest, engine)
      this.refresh(manifest, engine)
      try {
        return await raceSignal(chunk, signal)
      } catch (err) {
        if (signal.aborted || this.opts.signal.aborted) throw err
        throw new NoSourceError(`no source could provide chunk ${index} of ${manifest.itemId}: ${(err as Error).message}`)
      }
    }
    throw new NoSourceError(`no source could provide chunk ${index} of ${manifest.itemId}: its fill ended twice`)
  }

  /** A new fill engine for the item, not started: its first chunks are wanted before it runs. */
  private engineFor (manifest: Manifest): Scheduler {
    const last = manifest.chunkCount - 1
    const engine = new Scheduler({
      chunkCount: manifest.chunkCount,
      chunkLength: i => i < last ? manifest.chunkSize : manifest.size - manifest.chunkSize * last,
      onDemand: true,
      penalties: this.penalties,
      // verifiedChunk, not verifyChunk: it marks these very bytes as checked, so the store's putVerified takes them
      // without a second SHA-256 and keeps them in its recent set (the engine hands the same object to `store`; a
      // bare check left them a cast, which the store hashed again and then read back from disk for the send)
      verify: (i, bytes) => { try { verifiedChunk(manifest, i, bytes); return true } catch { return false } },
      store: async (i, chunk, source) => { await this.deliver(manifest, i, chunk, source) },
      fallbackKinds: ['origin'],
      signal: this.opts.signal,
      clock: this.clock,
      limits: { ...FILL_LIMITS, ...this.opts.limits },
      onEvent: e => { this.onEvent(manifest, e) }
    })
    this.engines.set(manifest.itemId, engine)
    return engine
  }

  private readonly started = new WeakSet<Scheduler>()
  /** When each running engine's sources were last looked up (a lookup under way counts as now). */
  private readonly lookedUp = new WeakMap<Scheduler, number>()

  /**
   * An engine that keeps running (a customer reading a long item through this edge) looks its sources up again once
   * the provider cache has expired, so an edge that came to hold the item or a parent new in the rules joins in;
   * sources it already has, and those kept out, are skipped by addSources.
   */
  private refresh (manifest: Manifest, engine: Scheduler): void {
    const at = this.lookedUp.get(engine)
    if (at === undefined || this.clock.now() - at < PROVIDER_CACHE_MS) return
    this.lookedUp.set(engine, this.clock.now())
    this.sourcesFor(manifest).then(sources => { if (!engine.isClosed) engine.addSources(sources) }, () => {})
  }

  /** Find the item's sources, then run its engine until nothing it was asked for is left (or none can give it). */
  private start (manifest: Manifest, engine: Scheduler): void {
    if (this.started.has(engine)) return
    this.started.add(engine)
    this.lookedUp.set(engine, this.clock.now())
    const done = (): void => { if (this.engines.get(manifest.itemId) === engine) this.engines.delete(manifest.itemId) }
    this.sourcesFor(manifest).catch(() => [this.originSource(manifest)]).then(async sources => {
      engine.addSources(sources)
      await engine.run()
    }).catch((err: unknown) => {
      if (!this.opts.signal.aborted) this.opts.log?.(`fill ${manifest.itemId} ended: ${(err as Error).message}`)
    }).finally(done)
  }

  private onEvent (manifest: Manifest, e: SchedulerEvent): void {
    if (e.type === 'failure') {
      this.stats.failures++
      const err = new Error(e.error.startsWith(`${e.errorName}: `) ? e.error.slice(e.errorName.length + 2) : e.error)
      err.name = e.errorName
      this.sourceFailed(manifest, e.kind, e.source, err, e.penalty, e.index)
    } else if (e.type === 'bad-chunk') {
      this.stats.failures++
      this.sourceFailed(manifest, e.kind, e.source, new ChunkHashMismatchError(`chunk ${e.index} of ${manifest.itemId} does not match its hash`), 'ban', e.index)
    } else if (e.type === 'drop') {
      this.opts.log?.(`fill ${manifest.itemId}: ${e.kind} ${e.source.slice(-8)} left the fill (${e.reason})`)
    }
  }

  private sourceFailed (manifest: Manifest, kind: SourceKind, id: string, err: Error, penalty: Penalty, index: number): void {
    this.opts.onSourceFailed?.(kind, id, err, kind === 'origin' ? 'none' : penalty, { itemId: manifest.itemId, chunkIndex: index })
    if (kind !== 'origin') this.providerCache.delete(manifest.itemId)
    this.opts.log?.(`fill ${manifest.itemId} [${index}..] from ${kind} ${id.slice(-8)} failed (${err.name}: ${err.message})`)
  }

  private isBad (peerId: string): boolean {
    return this.penalties.isPenalised(peerId, this.clock.now())
  }

  /** Region edges (not us) that hold some of the item, with their bitfields; from the DHT, cached briefly. */
  private async edgeHolders (manifest: Manifest): Promise<EdgeHolder[]> {
    const cached = this.providerCache.get(manifest.itemId)
    if (cached !== undefined && this.clock.now() - cached.at < PROVIDER_CACHE_MS) return cached.edges
    const { edges } = this.opts.regionMembers()
    const byId = new Map(edges.filter(e => e.peerId !== this.opts.selfPeerId && !this.isBad(e.peerId)).map(e => [e.peerId, e]))
    const found = new Set<string>()
    if (byId.size > 0) {
      const signal = AbortSignal.any([this.opts.signal, AbortSignal.timeout(FIND_PROVIDERS_TIMEOUT_MS)])
      try {
        for await (const evt of this.opts.host.services.dht.findProviders(itemCid(manifest.merkleRoot), { signal })) {
          if (evt.name === 'PROVIDER') {
            for (const p of evt.providers) {
              const id = (p.id as PeerId).toString()
              if (byId.has(id)) found.add(id)
            }
            if (found.size >= byId.size) break
          }
        }
      } catch { /* timeout or empty DHT: fall back to parents */ }
    }
    const holders: EdgeHolder[] = []
    await Promise.all([...found].map(async id => {
      const peer = byId.get(id)!
      try {
        const bits = await fetchHave(this.opts.host, peer, { itemId: manifest.itemId }, { signal: this.opts.signal })
        if (bits !== null && bits.length === manifest.chunkCount) holders.push({ peer, bits })
      } catch { /* unreachable edge */ }
    }))
    this.providerCache.set(manifest.itemId, { at: this.clock.now(), edges: holders })
    return holders
  }

  /** Every source for the item: region edges that hold some of it and the region's parents (edges only), main's origin last. */
  private async sourcesFor (manifest: Manifest): Promise<DownloadSource[]> {
    const sources: DownloadSource[] = []
    if (this.opts.role === 'edge') {
      for (const h of await this.edgeHolders(manifest)) sources.push(this.regionSource(manifest, 'edge', h.peer, i => h.bits.get(i)))
      for (const p of this.opts.regionMembers().parents) {
        if (p.peerId !== this.opts.selfPeerId && !this.isBad(p.peerId)) sources.push(this.regionSource(manifest, 'parent', p))
      }
    }
    sources.push(this.originSource(manifest))
    return sources
  }

  private regionSource (manifest: Manifest, kind: 'edge' | 'parent', peer: NodeEntry, has?: (i: number) => boolean): DownloadSource {
    return {
      id: peer.peerId,
      kind,
      has,
      fetch: async (indexes, { signal, onChunk, onBytes }) => {
        await this.transport.fetch(peer, { itemId: manifest.itemId, indexes }, { signal, onBytes, onChunk: (i, bytes) => onChunk(i, ownBytes(bytes)) })
      }
    }
  }

  private originSource (manifest: Manifest): DownloadSource {
    return {
      id: ORIGIN_SOURCE_ID,
      kind: 'origin',
      maxRequests: ORIGIN_CONCURRENCY,
      fetch: async (indexes, { signal, onChunk }) => {
        for (const i of indexes) await onChunk(i, await this.opts.main.getOriginChunk(manifest.itemId, i, { signal }))
      }
    }
  }

  private async deliver (manifest: Manifest, index: number, chunk: VerifiedChunk, source: DownloadSource): Promise<void> {
    try {
      await this.opts.store.putVerified(manifest.chunkHashes[index]!, chunk)
      this.opts.onStored?.(manifest, index)
    } catch (err) {
      this.opts.log?.(`chunk ${manifest.itemId}#${index} not stored: ${(err as Error).message}`)
    }
    this.stats.bytes[source.kind] += chunk.length
    this.stats.bySource[source.id] = (this.stats.bySource[source.id] ?? 0) + chunk.length
    this.opts.onFetched?.(source.kind, source.id, chunk.length)
  }

  /** Is every chunk of the item in the store? */
  isComplete (manifest: Manifest): boolean {
    return manifest.chunkHashes.every(h => this.opts.store.has(h))
  }

  /** Missing chunk indexes of an item. */
  missing (manifest: Manifest): number[] {
    const out: number[] = []
    manifest.chunkHashes.forEach((h, i) => { if (!this.opts.store.has(h)) out.push(i) })
    return out
  }
}

/**
 * The bytes to keep of a received chunk: a copy only when they are a view into a larger receive buffer, which keeping
 * them would pin; a whole chunk frame arrives in a buffer of its own (frame header + chunk), and copying it anyway
 * cost a memcpy and a 1 MiB allocation (and the GC work that follows) per chunk.
 */
function ownBytes (bytes: Uint8Array): Uint8Array {
  return bytes.buffer.byteLength - bytes.byteLength <= MAX_UNCOPIED_SLACK_BYTES ? bytes : Uint8Array.from(bytes)
}

async function raceSignal<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(v => { signal.removeEventListener('abort', onAbort); resolve(v) }, e => { signal.removeEventListener('abort', onAbort); reject(e) })
  })
}

export { hex }
