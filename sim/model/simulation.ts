/**
 * The model: requests arrive, main answers each with a directive ranked by
 * protocol's rankPeers, the client pulls chunks from the directive's sources
 * through each sender's uplink queue, edges fill on miss (and on
 * prepositioning) under protocol's eviction policy, clients seed what they
 * hold while online and licensed, and clients come and go.
 *
 * Transfers are modelled per chunk: a chunk sent by node s to node r starts
 * when the request reaches s and s's uplink is free (uplinks are FIFO
 * queues: the link column `LINK_UP_FREE` says when the last queued chunk leaves), takes
 * size/uplink, then needs r's downlink (another FIFO) and one latency more.
 * Each chunk is one event, at its arrival.
 */
import type { EvictionPolicy } from '../../protocol/policy/eviction.ts'
import { createEvictionPolicy } from '../../protocol/policy/eviction.ts'
import { planPreposition, PREPOSITION_MAX_TOP_N, type DemandEvent } from '../../protocol/policy/preposition.ts'
import { EventQueue } from '../engine/queue.ts'
import { createIndexStream, createStream, exponential, Zipf, type IndexStream, type Rng } from '../engine/streams.ts'
import { MAX_CHUNKS_PER_ITEM, type Scenario } from '../scenario.ts'
import type { TraceBatch } from '../trace/read.ts'
import { Catalog } from './catalog.ts'
import { Clients } from './clients.ts'
import { candidateOf, rankSources, regionName, type SourceCandidate } from './directive.ts'
import { CHUNK_HAVE, CHUNK_MISSING, CHUNK_REQUESTED, DL_CLIENT, DL_EDGE_FILL, DL_FIELDS, DL_PARENT_FILL, DL_ABORTED, DL_CHUNKS, DL_CHUNK_AT, DL_HAVE, DL_ITEM, DL_KIND, DL_LIVE, DL_MISS_LEN, DL_NEXT_IN_ORDER, DL_NODE, DL_ON_DEMAND, DL_OUTSTANDING, DL_PLAYABLE, DL_PREFIX, DL_RARITY_AT, DL_RETRYING, DL_SOURCE_COUNT, Downloads } from './downloads.ts'
import { Samples, Series, Totals } from './metrics.ts'
import { LINK_DOWN, LINK_DOWN_FREE, LINK_FIELDS, LINK_UP, LINK_UP_FREE, ROLE_CLIENT, ROLE_EDGE, ROLE_ORIGIN, ROLE_PARENT, World } from './world.ts'

// event kinds
const EV_ARRIVAL = 0
const EV_SPIKE_ARRIVAL = 1
const EV_FLASH = 2
const EV_DL_START = 3
const EV_CHUNK = 4
const EV_REFRESH = 5
const EV_CHURN = 6
const EV_SAMPLE = 7
const EV_PREPOSITION = 8
const EV_RELEASE = 9
const EV_RETRY = 10
const EV_FAIL = 11
const EV_RECOVER = 12
const EV_LOST = 13
const EV_TRACE = 14
const EV_DEFERRED = 15

const HOLD_NONE = 0
const HOLD_ALL = 1
const HOLD_SOME = 2
const HOLD_UNKNOWN = 3
const NO_FILL = -1

/** The swarm arena's starting room in chunks (it doubles as needed). */
const SWARM_ARENA_INITIAL = 1 << 16
/** Random chunks compared when picking the rarest one (BitTorrent's rarest-first, sampled to stay O(1)). */
export const RAREST_SAMPLES = 8
/** A download that finds no source it may ask (none holds a missing chunk, or all are queued full) looks again after this long (seconds). */
export const STALL_RETRY_SECONDS = 0.25
/** Random picks from an item's holder list per directive, as a multiple of the sources wanted. */
export const PEER_SAMPLE_FACTOR = 2
/** Kademlia resolves about this many bits of the key per hop (log2(n)/4 hops: α = 3 parallel lookups, 16-wide buckets). */
export const DHT_BITS_PER_HOP = 4
/** A source's load for ranking: its queued upload seconds over this horizon, capped at 1. */
export const LOAD_HORIZON_SECONDS = 10
/** A read-through edge fetches the missed chunk and up to this many more after it (node/server/fill.ts FILL_BATCH_CHUNKS: 16 in all). */
export const READ_AHEAD_CHUNKS = 15
/** The run checks its progress (and the callback) every this many events. */
export const PROGRESS_EVERY = 1 << 16

export interface SimOptions {
  /** Called every PROGRESS_EVERY events with the simulated time (s) and events processed. */
  onProgress?: (simSeconds: number, events: number) => void
  /** Checked every PROGRESS_EVERY events: true ends the run early (a wall-clock budget). */
  shouldStop?: () => boolean
  /** Called at each edge request with the policy's answer (for the policy-identity test). */
  onEdgeRequest?: (edge: number, item: number, hit: boolean) => void
  /** The requests of a trace workload, in time order (a TraceReader; the caller opens and closes it). */
  requests?: RequestSource
  /** Called at each sample time, after the row is written (for tests that watch the state). */
  onSample?: (sim: Simulation, t: number) => void
}

/** Where a trace workload's requests come from: batches in time order, null at the end. */
export interface RequestSource {
  next: () => TraceBatch | null
}

export class SimulationError extends Error {
  name = 'SimulationError'
}

export class Simulation {
  readonly s: Scenario
  readonly seed: number
  readonly world: World
  readonly catalog: Catalog
  readonly q = new EventQueue()
  readonly dl: Downloads
  readonly totals = new Totals()
  readonly series = new Series()
  readonly downloadTimes = new Samples()
  readonly startupDelays = new Samples()
  readonly end: number
  events = 0
  /** True if shouldStop ended the run before the scenario's end. */
  stoppedEarly = false
  /** Wall time spent building the initial state (a bench figure, never in the metrics). */
  setupSeconds = 0

  private readonly rngArrivals: Rng
  private readonly rngItems: Rng
  private readonly rngClients: Rng
  private readonly rngChurn: Rng
  private readonly rngChunks: IndexStream
  private readonly rngPeers: Rng
  private readonly rngSpike: Rng
  private readonly zipf: Zipf
  private readonly opts: SimOptions

  // per-client columns
  private readonly clients: Clients

  // infrastructure state
  private readonly policies: Array<EvictionPolicy<number>> = []
  /**
   * Per edge·items + item, two int32s side by side (one cache line for both,
   * which the per-chunk path reads together): at 2·key 1 while the edge's
   * policy holds the item (a mirror of `policy.has`, kept in step with every
   * insert, the only way membership changes here, so the chunk path reads an
   * int instead of the policy's map), at 2·key + 1 the fill download in
   * flight, or NO_FILL.
   */
  private readonly edgeState: Int32Array
  /** parent·items + item → 1 once the parent holds the item. */
  private readonly parentHas: Uint8Array
  private readonly parentFill = new Map<number, number>()
  /** region·items + item → clients that hold it or are fetching it (pruned lazily). */
  private readonly holders = new Map<number, number[]>()
  /** region·items + item → per chunk, how many region downloads have requested it (rarest-first). */
  private readonly swarm = new Map<number, number>()
  /** The swarms' counts, one block of the item's chunk count each (offsets in `swarm`, DL_RARITY_AT); doubles as needed. */
  private swarmArena = new Int32Array(SWARM_ARENA_INITIAL)
  private swarmUsed = 0
  /** Requests since the last preposition plan, as protocol's planner takes them. */
  private demand: DemandEvent[] = []

  private readonly penalty = new Float64Array(4)
  /** Scratch: the current download's per-source costs. */
  private readonly costs = new Float64Array(256)
  private readonly order = new Int32Array(256)
  /** Scratch: per source of the current download, its chunk states (null: holds the whole item). */
  private readonly srcAt = new Int32Array(256)
  private readonly srcKind = new Uint8Array(256)
  /** Scratch: the current pick's sampled positions in the missing list. */
  private readonly sampled = new Int32Array(RAREST_SAMPLES)
  /** Scratch: the current pick's partial sources before the first full one: their places in the cost order, where their chunk states start. */
  private readonly partPos = new Int32Array(256)
  private readonly partAt = new Int32Array(256)
  private partialAt = 0
  private readonly window: number
  private readonly prepositionOn: boolean
  private readonly maxQueue: number
  private readonly startupChunks: number
  /** Chunks fetched in order before rarest-first: the startup chunks, or all of them (download.sequential). */
  private readonly inOrderChunks: number
  private readonly peerAssist: boolean
  private readonly licenseSeconds: number
  private readonly maxSources: number
  private readonly refresh: number
  private readonly maxRate: number
  private readonly dhtDelay: number
  private readonly listAfter: number
  private readonly readThrough: boolean
  private readonly allEdges: boolean
  private lastRow: number[] = []
  private lastFaultRow: number[] = [0, 0, 0, 0, 0]
  // trace workload: the batch being replayed, where in it, the first request's trace time
  private traceBatch: TraceBatch | null = null
  private traceAt = 0
  private traceStart = 0
  /** Trace requests replayed, and those skipped for naming an object beyond the catalog. */
  traceRequests = 0
  traceSkipped = 0
  // faults (all idle when the scenario has none)
  private readonly faultsOn: boolean
  private readonly rngFaults: Rng
  private readonly rngSeeding: Rng
  /** When each node last went down (seconds), or -1 while up. */
  private readonly downAt: Float64Array
  private readonly detect: number
  private readonly failover: number
  private nodesDown = 0
  /** Per-interval extras of the fault series: lost chunks and the sum of completed download times. */
  faultTotals = { failures: 0, recoveries: 0, lostChunks: 0, failovers: 0, downSeconds: 0, downloadSecondsSum: 0 }

  constructor (s: Scenario, seed: number, opts: SimOptions = {}) {
    const started = performance.now()
    this.s = s
    this.seed = seed
    this.opts = opts
    this.world = new World(s, seed)
    this.catalog = new Catalog(s, seed)
    this.end = s.durationHours * 3600
    this.maxSources = s.directive.maxSources
    this.refresh = s.directive.refreshSeconds
    this.dl = new Downloads(this.maxSources + 1)
    this.rngArrivals = createStream(seed, 'arrivals')
    this.rngItems = createStream(seed, 'items')
    this.rngClients = createStream(seed, 'clients')
    this.rngChurn = createStream(seed, 'churn')
    this.rngChunks = createIndexStream(seed, 'chunks')
    this.rngPeers = createStream(seed, 'peers')
    this.rngSpike = createStream(seed, 'spike')
    this.rngFaults = createStream(seed, 'faults')
    this.rngSeeding = createStream(seed, 'seeding')
    this.zipf = new Zipf(s.catalog.items, s.catalog.zipfAlpha)

    const w = this.world
    this.clients = new Clients(w, s.peerAssist.keepItems)
    this.seen = new Int32Array(w.clientCount)

    const items = this.catalog.count
    for (let e = 0; e < w.regions * w.edgesPerRegion; e++) this.policies.push(createEvictionPolicy<number>(s.edge.eviction, s.edge.capacityBytes))
    this.edgeState = new Int32Array(2 * w.regions * w.edgesPerRegion * items)
    for (let i = 1; i < this.edgeState.length; i += 2) this.edgeState[i] = NO_FILL
    this.parentHas = new Uint8Array(w.regions * w.parentsPerRegion * items)
    for (let i = 0; i < items; i++) {
      if (this.catalog.releasedAt[i] === 0) for (let p = 0; p < w.regions * w.parentsPerRegion; p++) this.parentHas[p * items + i] = 1
    }

    this.penalty[ROLE_PARENT] = s.download.parentPenaltyMs / 1000
    this.penalty[ROLE_ORIGIN] = s.download.parentPenaltyMs / 1000
    this.penalty[ROLE_EDGE] = s.download.edgePenaltyMs / 1000
    this.penalty[ROLE_CLIENT] = s.download.peerPenaltyMs / 1000
    this.window = s.download.window
    this.prepositionOn = s.preposition?.enabled === true && w.edgesPerRegion > 0
    this.maxQueue = s.download.maxQueueSeconds
    this.startupChunks = s.download.startupChunks
    this.inOrderChunks = s.download.sequential ? MAX_CHUNKS_PER_ITEM : s.download.startupChunks
    this.peerAssist = s.peerAssist.enabled
    this.licenseSeconds = s.peerAssist.licenseHours * 3600
    this.listAfter = s.peerAssist.listAfterChunks
    this.readThrough = s.edge.readThrough
    this.allEdges = s.directive.allEdges
    if (this.readThrough) this.dl.trackArrivals()
    const hops = Math.max(1, Math.ceil(Math.log2(Math.max(2, w.clientsPerRegion + w.edgesPerRegion + w.parentsPerRegion)) / DHT_BITS_PER_HOP))
    this.dhtDelay = this.peerAssist ? hops * 2 * w.meanIntraLatency() : 0

    this.faultsOn = s.faults !== undefined
    this.downAt = new Float64Array(this.faultsOn ? w.nodeCount : 0).fill(-1)
    this.detect = s.faults?.detectSeconds ?? 0
    this.failover = s.faults?.failoverSeconds ?? 0

    const wl = s.workload
    this.maxRate = wl.type === 'poisson' ? wl.requestsPerHour / 3600 * (1 + (wl.diurnal?.amplitude ?? 0)) : 0
    this.init()
    this.setupSeconds = (performance.now() - started) / 1000
  }

  private init (): void {
    const s = this.s; const w = this.world; const q = this.q
    // who is online at the start: churn's stationary share, else everyone
    const churn = s.churn
    const pOnline = churn === undefined ? 1 : churn.meanOnlineMinutes / (churn.meanOnlineMinutes + churn.meanOfflineMinutes)
    for (let c = 0; c < w.clientCount; c++) {
      const on = churn === undefined || this.rngChurn.next() < pOnline
      if (on) this.clients.setOnline(c)
      else w.online[w.firstClient + c] = 0
      if (churn !== undefined) q.push(exponential(this.rngChurn, (on ? churn.meanOnlineMinutes : churn.meanOfflineMinutes) * 60), EV_CHURN, c)
    }
    const wl = s.workload
    if (wl.type === 'poisson') {
      q.push(exponential(this.rngArrivals, 1 / this.maxRate), EV_ARRIVAL)
      if (wl.spike !== undefined) {
        q.push(wl.spike.atHour * 3600, EV_RELEASE, wl.spike.item)
      }
    } else if (wl.type === 'flash') {
      q.push(wl.atSeconds, EV_FLASH, wl.item)
    } else {
      if (this.opts.requests === undefined) throw new SimulationError('a trace workload needs its requests (SimOptions.requests, a TraceReader)')
      this.traceBatch = this.opts.requests.next()
      if (this.traceBatch !== null) {
        this.traceStart = this.traceBatch.time[0]!
        q.push(0, EV_TRACE)
      }
    }
    if (this.prepositionOn) q.push(s.preposition!.intervalMinutes * 60, EV_PREPOSITION)
    const f = s.faults
    if (f !== undefined) {
      f.schedule.forEach((e, i) => {
        const node = e.role === 'parent' ? w.parent(e.region, e.index) : w.edge(e.region, e.index)
        q.push(e.atHour * 3600, EV_FAIL, node, i)
      })
      // random failures: each node's first failure after an exponential time (a recovery schedules the next)
      const rate = (role: 'parent' | 'edge', first: number, n: number): void => {
        const r = f.rates[role]
        if (r !== undefined) for (let i = 0; i < n; i++) q.push(exponential(this.rngFaults, r.mtbfHours * 3600), EV_FAIL, first + i, -1)
      }
      rate('parent', w.firstParent, w.regions * w.parentsPerRegion)
      rate('edge', w.firstEdge, w.regions * w.edgesPerRegion)
    }
    this.lastRow = this.row(0)
    q.push(Math.min(s.sampleIntervalSeconds, this.end), EV_SAMPLE)
  }

  /** Process events up to the scenario's end (or maxEvents). */
  run (): void {
    const q = this.q; const end = this.end
    const maxEvents = this.s.maxEvents ?? Infinity
    let nextProgress = PROGRESS_EVERY
    while (this.events < maxEvents && q.popUntil(end)) {
      this.events++
      this.dispatch(q.kind, q.a, q.b, q.c)
      if (this.events >= nextProgress) {
        nextProgress += PROGRESS_EVERY
        this.opts.onProgress?.(q.now, this.events)
        if (this.opts.shouldStop?.() === true) { this.stoppedEarly = true; break }
      }
    }
    // close the last partial interval so the series covers the whole run
    if (this.series.rows.length === 0 || this.series.rows[this.series.rows.length - 1]![0]! < q.now) this.sample(q.now, false)
    this.opts.onProgress?.(q.now, this.events)
  }

  private dispatch (kind: number, a: number, b: number, c: number): void {
    switch (kind) {
      case EV_CHUNK: this.onChunk(a, b, c); break
      case EV_ARRIVAL: this.onArrival(); break
      case EV_SPIKE_ARRIVAL: this.onSpikeArrival(); break
      case EV_DL_START: if (this.dl.gen[a] === b) this.pump(a); break
      case EV_RETRY: if (this.dl.gen[a] === b) { this.dl.f[a * DL_FIELDS + DL_RETRYING] = 0; this.pump(a) } break
      case EV_REFRESH: this.onRefresh(a, b); break
      case EV_CHURN: this.onChurn(a); break
      case EV_SAMPLE: this.sample(this.q.now, true); break
      case EV_FLASH: this.onFlash(a); break
      case EV_RELEASE: this.onRelease(a); break
      case EV_PREPOSITION: this.onPreposition(); break
      case EV_FAIL: this.onFail(a, b); break
      case EV_RECOVER: this.onRecover(a, b); break
      case EV_LOST: this.onLost(a, b, c); break
      case EV_TRACE: this.onTrace(); break
      case EV_DEFERRED: this.onDeferred(a, b, c); break
      default: throw new Error(`unknown event kind ${kind}`)
    }
  }

  // ---- demand ---------------------------------------------------------------

  private rateAt (t: number): number {
    const wl = this.s.workload
    if (wl.type !== 'poisson') return 0
    const base = wl.requestsPerHour / 3600
    if (wl.diurnal === undefined) return base
    return base * (1 + wl.diurnal.amplitude * Math.cos(2 * Math.PI * (t / 3600 - wl.diurnal.peakHour) / 24))
  }

  private onArrival (): void {
    const now = this.q.now
    this.q.push(now + exponential(this.rngArrivals, 1 / this.maxRate), EV_ARRIVAL)
    // thinning: accept with probability rate(t)/maxRate (Lewis–Shedler)
    if (this.rngArrivals.next() * this.maxRate >= this.rateAt(now)) return
    let item = this.zipf.sample(this.rngItems)
    if (this.catalog.releasedAt[item]! > now) return // not out yet: no one can rent it
    this.request(item)
  }

  private spikeRate (t: number): number {
    const wl = this.s.workload
    if (wl.type !== 'poisson' || wl.spike === undefined) return 0
    const since = t - wl.spike.atHour * 3600
    return since < 0 ? 0 : wl.spike.requestsPerHour / 3600 * Math.exp(-since / (wl.spike.decayHours * 3600))
  }

  private onSpikeArrival (): void {
    const wl = this.s.workload
    if (wl.type !== 'poisson' || wl.spike === undefined) return
    const now = this.q.now
    const peak = wl.spike.requestsPerHour / 3600
    if (peak <= 0) return
    // thinning against the peak rate; stop once the spike has decayed below 1/1000 of its peak
    if (this.spikeRate(now) < peak / 1000) return
    this.q.push(now + exponential(this.rngSpike, 1 / peak), EV_SPIKE_ARRIVAL)
    if (this.rngSpike.next() * peak < this.spikeRate(now)) this.request(wl.spike.item)
  }

  private onFlash (item: number): void {
    const w = this.world
    for (let c = 0; c < w.clientCount; c++) if (w.online[w.firstClient + c] === 1) this.startRequest(c, item)
  }

  /** The trace's next request, then the one after it is scheduled. */
  private onTrace (): void {
    const b = this.traceBatch!; const i = this.traceAt
    const w = this.world; const wl = this.s.workload
    if (wl.type !== 'trace') return
    this.traceRequests++
    let item = b.item[i]!
    if (item >= this.catalog.count) {
      if (wl.overflow === 'wrap') item %= this.catalog.count
      else item = -1
    }
    const region = b.region[i]!; const client = b.client[i]!
    if (region >= w.regions) throw new SimulationError(`trace request ${this.traceRequests} names region ${region}; the scenario has ${w.regions}`)
    if (client >= w.clientsPerRegion) throw new SimulationError(`trace request ${this.traceRequests} names client ${client}; a region has ${w.clientsPerRegion}`)
    if (item < 0) this.traceSkipped++
    else if (client >= 0) {
      const c = (region < 0 ? 0 : region) * w.clientsPerRegion + client
      if (w.online[w.firstClient + c] === 0 || this.clients.downloadOf(c) !== -1) this.totals.skippedBusy++
      else this.startRequest(c, item)
    } else this.request(item, region)
    // the next one
    let next = i + 1
    let batch: TraceBatch | null = b
    if (next >= b.n) { batch = this.opts.requests!.next(); next = 0 }
    this.traceBatch = batch
    this.traceAt = next
    if (batch === null) return
    const t = (batch.time[next]! - this.traceStart) * wl.timeScale
    if (t < this.q.now) throw new SimulationError(`trace request ${this.traceRequests + 1} is earlier than the one before it; a trace workload must be in time order`)
    if (t <= this.end) this.q.push(t, EV_TRACE)
  }

  /** A request from a random online, idle client of a region (given, or chosen by its share of clients). */
  private request (item: number, inRegion = -1): void {
    const w = this.world
    const region = inRegion >= 0 ? inRegion : w.regions === 1 ? 0 : Math.floor(this.rngClients.next() * w.regions)
    const n = this.clients.onlineIn(region)
    const pick = Math.floor(this.rngClients.next() * n)
    if (n === 0) { this.totals.skippedBusy++; return }
    const c = this.clients.onlineAt(region, pick)
    if (this.clients.downloadOf(c) !== -1) { this.totals.skippedBusy++; return }
    this.startRequest(c, item)
  }

  private holds (c: number, item: number): boolean {
    return this.clients.holds(c, item, this.q.now)
  }

  private startRequest (c: number, item: number): void {
    const w = this.world; const cat = this.catalog; const t = this.totals; const now = this.q.now
    const node = w.firstClient + c
    const region = w.regionOf(node)
    t.requests++
    t.requestedBytes += cat.size[item]!
    if (this.prepositionOn) this.demand.push({ region: regionName(region), itemId: String(item), at: now * 1000 })
    if (this.holds(c, item)) { t.alreadyHeld++; return }
    const d = this.dl.open(node, item, DL_CLIENT, cat.chunks[item]!, now, this.swarmOf(region, item))
    this.clients.setDownload(c, d)
    if (this.peerAssist) this.addHolder(region, item, c)
    this.direct(d)
    // the directive's first edge is where the client's request lands (with allEdges, every edge it names)
    const dl = this.dl
    for (let j = 0, n = dl.f[d * DL_FIELDS + DL_SOURCE_COUNT]!; j < n; j++) {
      const src = dl.sources[d * dl.maxSources + j]!
      if (w.roleOf(src) === ROLE_EDGE) {
        if (w.online[src] === 1) this.edgeRequest(src, item)
        if (!this.allEdges) break
      }
    }
    const delay = 2 * w.latency(node, 0) + this.dhtDelay
    this.q.push(now + delay, EV_DL_START, d, dl.gen[d]!)
    this.q.push(now + delay + this.refresh, EV_REFRESH, d, dl.gen[d]!)
  }

  // ---- directives --------------------------------------------------------------

  private candidates: SourceCandidate[] = []
  /** Per client, the number of the last samplePeers call that took it (a set without allocating one per directive). */
  private readonly seen: Int32Array
  private seenStamp = 0

  private candidate (node: number): void {
    const w = this.world
    const queued = w.link[node * LINK_FIELDS + LINK_UP_FREE]! - this.q.now
    const load = queued <= 0 ? 0 : Math.min(1, queued / LOAD_HORIZON_SECONDS)
    this.candidates.push(candidateOf(node, w.roleOf(node), w.regionOf(node), load, this.q.now * 1000))
  }

  /** (Re)build d's sources: a directive for clients, region holders and parents for fills. */
  private direct (d: number): void {
    const w = this.world; const dl = this.dl
    const node = dl.f[d * DL_FIELDS + DL_NODE]!; const item = dl.f[d * DL_FIELDS + DL_ITEM]!; const kind = dl.f[d * DL_FIELDS + DL_KIND]!
    const region = w.regionOf(node)
    this.candidates.length = 0
    let ranked: number[]
    if (kind === DL_PARENT_FILL) {
      ranked = [0] // parents fetch from the origin, which is no region's node
    } else {
      // a client talks to its home edge (the nearest; clients are spread evenly over a region's edges)
      if (kind === DL_CLIENT && w.edgesPerRegion > 0) {
        if (this.allEdges) {
          for (let j = 0; j < w.edgesPerRegion; j++) if (this.listed(w.edge(region, j))) this.candidate(w.edge(region, j))
        } else if (this.listed(this.homeEdge(node))) this.candidate(this.homeEdge(node))
      }
      if (this.peerAssist) this.samplePeers(region, item, node)
      for (let j = 0; j < w.parentsPerRegion; j++) if (this.listed(w.parent(region, j))) this.candidate(w.parent(region, j))
      ranked = rankSources(this.candidates, region, this.q.now * 1000, this.maxSources)
    }
    // parents are the last resort and always reachable: make sure the directive keeps one (one main still lists)
    if (kind !== DL_PARENT_FILL && !ranked.some(n => w.roleOf(n) === ROLE_PARENT)) {
      let p = -1
      for (let j = 0; j < w.parentsPerRegion && p < 0; j++) if (this.listed(w.parent(region, j))) p = w.parent(region, j)
      // with no parent up, an edge fills from main's origin (node/server/fill.ts: an edge, else a parent, else the origin)
      if (p < 0 && kind === DL_EDGE_FILL) p = 0
      if (p >= 0) {
        if (ranked.length >= this.maxSources) ranked.pop()
        ranked.push(p)
      }
    }
    const base = d * dl.maxSources
    for (let j = 0; j < ranked.length; j++) dl.sources[base + j] = ranked[j]!
    dl.f[d * DL_FIELDS + DL_SOURCE_COUNT] = ranked.length
  }

  /** Does main still name this node in directives: up, or down for less than the heartbeat timeout. */
  private listed (node: number): boolean {
    if (!this.faultsOn) return true
    const at = this.downAt[node]!
    return at < 0 || this.q.now - at < this.detect
  }

  private homeEdge (client: number): number {
    const w = this.world
    return w.edge(w.regionOf(client), (client - w.firstClient) % w.edgesPerRegion)
  }

  private addHolder (region: number, item: number, c: number): void {
    const key = region * this.catalog.count + item
    let list = this.holders.get(key)
    if (list === undefined) { list = []; this.holders.set(key, list) }
    list.push(c)
  }

  /** Is client c a live holder (or fetcher) of item: licensed, holding it or fetching it. */
  private isHolderOf (c: number, item: number): boolean {
    const d = this.clients.downloadOf(c)
    return (d >= 0 && this.dl.f[d * DL_FIELDS + DL_ITEM] === item) || this.holds(c, item)
  }

  /** Has holder c reported enough of item to be listed (always, unless peerAssist.listAfterChunks is set). */
  private listable (c: number, item: number): boolean {
    const n = this.listAfter
    if (n === 0) return true
    const d = this.clients.downloadOf(c)
    return !(d >= 0 && this.dl.f[d * DL_FIELDS + DL_ITEM] === item) || this.dl.f[d * DL_FIELDS + DL_HAVE]! >= n
  }

  private samplePeers (region: number, item: number, self: number): void {
    const list = this.holders.get(region * this.catalog.count + item)
    if (list === undefined) return
    const w = this.world
    const want = this.maxSources * PEER_SAMPLE_FACTOR
    // clients already taken in this directive: those stamped with this call's number
    if (this.seenStamp === 0x7fffffff) { this.seen.fill(0); this.seenStamp = 0 }
    const seen = this.seen; const stamp = ++this.seenStamp
    if (list.length <= want) {
      for (let i = 0; i < list.length; i++) {
        const c: number = list[i]!
        if (!this.isHolderOf(c, item)) { list[i] = list[list.length - 1]!; list.pop(); i--; continue }
        const node = w.firstClient + c
        if (node !== self && w.online[node] === 1 && seen[c] !== stamp && this.listable(c, item)) { seen[c] = stamp; this.candidate(node) }
      }
      return
    }
    for (let tries = 0; tries < want && list.length > 0; tries++) {
      const i = Math.floor(this.rngPeers.next() * list.length)
      const c: number = list[i]!
      if (!this.isHolderOf(c, item)) { list[i] = list[list.length - 1]!; list.pop(); continue }
      const node = w.firstClient + c
      if (node !== self && w.online[node] === 1 && seen[c] !== stamp && this.listable(c, item)) { seen[c] = stamp; this.candidate(node) }
    }
  }

  private onRefresh (d: number, gen: number): void {
    const dl = this.dl
    if (dl.gen[d] !== gen || dl.f[d * DL_FIELDS + DL_LIVE] === 0 || dl.f[d * DL_FIELDS + DL_ABORTED] === 1) return
    this.direct(d)
    this.pump(d)
    this.q.push(this.q.now + this.refresh, EV_REFRESH, d, gen)
  }

  // ---- edges and parents ---------------------------------------------------

  private edgeRequest (edge: number, item: number): void {
    const t = this.totals; const cat = this.catalog
    const e = this.world.edgeIndex(edge)
    const policy = this.policies[e]!
    t.edgeRequests++
    t.edgeRequestBytes += cat.size[item]!
    const hit = policy.touch(item)
    this.opts.onEdgeRequest?.(edge, item, hit)
    if (hit) { t.edgeHits++; t.edgeHitBytes += cat.size[item]!; return }
    this.admit(edge, item, this.readThrough)
  }

  /** Put item into edge's cache under its policy and start filling it. */
  private admit (edge: number, item: number, onDemand = false): boolean {
    const e = this.world.edgeIndex(edge); const items = this.catalog.count
    const policy = this.policies[e]!
    const evicted = policy.insert(item, this.catalog.size[item]!)
    if (evicted.length === 1 && evicted[0] === item && !policy.has(item)) return false // larger than the whole cache
    for (const x of evicted) {
      this.totals.edgeEvictions++
      this.edgeState[2 * (e * items + x)] = 0
      const f = this.edgeState[2 * (e * items + x) + 1]!
      if (f !== NO_FILL) { this.dl.f[f * DL_FIELDS + DL_ABORTED] = 1; this.edgeState[2 * (e * items + x) + 1] = NO_FILL; this.maybeClose(f) }
    }
    this.edgeState[2 * (e * items + item)] = policy.has(item) ? 1 : 0
    const d = this.dl.open(edge, item, DL_EDGE_FILL, this.catalog.chunks[item]!, this.q.now)
    if (onDemand) this.dl.f[d * DL_FIELDS + DL_ON_DEMAND] = 1
    this.edgeState[2 * (e * items + item) + 1] = d
    this.direct(d)
    this.pump(d)
    this.q.push(this.q.now + this.refresh, EV_REFRESH, d, this.dl.gen[d]!)
    return true
  }

  private onRelease (item: number): void {
    const w = this.world; const items = this.catalog.count
    for (let p = 0; p < w.regions * w.parentsPerRegion; p++) {
      const node = w.firstParent + p
      const d = this.dl.open(node, item, DL_PARENT_FILL, this.catalog.chunks[item]!, this.q.now)
      this.parentFill.set(p * items + item, d)
      this.direct(d)
      this.pump(d)
    }
    const wl = this.s.workload
    if (wl.type === 'poisson' && wl.spike !== undefined && wl.spike.item === item && wl.spike.requestsPerHour > 0) {
      this.q.push(this.q.now + exponential(this.rngSpike, 3600 / wl.spike.requestsPerHour), EV_SPIKE_ARRIVAL)
    }
  }

  /** Main plans from the last interval's requests (protocol's planner); each region's edges fetch what they lack. */
  private onPreposition (): void {
    const p = this.s.preposition!
    const w = this.world; const now = this.q.now
    const windowMs = p.intervalMinutes * 60_000
    const regions = Array.from({ length: w.regions }, (_, r) => regionName(r))
    const plan = planPreposition(this.demand, { now: now * 1000, windowMs, topN: Math.min(p.maxItemsPerEdge, PREPOSITION_MAX_TOP_N), regions })
    this.demand = []
    for (let r = 0; r < w.regions; r++) {
      for (const id of plan.get(regionName(r)) ?? []) {
        const item = Number(id)
        if (this.catalog.releasedAt[item]! > now) continue
        for (let j = 0; j < w.edgesPerRegion; j++) {
          const edge = w.edge(r, j)
          if (this.policies[w.edgeIndex(edge)]!.has(item)) continue
          if (this.admit(edge, item)) this.totals.prepositioned++
        }
      }
    }
    this.q.push(now + p.intervalMinutes * 60, EV_PREPOSITION)
  }

  // ---- chunks ------------------------------------------------------------------

  /** Does source j of the download being pumped hold chunk k? (Classifies the source on first use.) */
  private sourceHas (base: number, j: number, item: number, k: number): boolean {
    const h = this.classify(base, j, item)
    return h === HOLD_ALL || (h === HOLD_SOME && this.dl.chunkState[this.srcAt[j]! + k] === CHUNK_HAVE)
  }

  /** What source j of the download being pumped holds of item (HOLD_*), looked up on first use. */
  private classify (base: number, j: number, item: number): number {
    let h = this.srcKind[j]!
    if (h === HOLD_UNKNOWN) {
      h = this.holding(this.dl.sources[base + j]!, item)
      this.srcKind[j] = h
      this.srcAt[j] = this.partialAt
    }
    return h
  }

  /** What node n holds of item: HOLD_NONE, HOLD_ALL, or HOLD_SOME (then this.partialAt is where its chunk states start in dl.chunkState). */
  private holding (n: number, item: number): number {
    const w = this.world; const items = this.catalog.count
    switch (w.roleOf(n)) {
      case ROLE_CLIENT: {
        if (w.online[n] === 0) return HOLD_NONE
        const c = n - w.firstClient
        if (this.holds(c, item)) return HOLD_ALL
        const d = this.clients.downloadOf(c)
        if (d >= 0 && this.dl.f[d * DL_FIELDS + DL_ITEM] === item) { this.partialAt = this.dl.f[d * DL_FIELDS + DL_CHUNK_AT]!; return HOLD_SOME }
        return HOLD_NONE
      }
      case ROLE_EDGE: {
        const e = n - w.firstEdge
        if (this.edgeState[2 * (e * items + item)] === 0) return HOLD_NONE
        const f = this.edgeState[2 * (e * items + item) + 1]!
        // a read-through edge serves any chunk: what it lacks it fetches first (send waits for it)
        if (f === NO_FILL || this.dl.f[f * DL_FIELDS + DL_ON_DEMAND] === 1) return HOLD_ALL
        this.partialAt = this.dl.f[f * DL_FIELDS + DL_CHUNK_AT]!
        return HOLD_SOME
      }
      case ROLE_PARENT: {
        const p = n - w.firstParent
        if (this.parentHas[p * items + item] === 1) return HOLD_ALL
        const f = this.parentFill.get(p * items + item)
        if (f === undefined) return HOLD_NONE
        this.partialAt = this.dl.f[f * DL_FIELDS + DL_CHUNK_AT]!
        return HOLD_SOME
      }
      default: return HOLD_ALL // the origin holds everything
    }
  }

  /** Where the region's request counts per chunk of item start in swarmArena (a new zeroed block the first time). */
  private swarmOf (region: number, item: number): number {
    const key = region * this.catalog.count + item
    let at = this.swarm.get(key)
    if (at === undefined) {
      const n = this.catalog.chunks[item]!
      if (this.swarmUsed + n > this.swarmArena.length) {
        let size = this.swarmArena.length * 2
        while (size < this.swarmUsed + n) size *= 2
        const grown = new Int32Array(size); grown.set(this.swarmArena.subarray(0, this.swarmUsed)); this.swarmArena = grown
      }
      at = this.swarmUsed
      this.swarmUsed += n
      this.swarm.set(key, at)
    }
    return at
  }

  /** Keep d's window of chunk requests full. */
  private pump (d: number): void {
    const dl = this.dl
    const f = dl.f; const o = d * DL_FIELDS // no open() below: the record does not move
    if (f[o + DL_ABORTED] === 1) return
    // a read-through edge's fill asks only for what clients ask of the edge (fetchThrough)
    if (f[o + DL_ON_DEMAND] === 1) return
    const w = this.world; const now = this.q.now
    const item = f[o + DL_ITEM]!; const node = f[o + DL_NODE]!
    // download d's chunk k is state[at + k], miss[at + i] (no open() below moves the arenas)
    const state = dl.chunkState; const miss = dl.missList; const at0 = f[o + DL_CHUNK_AT]!
    const chunks = f[o + DL_CHUNKS]!
    // the region's request counts for the item's chunks are swarm[sw + k] (sw < 0: none, a fill)
    const swarm = this.swarmArena; const sw = f[o + DL_RARITY_AT]!
    const base = d * dl.maxSources; const nsrc = f[o + DL_SOURCE_COUNT]!
    // each source's cost now: queued upload seconds plus its role's penalty; a source whose
    // queue is already maxQueue long is not asked more (a server's bounded request queue)
    const cost = this.costs; const order = this.order
    let usable = 0
    // what each source holds is looked up lazily (most pumps refill one slot from the first source or two)
    const srcKind = this.srcKind
    for (let j = 0; j < nsrc; j++) {
      const s = dl.sources[base + j]!
      const free = w.link[s * LINK_FIELDS + LINK_UP_FREE]!
      const wait = free > now ? free - now : 0
      if (s === node || wait > this.maxQueue) continue
      srcKind[j] = HOLD_UNKNOWN
      const c = wait + this.penalty[w.roleOf(s)]!
      cost[j] = c
      // insertion sort by (cost, rank): the scan below stops at the first source holding the chunk
      let i = usable++
      while (i > 0 && cost[order[i - 1]!]! > c) { order[i] = order[i - 1]!; i-- }
      order[i] = j
    }
    let failures = 0
    const srcAt = this.srcAt; const samp = this.sampled; const partPos = this.partPos; const partAt = this.partAt
    while (usable > 0 && f[o + DL_OUTSTANDING]! < this.window && f[o + DL_MISS_LEN]! > 0 && failures < 2) {
      // choose a chunk and its source together: the startup chunks in order, then among a few
      // random missing chunks the one a source can deliver soonest, the rarer one on a tie
      let k = -1; let at = -1
      let io = f[o + DL_NEXT_IN_ORDER]!
      while (io < chunks && io < this.inOrderChunks && state[at0 + io] !== CHUNK_MISSING) io++
      f[o + DL_NEXT_IN_ORDER] = io
      if (io < this.inOrderChunks && io < chunks && failures === 0) {
        k = io
        for (let i = 0; i < usable; i++) if (this.sourceHas(base, order[i]!, item, k)) { at = i; break }
      } else {
        // the samples: all missing chunks when there are no more than RAREST_SAMPLES, else that
        // many drawn (positions in the missing list), one batch from the chunk stream
        const n = f[o + DL_MISS_LEN]!
        const samples = n < RAREST_SAMPLES ? n : RAREST_SAMPLES
        if (n === samples) for (let t = 0; t < samples; t++) samp[t] = t
        else this.rngChunks.indices(samp, samples, n)
        // the sources in cost order up to the first that holds every chunk (allAt; usable if none):
        // only those before it that hold part of the item can be a chunk's first holder, so they are
        // listed with their chunk states (what each holds is looked up once per pump, in this order)
        let allAt = usable; let partial = 0
        for (let i = 0; i < usable; i++) {
          const jj = order[i]!
          let h = srcKind[jj]!
          if (h === HOLD_UNKNOWN) h = this.classify(base, jj, item)
          if (h === HOLD_ALL) { allAt = i; break }
          if (h === HOLD_SOME) { partPos[partial] = i; partAt[partial++] = srcAt[jj]! }
        }
        if (allAt === 0) {
          // the cheapest source holds every chunk, so it serves the rarest sample (the first on a tie):
          // the general search below would find the same, asking every sample of that source
          at = 0
          if (sw < 0) k = miss[at0 + samp[0]!]! // no rarity (a fill): the first sample wins
          else {
            let bestRarity = 0x7fffffff
            for (let t = 0; t < samples; t++) {
              const cand = miss[at0 + samp[t]!]!
              const rarity = swarm[sw + cand]!
              if (rarity < bestRarity) { bestRarity = rarity; k = cand }
            }
          }
        } else {
          // each sample's first holder in cost order (a partial source holding it, else allAt);
          // the sample with the earliest one wins, the rarer on a tie, the first drawn on a full tie
          let bestAt = usable; let bestRarity = 0x7fffffff
          for (let t = 0; t < samples; t++) {
            const cand = miss[at0 + samp[t]!]!
            let holder = allAt
            for (let m = 0; m < partial; m++) {
              const i = partPos[m]!
              if (i > bestAt) break
              if (state[partAt[m]! + cand] === CHUNK_HAVE) { holder = i; break }
            }
            if (holder > bestAt || holder === usable) continue
            const rarity = sw < 0 ? 0 : swarm[sw + cand]!
            if (holder < bestAt || rarity < bestRarity) { bestAt = holder; bestRarity = rarity; k = cand }
          }
          if (bestAt < usable) at = bestAt
        }
      }
      if (at < 0) { failures++; continue }
      const j = order[at]!
      const src = dl.sources[base + j]!
      this.send(d, k, src, node, item)
      if (sw >= 0) swarm[sw + k]!++
      // the chosen source is now busier: move it back in the order, or drop it once full
      const wait = w.link[src * LINK_FIELDS + LINK_UP_FREE]! - now
      if (wait > this.maxQueue) {
        for (let i = at; i < usable - 1; i++) order[i] = order[i + 1]!
        usable--
      } else {
        const c = wait + this.penalty[w.roleOf(src)]!
        cost[j] = c
        let i = at
        while (i + 1 < usable && (cost[order[i + 1]!]! < c || (cost[order[i + 1]!]! === c && order[i + 1]! < j))) { order[i] = order[i + 1]!; i++ }
        order[i] = j
      }
    }
    if (f[o + DL_OUTSTANDING] === 0 && f[o + DL_MISS_LEN]! > 0 && f[o + DL_RETRYING] === 0) {
      // nothing could be asked of anyone: look again shortly
      f[o + DL_RETRYING] = 1
      this.q.push(now + STALL_RETRY_SECONDS, EV_RETRY, d, dl.gen[d]!)
    }
  }

  /**
   * A read-through edge asked for chunk k of item: when it will hold it. If it lacks it, its fill
   * fetches k and the next READ_AHEAD_CHUNKS missing chunks from a parent of the region now.
   */
  private fetchThrough (edge: number, item: number, k: number): number {
    const f = this.edgeState[2 * (this.world.edgeIndex(edge) * this.catalog.count + item) + 1]!
    if (f === NO_FILL || this.dl.f[f * DL_FIELDS + DL_ON_DEMAND] === 0) return 0
    const dl = this.dl; const at = dl.f[f * DL_FIELDS + DL_CHUNK_AT]!
    const state = dl.chunkState[at + k]
    if (state === CHUNK_HAVE) return 0
    if (state === CHUNK_REQUESTED) return dl.arrival[at + k]!
    const w = this.world; const region = w.regionOf(edge)
    // a parent of the region, else main's origin (node 0), as node/server/fill.ts chooses
    let parent = 0
    for (let j = 0; j < w.parentsPerRegion && parent === 0; j++) if (this.listed(w.parent(region, j))) parent = w.parent(region, j)
    for (let j = k, n = dl.f[f * DL_FIELDS + DL_CHUNKS]!; j < n && j <= k + READ_AHEAD_CHUNKS; j++) if (dl.chunkState[at + j] === CHUNK_MISSING) this.send(f, j, parent, edge, item)
    return dl.arrival[at + k]!
  }

  /** catalog.chunkBytes(item, k) for download d of item, from d's own chunk count (its record is being read anyway). */
  private chunkBytesOf (d: number, k: number, item: number): number {
    const last = this.dl.f[d * DL_FIELDS + DL_CHUNKS]! - 1
    const size = this.catalog.chunkSize
    return k < last ? size : this.catalog.size[item]! - last * size
  }

  private send (d: number, k: number, src: number, dst: number, item: number): void {
    const w = this.world; const dl = this.dl; const now = this.q.now
    const bytes = this.chunkBytesOf(d, k, item)
    const lat = w.latency(src, dst)
    const reqAt = now + lat
    if (this.readThrough && w.roleOf(src) === ROLE_EDGE && dl.f[d * DL_FIELDS + DL_KIND] === DL_CLIENT) {
      // the edge answers once it has the chunk itself
      const ready = this.fetchThrough(src, item, k)
      if (ready > reqAt) {
        // the edge sends it once it has it, without holding up what else it has to send meanwhile
        dl.chunkState[dl.f[d * DL_FIELDS + DL_CHUNK_AT]! + k] = CHUNK_REQUESTED
        dl.take(d, k)
        dl.f[d * DL_FIELDS + DL_OUTSTANDING]!++
        this.q.push(ready, EV_DEFERRED, d, k, src)
        return
      }
    }
    dl.chunkState[dl.f[d * DL_FIELDS + DL_CHUNK_AT]! + k] = CHUNK_REQUESTED
    dl.take(d, k)
    dl.f[d * DL_FIELDS + DL_OUTSTANDING]!++
    this.transmit(d, k, src, dst, item, bytes, lat, reqAt)
  }

  /** The chunk through src's uplink and dst's downlink (FIFO queues), arriving one latency after it left. */
  private transmit (d: number, k: number, src: number, dst: number, item: number, bytes: number, lat: number, reqAt: number): void {
    const w = this.world; const dl = this.dl
    const link = w.link; const sl = src * LINK_FIELDS; const dl4 = dst * LINK_FIELDS
    const upFree = link[sl + LINK_UP_FREE]!
    const sent = (reqAt > upFree ? reqAt : upFree) + bytes / link[sl + LINK_UP]!
    link[sl + LINK_UP_FREE] = sent
    const viaDown = link[dl4 + LINK_DOWN_FREE]! + bytes / link[dl4 + LINK_DOWN]!
    const arrive = sent + lat > viaDown ? sent + lat : viaDown
    link[dl4 + LINK_DOWN_FREE] = arrive
    if (this.readThrough) dl.arrival[dl.f[d * DL_FIELDS + DL_CHUNK_AT]! + k] = arrive
    this.q.push(arrive, EV_CHUNK, d, k, src)
  }

  /** A read-through edge now holds the chunk a client asked for: it sends it. */
  private onDeferred (d: number, k: number, src: number): void {
    const dl = this.dl
    const node = dl.f[d * DL_FIELDS + DL_NODE]!; const item = dl.f[d * DL_FIELDS + DL_ITEM]!
    this.transmit(d, k, src, node, item, this.chunkBytesOf(d, k, item), this.world.latency(src, node), this.q.now)
  }

  private onChunk (d: number, k: number, src: number): void {
    const dl = this.dl; const w = this.world; const t = this.totals
    const f = dl.f; const o = d * DL_FIELDS // no open() below: the record does not move
    if (this.faultsOn && w.online[src] === 0) {
      // the source died before the chunk was through: the client notices when its wait times out
      this.faultTotals.lostChunks++
      this.q.push(this.q.now + this.failover, EV_LOST, d, k, src)
      return
    }
    const item = f[o + DL_ITEM]!
    const bytes = this.chunkBytesOf(d, k, item)
    const srcRole = w.roleOf(src)
    t.chunkTransfers++
    switch (f[o + DL_KIND]) {
      case DL_CLIENT:
        if (srcRole === ROLE_EDGE) t.clientBytesFromEdges += bytes
        else if (srcRole === ROLE_CLIENT) t.clientBytesFromPeers += bytes
        else t.clientBytesFromParents += bytes
        break
      case DL_EDGE_FILL:
        if (srcRole === ROLE_CLIENT) t.edgeBytesFromPeers += bytes
        else if (srcRole === ROLE_ORIGIN) t.originBytes += bytes // no parent was up
        else t.edgeBytesFromParents += bytes
        break
      default:
        t.originBytes += bytes
    }
    const state = dl.chunkState; const at0 = f[o + DL_CHUNK_AT]!; const chunks = f[o + DL_CHUNKS]!
    state[at0 + k] = CHUNK_HAVE
    f[o + DL_HAVE]!++
    f[o + DL_OUTSTANDING]!--
    if (f[o + DL_PLAYABLE] === 0) {
      let p = f[o + DL_PREFIX]!
      while (p < chunks && state[at0 + p] === CHUNK_HAVE) p++
      f[o + DL_PREFIX] = p
      if (p >= Math.min(this.startupChunks, chunks)) {
        f[o + DL_PLAYABLE] = 1
        if (f[o + DL_KIND] === DL_CLIENT) this.startupDelays.add(this.q.now - dl.startedAt[d]!)
      }
    }
    if (f[o + DL_HAVE] === chunks) this.complete(d)
    else if (f[o + DL_ABORTED] === 1) this.maybeClose(d)
    else this.pump(d)
  }

  private maybeClose (d: number): void {
    if (this.dl.f[d * DL_FIELDS + DL_OUTSTANDING] === 0 && this.dl.f[d * DL_FIELDS + DL_LIVE] === 1) this.dl.close(d)
  }

  private complete (d: number): void {
    const dl = this.dl; const w = this.world; const now = this.q.now; const items = this.catalog.count
    const node = dl.f[d * DL_FIELDS + DL_NODE]!; const item = dl.f[d * DL_FIELDS + DL_ITEM]!
    switch (dl.f[d * DL_FIELDS + DL_KIND]) {
      case DL_CLIENT: {
        const c = node - w.firstClient
        this.totals.downloadsDone++
        this.downloadTimes.add(now - dl.startedAt[d]!)
        this.faultTotals.downloadSecondsSum += now - dl.startedAt[d]!
        const licensed = dl.startedAt[d]! + this.licenseSeconds
        const seedMean = this.s.peerAssist.seedMeanMinutes
        // a client that leaves the swarm after a while stops seeding then (and no longer holds the item)
        this.clients.keepItem(c, item, seedMean === undefined ? licensed : Math.min(licensed, now + exponential(this.rngSeeding, seedMean * 60)))
        this.clients.setDownload(c, -1)
        if (this.clients.pendingOffline(c)) { this.clients.setPendingOffline(c, false); this.clients.setOffline(c) }
        break
      }
      case DL_EDGE_FILL: {
        const key = w.edgeIndex(node) * items + item
        if (this.edgeState[2 * key + 1] === d) this.edgeState[2 * key + 1] = NO_FILL
        break
      }
      default: {
        const key = w.parentIndex(node) * items + item
        this.parentHas[key] = 1
        this.parentFill.delete(key)
      }
    }
    dl.close(d)
  }

  // ---- faults ------------------------------------------------------------------

  /** A parent or edge crashes (entry `scheduled` of the schedule, or -1 for a random failure): what it was sending is lost, its fills stop; an edge keeps its disk cache. */
  private onFail (node: number, scheduled: number): void {
    const w = this.world; const now = this.q.now; const items = this.catalog.count
    if (w.online[node] === 0) {
      // already down (a schedule overlapping a random failure): a random node's next failure comes later
      const r = this.s.faults!.rates[w.roleOf(node) === ROLE_EDGE ? 'edge' : 'parent']
      if (scheduled < 0 && r !== undefined) this.q.push(now + exponential(this.rngFaults, r.mtbfHours * 3600), EV_FAIL, node, -1)
      return
    }
    w.online[node] = 0
    this.downAt[node] = now
    this.nodesDown++
    this.faultTotals.failures++
    const abort = (f: number): void => { this.dl.f[f * DL_FIELDS + DL_ABORTED] = 1; this.maybeClose(f) }
    if (w.roleOf(node) === ROLE_EDGE) {
      const e = w.edgeIndex(node)
      const policy = this.policies[e]!
      for (let i = 0; i < items; i++) {
        const f = this.edgeState[2 * (e * items + i) + 1]!
        if (f === NO_FILL) continue
        // a partial item is not kept: the restarted edge fetches it again on the next miss
        abort(f)
        this.edgeState[2 * (e * items + i) + 1] = NO_FILL
        policy.remove(i)
        this.edgeState[2 * (e * items + i)] = 0
      }
    } else {
      const p = w.parentIndex(node)
      for (let i = 0; i < items; i++) {
        const f = this.parentFill.get(p * items + i)
        if (f !== undefined) { abort(f); this.parentFill.delete(p * items + i) }
      }
    }
    const r = this.s.faults!.rates[w.roleOf(node) === ROLE_EDGE ? 'edge' : 'parent']
    const down = scheduled >= 0 ? this.s.faults!.schedule[scheduled]!.downHours * 3600 : exponential(this.rngFaults, r!.mttrHours * 3600)
    this.q.push(now + down, EV_RECOVER, node, scheduled)
  }

  private onRecover (node: number, scheduled: number): void {
    const w = this.world; const now = this.q.now; const items = this.catalog.count
    if (w.online[node] === 1) return
    w.online[node] = 1
    this.faultTotals.downSeconds += now - this.downAt[node]!
    this.downAt[node] = -1
    this.nodesDown--
    this.faultTotals.recoveries++
    // its queues emptied when it died
    const l = node * LINK_FIELDS
    w.link[l + LINK_UP_FREE] = now
    w.link[l + LINK_DOWN_FREE] = now
    if (w.roleOf(node) === ROLE_PARENT) {
      // a parent fetches again the releases it lost mid-fill
      const p = w.parentIndex(node)
      for (let i = 0; i < items; i++) {
        if (this.parentHas[p * items + i] === 1 || this.catalog.releasedAt[i]! > now) continue
        const d = this.dl.open(node, i, DL_PARENT_FILL, this.catalog.chunks[i]!, now)
        this.parentFill.set(p * items + i, d)
        this.direct(d)
        this.pump(d)
      }
    }
    const r = this.s.faults!.rates[w.roleOf(node) === ROLE_EDGE ? 'edge' : 'parent']
    if (r !== undefined && scheduled < 0) this.q.push(now + exponential(this.rngFaults, r.mtbfHours * 3600), EV_FAIL, node, -1)
  }

  /** Online clients holding item (seeds), not counting those still downloading it. */
  seedsOf (item: number): number {
    const w = this.world; const now = this.q.now
    let n = 0
    for (let c = 0; c < w.clientCount; c++) if (w.online[w.firstClient + c] === 1 && this.clients.holds(c, item, now)) n++
    return n
  }

  /** Client downloads in flight. */
  clientDownloads (): number {
    let n = 0
    for (let c = 0; c < this.world.clientCount; c++) if (this.clients.downloadOf(c) !== -1) n++
    return n
  }

  /** Node-seconds of the failures still open now (for the totals at the run's end). */
  downSecondsOpen (): number {
    let sum = 0
    for (let i = 0; i < this.downAt.length; i++) if (this.downAt[i]! >= 0) sum += this.q.now - this.downAt[i]!
    return sum
  }

  /** A chunk lost with its source: d drops that source (as the client drops one whose requests fail) and asks again elsewhere. */
  private onLost (d: number, k: number, src: number): void {
    const dl = this.dl
    dl.f[d * DL_FIELDS + DL_OUTSTANDING]!--
    if (dl.f[d * DL_FIELDS + DL_LIVE] === 0) return
    if (dl.f[d * DL_FIELDS + DL_ABORTED] === 1) { this.maybeClose(d); return }
    dl.chunkState[dl.f[d * DL_FIELDS + DL_CHUNK_AT]! + k] = CHUNK_MISSING
    dl.putBack(d, k)
    const base = d * dl.maxSources; const n = dl.f[d * DL_FIELDS + DL_SOURCE_COUNT]!
    for (let j = 0; j < n; j++) {
      if (dl.sources[base + j] !== src) continue
      for (let i = j; i < n - 1; i++) dl.sources[base + i] = dl.sources[base + i + 1]!
      dl.f[d * DL_FIELDS + DL_SOURCE_COUNT] = n - 1
      this.faultTotals.failovers++
      break
    }
    // a fresh directive at once if no source is left (main no longer names the dead node)
    if (dl.f[d * DL_FIELDS + DL_SOURCE_COUNT] === 0) this.direct(d)
    this.pump(d)
  }

  // ---- churn -----------------------------------------------------------------

  private onChurn (c: number): void {
    const churn = this.s.churn!
    const w = this.world
    const online = w.online[w.firstClient + c] === 1 && !this.clients.pendingOffline(c)
    if (online) {
      // a client finishes its download before it goes (the download is what it came for)
      if (this.clients.downloadOf(c) !== -1) this.clients.setPendingOffline(c, true)
      else this.clients.setOffline(c)
      this.q.push(this.q.now + exponential(this.rngChurn, churn.meanOfflineMinutes * 60), EV_CHURN, c)
    } else {
      if (this.clients.pendingOffline(c)) this.clients.setPendingOffline(c, false)
      else this.clients.setOnline(c)
      this.q.push(this.q.now + exponential(this.rngChurn, churn.meanOnlineMinutes * 60), EV_CHURN, c)
    }
  }

  // ---- sampling ----------------------------------------------------------------

  private row (time: number): number[] {
    const t = this.totals
    const fromParents = t.clientBytesFromParents + t.edgeBytesFromParents
    return [
      time, t.requests, t.edgeRequests, t.edgeHits, t.downloadsDone,
      t.clientBytesFromEdges + t.clientBytesFromPeers + t.clientBytesFromParents,
      t.clientBytesFromEdges, t.clientBytesFromPeers + t.edgeBytesFromPeers, fromParents, t.originBytes,
      t.clientBytesFromPeers, t.clientBytesFromParents, t.edgeBytesFromParents, this.clients.onlineTotal, this.dl.active, this.q.size
    ]
  }

  /** The fault columns (FAULT_SERIES_COLUMNS), cumulative; nodes_down is a gauge. */
  private faultRow (): number[] {
    const f = this.faultTotals
    return [this.nodesDown, f.failures, f.lostChunks, f.failovers, f.downloadSecondsSum]
  }

  /** Append the interval ending now (cumulative columns become per-interval deltas; gauges stay). */
  private sample (now: number, reschedule: boolean): void {
    const cur = this.row(now)
    const GAUGES = 3 // online_clients, active_downloads, pending_events
    const out = cur.map((v, i) => i === 0 || i >= cur.length - GAUGES ? v : v - this.lastRow[i]!)
    if (this.faultsOn) {
      const f = this.faultRow()
      out.push(...f.map((v, i) => i === 0 ? v : v - this.lastFaultRow[i]!))
      this.lastFaultRow = f
    }
    this.series.rows.push(out)
    this.lastRow = cur
    this.opts.onSample?.(this, now)
    if (!reschedule) return
    const next = now + this.s.sampleIntervalSeconds
    // a flash crowd ends when its downloads do; other runs go to the end
    const idle = this.s.workload.type === 'flash' && this.dl.active === 0 && this.q.size === 0
    if (!idle && next <= this.end) this.q.push(next, EV_SAMPLE)
    else if (!idle && now < this.end) this.q.push(this.end, EV_SAMPLE)
  }
}
