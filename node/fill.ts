/**
 * Filling the store on a miss. A miss for chunk i of an item starts one
 * fetch of a short run of missing chunks (i and the next few: readahead),
 * shared among every region source that holds them at once — edges that
 * hold some (found through the region DHT and have-bitfields) and the
 * region's parents, each its share by measured throughput — and main's
 * origin last, for what no region source could give. Concurrent misses for the same chunk share
 * that fetch (request collapsing). Each chunk is verified against the
 * manifest, stored, and handed to every waiter as soon as it arrives; a
 * source that fails or sends a bad chunk hands the rest to the next source.
 */
import type { PeerId } from '@libp2p/interface'
import { verifiedChunk } from '../protocol/chunking.ts'
import { CHUNK_DATA_HEADER_BYTES } from '../protocol/wire/limits.ts'
import { REQUEST_ID_BYTES } from '../protocol/wire/fast-lane.ts'
import { itemCid } from '../protocol/cid.ts'
import type { Manifest, NodeEntry } from '../protocol/types.ts'
import { createChunkTransport, type ChunkTransport } from './fast-lane/transport.ts'
import { fetchHave } from './have-client.ts'
import { FillStalledError, NoSourceError, penaltyFor, type Penalty } from './errors.ts'
import { systemClock, type Clock } from './clock.ts'
import type { ReelnetHost } from './host.ts'
import type { MainClient } from './main-client.ts'
import { hex, type ChunkStore } from './store/chunk-store.ts'

/** Chunks fetched together on a miss: the missed one plus readahead, so a sequential reader never waits a round trip per chunk. */
export const FILL_BATCH_CHUNKS = 16
/** A source that delivers no chunk for this long is abandoned to the next source (a deadline per chunk, not per batch, so a slow but steady source keeps going). */
export const FILL_STALL_TIMEOUT_MS = 15_000
/** Bytes of a chunk that count as progress against FILL_STALL_TIMEOUT_MS (so at least ~17 KiB/s keeps a fill alive). */
export const FILL_PROGRESS_BYTES = 256 * 1024
/** How long DHT provider lookups (and have answers) for an item are reused. */
export const PROVIDER_CACHE_MS = 3_000
/** A DHT provider lookup is cut off after this long; a region's DHT answers in tens of ms. */
export const FIND_PROVIDERS_TIMEOUT_MS = 2_000
/** Origin chunks fetched in parallel per batch (HTTP, one chunk per request). */
export const ORIGIN_CONCURRENCY = 4
/** A received chunk is kept without a copy when its buffer holds at most this many other bytes (a data frame's header, and the fast lane's request id). */
export const MAX_UNCOPIED_SLACK_BYTES = REQUEST_ID_BYTES + CHUNK_DATA_HEADER_BYTES
/** A peer that sent a bad chunk or broke the protocol is skipped for this long. */
export const BAD_PEER_MS = 10 * 60_000
/** The rate (bytes per ms) a source is planned at before one of its fetches was measured: all sources alike. */
export const DEFAULT_SOURCE_RATE = 1
/** Weight of a new fetch's rate in a source's running estimate: a few fetches move it, one slow one does not. */
export const RATE_EWMA_WEIGHT = 0.3
/** Sources whose rate is remembered (forgotten all at once beyond: the cost is a few evenly shared batches). */
export const MAX_TRACKED_SOURCES = 4096

export type SourceKind = 'edge' | 'parent' | 'origin'

export interface FillStats {
  bytes: Record<SourceKind, number>
  bySource: Record<string, number>
  failures: number
  collapsed: number
}

interface Waiter { resolve: (b: Uint8Array) => void, reject: (e: Error) => void, promise: Promise<Uint8Array> }

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
  /** A source failed; `penalty` is what the filler does about it (for metrics and logs). */
  onSourceFailed?: (kind: SourceKind, sourceId: string, err: Error, penalty: Penalty, at?: { itemId: string, chunkIndex: number }) => void
  /** Time and timers for stalls, penalties and caches (default the system's); tests hand a FakeClock. */
  clock?: Clock
  /** How chunks are fetched from region members (fast lane, libp2p fallback); default libp2p only. */
  transport?: ChunkTransport
}

interface Source { kind: SourceKind, id: string, peer?: NodeEntry, has?: (i: number) => boolean }

export class Filler {
  readonly stats: FillStats = { bytes: { edge: 0, parent: 0, origin: 0 }, bySource: {}, failures: 0, collapsed: 0 }
  private readonly pending = new Map<string, Waiter>()
  private readonly badPeers = new Map<string, number>()
  /** Measured throughput per source, bytes per ms. */
  private readonly rates = new Map<string, number>()
  private readonly providerCache = new Map<string, { at: number, edges: Array<{ peer: NodeEntry, bits: { get: (i: number) => boolean } }> }>()

  private readonly clock: Clock
  private readonly transport: ChunkTransport

  constructor (private readonly opts: FillerOptions) {
    this.clock = opts.clock ?? systemClock
    this.transport = opts.transport ?? createChunkTransport({ host: opts.host })
  }

  /** Chunks being fetched right now. */
  get inFlight (): number { return this.pending.size }

  /** The verified bytes of chunk `index`, from the store or fetched. */
  async get (manifest: Manifest, index: number, signal: AbortSignal): Promise<Uint8Array> {
    const hash = manifest.chunkHashes[index]
    if (hash === undefined) throw new RangeError(`chunk ${index} out of range for ${manifest.itemId}`)
    const stored = await this.opts.store.get(hash)
    if (stored !== null) return stored
    const key = `${manifest.itemId}:${index}`
    let w = this.pending.get(key)
    if (w !== undefined) this.stats.collapsed++
    else {
      const batch = [index]
      for (let i = index + 1; i < manifest.chunkCount && batch.length < FILL_BATCH_CHUNKS; i++) {
        const h = manifest.chunkHashes[i]!
        if (this.opts.store.has(h) || this.pending.has(`${manifest.itemId}:${i}`)) break
        batch.push(i)
      }
      for (const i of batch) this.pending.set(`${manifest.itemId}:${i}`, deferred())
      w = this.pending.get(key)!
      void this.fetchBatch(manifest, batch)
    }
    return await raceSignal(w.promise, signal)
  }

  private settle (manifest: Manifest, index: number, bytes: Uint8Array | Error): void {
    const key = `${manifest.itemId}:${index}`
    const w = this.pending.get(key)
    if (w === undefined) return
    this.pending.delete(key)
    if (bytes instanceof Error) w.reject(bytes)
    else w.resolve(bytes)
  }

  private isBad (peerId: string): boolean {
    const until = this.badPeers.get(peerId)
    return until !== undefined && until > this.clock.now()
  }

  /** Region edges (not us) that hold some of the item, with their bitfields; from the DHT, cached briefly. */
  private async edgeHolders (manifest: Manifest): Promise<Array<{ peer: NodeEntry, bits: { get: (i: number) => boolean } }>> {
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
    const holders: Array<{ peer: NodeEntry, bits: { get: (i: number) => boolean } }> = []
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

  private async sourcesFor (manifest: Manifest, batch: number[]): Promise<Source[]> {
    const sources: Source[] = []
    if (this.opts.role === 'edge') {
      const holders = await this.edgeHolders(manifest)
      holders.sort((a, b) => batch.filter(i => b.bits.get(i)).length - batch.filter(i => a.bits.get(i)).length)
      for (const h of holders) sources.push({ kind: 'edge', id: h.peer.peerId, peer: h.peer, has: i => h.bits.get(i) })
      for (const p of this.opts.regionMembers().parents) {
        if (p.peerId !== this.opts.selfPeerId && !this.isBad(p.peerId)) sources.push({ kind: 'parent', id: p.peerId, peer: p })
      }
    }
    sources.push({ kind: 'origin', id: 'origin' })
    return sources
  }

  private async deliver (manifest: Manifest, index: number, bytes: Uint8Array, source: Source): Promise<void> {
    // A copy only when the bytes are a view into a larger receive buffer, which keeping them would pin;
    // a whole chunk frame arrives in a buffer of its own (frame header + chunk), and copying it anyway
    // cost a memcpy and a 1 MiB allocation (and the GC work that follows) per chunk.
    const own = verifiedChunk(manifest, index, bytes.buffer.byteLength - bytes.byteLength <= MAX_UNCOPIED_SLACK_BYTES ? bytes : Uint8Array.from(bytes))
    try {
      await this.opts.store.putVerified(manifest.chunkHashes[index]!, own)
      this.opts.onStored?.(manifest, index)
    } catch (err) {
      this.opts.log?.(`chunk ${manifest.itemId}#${index} not stored: ${(err as Error).message}`)
    }
    this.stats.bytes[source.kind] += own.length
    this.stats.bySource[source.id] = (this.stats.bySource[source.id] ?? 0) + own.length
    this.opts.onFetched?.(source.kind, source.id, own.length)
    this.settle(manifest, index, own)
  }

  private async fetchBatch (manifest: Manifest, batch: number[]): Promise<void> {
    let remaining = new Set(batch)
    let lastError: Error | undefined
    try {
      const sources = await this.sourcesFor(manifest, batch)
      const peers = sources.filter(s => s.kind !== 'origin')
      const failed = new Set<string>()
      // Rounds: each chunk to one region source that holds it, every source at once (shares by measured
      // throughput); a source that fails leaves the batch and its chunks go to the others in the next round.
      // Each round either delivers every chunk it planned or loses a source, so the rounds end.
      while (remaining.size > 0 && !this.opts.signal.aborted) {
        const plan = this.plan([...remaining], peers.filter(p => !failed.has(p.id)))
        if (plan.size === 0) break
        const results = await Promise.all([...plan].map(async ([source, want]) => ({ source, err: await this.fetchFrom(manifest, source, want, remaining) })))
        for (const r of results) if (r.err !== undefined) { failed.add(r.source.id); lastError = r.err }
        remaining = new Set([...remaining].filter(i => this.pending.has(`${manifest.itemId}:${i}`)))
      }
      const origin = sources.find(s => s.kind === 'origin')
      if (remaining.size > 0 && origin !== undefined && !this.opts.signal.aborted) {
        lastError = await this.fetchFrom(manifest, origin, [...remaining], remaining) ?? lastError
        remaining = new Set([...remaining].filter(i => this.pending.has(`${manifest.itemId}:${i}`)))
      }
    } catch (err) {
      lastError = err as Error
    }
    for (const i of remaining) {
      this.settle(manifest, i, new NoSourceError(`no source could provide chunk ${i} of ${manifest.itemId}${lastError !== undefined ? `: ${lastError.message}` : ''}`))
    }
  }

  /** Which source asks for which chunks: each chunk to a holder with the least planned work for its measured rate. */
  private plan (indexes: number[], sources: Source[]): Map<Source, number[]> {
    const plan = new Map<Source, number[]>()
    for (const i of indexes) {
      let best: Source | undefined
      let bestCost = Infinity
      for (const s of sources) {
        if (s.has !== undefined && !s.has(i)) continue
        const cost = ((plan.get(s)?.length ?? 0) + 1) / (this.rates.get(s.id) ?? DEFAULT_SOURCE_RATE)
        if (cost < bestCost) { best = s; bestCost = cost }
      }
      if (best === undefined) continue
      let list = plan.get(best)
      if (list === undefined) { list = []; plan.set(best, list) }
      list.push(i)
    }
    return plan
  }

  /** Fetch `want` from one source, with the stall deadline; the error (after penalties) or undefined. */
  private async fetchFrom (manifest: Manifest, source: Source, want: number[], remaining: Set<number>): Promise<Error | undefined> {
    const stall = new AbortController()
    const stalled = (): void => { stall.abort(new FillStalledError(`no chunk for ${FILL_STALL_TIMEOUT_MS} ms`)) }
    let timer = this.clock.setTimeout(stalled, FILL_STALL_TIMEOUT_MS)
    const progress = (): void => {
      this.clock.clearTimeout(timer)
      timer = this.clock.setTimeout(stalled, FILL_STALL_TIMEOUT_MS)
    }
    const signal = AbortSignal.any([this.opts.signal, stall.signal])
    const started = this.clock.now()
    let got = 0
    try {
      if (source.kind === 'origin') {
        await this.fromOrigin(manifest, want, source, remaining, signal, progress)
      } else {
        // a chunk, or FILL_PROGRESS_BYTES of one, resets the stall timer: a busy parent shares its uplink
        // among many streams, and a slow fill that is moving is not a dead one
        let moved = 0
        await this.transport.fetch(source.peer!, { itemId: manifest.itemId, indexes: want }, {
          signal,
          onBytes: n => { moved += n; if (moved >= FILL_PROGRESS_BYTES) { moved = 0; progress() } },
          onChunk: async (i, bytes) => { moved = 0; progress(); got += bytes.length; await this.deliver(manifest, i, bytes, source); remaining.delete(i) }
        })
        const ms = this.clock.now() - started
        if (ms > 0 && got > 0) {
          const r = got / ms
          const old = this.rates.get(source.id)
          this.rates.set(source.id, old === undefined ? r : old * (1 - RATE_EWMA_WEIGHT) + r * RATE_EWMA_WEIGHT)
          if (this.rates.size > MAX_TRACKED_SOURCES) this.rates.clear()
        }
      }
      this.clock.clearTimeout(timer)
      return undefined
    } catch (err) {
      this.clock.clearTimeout(timer)
      this.stats.failures++
      const p = source.kind === 'origin' ? 'none' : penaltyFor(err)
      this.opts.onSourceFailed?.(source.kind, source.id, err as Error, p, { itemId: manifest.itemId, chunkIndex: want[0] ?? 0 })
      if (source.kind !== 'origin') {
        if (p === 'ban' || p === 'avoid') this.badPeers.set(source.id, this.clock.now() + (p === 'ban' ? BAD_PEER_MS : PROVIDER_CACHE_MS * 5))
        this.providerCache.delete(manifest.itemId)
      }
      this.opts.log?.(`fill ${manifest.itemId} [${want[0]}..] from ${source.kind} ${source.id.slice(-8)} failed (${(err as Error).name}: ${(err as Error).message}); ${remaining.size} chunks to other sources`)
      return err as Error
    }
  }

  private async fromOrigin (manifest: Manifest, want: number[], source: Source, remaining: Set<number>, signal: AbortSignal, progress: () => void): Promise<void> {
    let next = 0
    let firstError: Error | undefined
    const worker = async (): Promise<void> => {
      while (next < want.length && firstError === undefined) {
        const i = want[next++]!
        try {
          const bytes = await this.opts.main.getOriginChunk(manifest.itemId, i, { signal })
          progress()
          await this.deliver(manifest, i, bytes, source)
          remaining.delete(i)
        } catch (err) {
          firstError ??= err as Error
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(ORIGIN_CONCURRENCY, want.length) }, worker))
    if (firstError !== undefined) throw firstError
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

function deferred (): Waiter {
  let resolve!: (b: Uint8Array) => void
  let reject!: (e: Error) => void
  const promise = new Promise<Uint8Array>((res, rej) => { resolve = res; reject = rej })
  promise.catch(() => {})
  return { resolve, reject, promise }
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
