/**
 * The scenario file: what deployment to simulate, for how long, under what
 * demand. Validated strictly (unknown keys are errors, so a misspelt field
 * never silently falls back to a default) with messages that name the field.
 * sim/README.md documents every field; keep the two in step.
 */
import { createHash } from 'node:crypto'
import { z } from 'zod'

/** Largest scenario file read: a scenario is a few hundred bytes of settings, never data. */
export const MAX_SCENARIO_BYTES = 1 << 20
/** Bounds that keep one run inside the memory budget (8 GiB at 10^6 clients). */
export const MAX_CLIENTS_PER_REGION = 1_000_000
export const MAX_REGIONS = 1000
export const MAX_TOTAL_CLIENTS = 2_000_000
export const MAX_ITEMS = 1_000_000
/** More chunks per item than this makes one download's bitmaps large; raise chunkSizeBytes instead. */
export const MAX_CHUNKS_PER_ITEM = 1 << 16
/** A directive lists at most this many sources (the download's per-source scan is linear in it). */
export const MAX_DIRECTIVE_SOURCES = 128

const mbps = z.number().positive().max(1e7)
const hours = z.number().min(0).max(24 * 365)

const nodeLinks = z.object({
  /** Upload capacity in megabits per second (10^6 bit/s). */
  uplinkMbps: mbps,
  /** Download capacity in megabits per second. */
  downlinkMbps: mbps
}).strict()

const range = z.tuple([z.number().min(0).max(60_000), z.number().min(0).max(60_000)])
  .refine(([a, b]) => a <= b, { message: 'range must be [min, max] with min <= max' })

const diurnal = z.object({
  /** 0..1: demand swings between (1 - amplitude) and (1 + amplitude) times the mean over a day. */
  amplitude: z.number().min(0).max(1),
  /** Hour of simulated time (0..24) at which demand peaks. */
  peakHour: z.number().min(0).max(24)
}).strict()

const spike = z.object({
  /** The item released (0-based index into the catalog, ranked by popularity). */
  item: z.number().int().min(0),
  /** When it is released: before this no one may request it and parents do not hold it. */
  atHour: hours,
  /** Extra requests per hour for this item at release, on top of the base demand. */
  requestsPerHour: z.number().min(0).max(1e9),
  /** The extra demand decays exponentially with this time constant. */
  decayHours: z.number().positive().max(24 * 365)
}).strict()

const poissonWorkload = z.object({
  type: z.literal('poisson'),
  /** Mean requests per hour over the whole deployment (before the diurnal curve). */
  requestsPerHour: z.number().positive().max(1e9),
  diurnal: diurnal.optional(),
  spike: spike.optional()
}).strict()

const flashWorkload = z.object({
  type: z.literal('flash'),
  /** Every client requests this item at time `atSeconds` (the Kumar–Ross setting). */
  item: z.number().int().min(0),
  atSeconds: z.number().min(0).default(0)
}).strict()

const faultRate = z.object({
  /** Mean time between failures of each node of the role (exponential), in hours. */
  mtbfHours: z.number().positive().max(1e6),
  /** Mean time to recover (exponential), in hours. */
  mttrHours: z.number().positive().max(1e6)
}).strict()

const faultEvent = z.object({
  role: z.enum(['parent', 'edge']),
  /** Which node: its region and its index within the region's parents or edges. */
  region: z.number().int().min(0),
  index: z.number().int().min(0),
  /** When it fails (hours of simulated time) and for how long. */
  atHour: hours,
  downHours: z.number().positive().max(24 * 365)
}).strict()

/** Longest fault schedule: each entry is two events. */
export const MAX_FAULT_EVENTS = 10_000

const faults = z.object({
  /** Failures at given times. */
  schedule: z.array(faultEvent).max(MAX_FAULT_EVENTS).default([]),
  /** Random failures of every parent and edge, independently. */
  rates: z.object({ parent: faultRate.optional(), edge: faultRate.optional() }).strict().default({}),
  /** Main stops naming a node in directives once it has missed heartbeats this long (main's default heartbeat timeout). */
  detectSeconds: z.number().min(0).max(86_400).default(15),
  /** A client waits this long for a chunk from a node that has died before it asks elsewhere (the client's stall timeout). */
  failoverSeconds: z.number().min(0).max(3600).default(6)
}).strict()

/** Longest trace path in a scenario. */
export const MAX_TRACE_PATH_CHARS = 4096

const traceWorkload = z.object({
  type: z.literal('trace'),
  /** The request trace, relative to the scenario file (sim/README.md: formats). */
  path: z.string().min(1).max(MAX_TRACE_PATH_CHARS),
  /** oracle, libcsv or csv; default from the file name (oracleGeneral or .bin: oracle; .csv: csv). */
  format: z.enum(['oracle', 'libcsv', 'csv']).optional(),
  /** libcsv only: libCacheSim's trace parameters (time-col=N,obj-id-col=N,obj-size-col=N,delimiter=C,has-header=BOOL). */
  params: z.string().max(1000).optional(),
  /** Simulated seconds per unit of the trace's time (0.001 for milliseconds; 0.1 replays ten times faster). */
  timeScale: z.number().positive().max(1e6).default(1),
  /** Objects beyond catalog.items (numbered by first appearance): skipped, or folded onto the catalog (modulo). */
  overflow: z.enum(['skip', 'wrap']).default('skip')
}).strict()

export const scenarioSchema = z.object({
  name: z.string().min(1).max(200),
  description: z.string().max(10_000).optional(),
  /** Default seed; `--seed` overrides it. */
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(1),
  /** Simulated time to run. Events after this are not processed. */
  durationHours: z.number().positive().max(24 * 365),
  /** Time-series resolution. */
  sampleIntervalSeconds: z.number().positive().max(86_400).default(60),
  /** Transfer granularity; validation runs need >= 100 chunks per item for fluid-limit results. */
  chunkSizeBytes: z.number().int().min(1024).max(1 << 30).default(4 << 20),
  catalog: z.object({
    items: z.number().int().min(1).max(MAX_ITEMS),
    /** Item size in bytes: one number for all, or [min, max] drawn uniformly per item. */
    sizeBytes: z.union([z.number().int().positive(), z.tuple([z.number().int().positive(), z.number().int().positive()])]),
    /** Zipf exponent of item popularity (item 0 is the most popular). */
    zipfAlpha: z.number().min(0).max(5)
  }).strict(),
  regions: z.object({
    count: z.number().int().min(1).max(MAX_REGIONS),
    parentsPerRegion: z.number().int().min(1).max(100),
    edgesPerRegion: z.number().int().min(0).max(1000),
    clientsPerRegion: z.number().int().min(1).max(MAX_CLIENTS_PER_REGION)
  }).strict(),
  origin: z.object({ uplinkMbps: mbps }).strict(),
  parent: nodeLinks,
  edge: nodeLinks.extend({
    capacityBytes: z.number().int().positive(),
    eviction: z.enum(['lru', 'sieve', 's3fifo']).default('lru'),
    /**
     * false: a miss fills the whole item, and the edge serves the chunks it has so far. true: as the
     * real edge does, chunks are fetched on demand (the requested one and the next READ_AHEAD_CHUNKS
     * missing ones) from a parent, and a client may ask the edge for any chunk.
     */
    readThrough: z.boolean().default(false)
  }).strict(),
  client: nodeLinks,
  latency: z.object({
    /** One-way latency between two nodes of one region, fixed per pair, drawn from this range (ms). */
    intraRegionMs: range,
    /** One-way latency between regions (and to main and the origin), fixed per pair (ms). */
    interRegionMs: range
  }).strict(),
  workload: z.discriminatedUnion('type', [poissonWorkload, flashWorkload, traceWorkload]),
  churn: z.object({
    /** Mean length of an online session, exponentially distributed. */
    meanOnlineMinutes: z.number().positive().max(1e7),
    /** Mean time offline between sessions. */
    meanOfflineMinutes: z.number().positive().max(1e7)
  }).strict().optional(),
  peerAssist: z.object({
    enabled: z.boolean(),
    /** A rental lasts this long; a client seeds an item only while its license is valid and it is online. */
    licenseHours: z.number().positive().max(24 * 365).default(48),
    /** How many items a client keeps (and seeds) after downloading them. */
    keepItems: z.number().int().min(1).max(16).default(2),
    /**
     * After a download a client seeds for an exponential time with this mean, then leaves the swarm
     * (the seed departure rate γ of Qiu–Srikant's fluid model); without it, for as long as its license lasts.
     */
    seedMeanMinutes: z.number().positive().max(1e7).optional(),
    /** Main lists a client still downloading as a peer only once it holds this many chunks (the real client reports a partial holding at 8). */
    listAfterChunks: z.number().int().min(0).max(MAX_CHUNKS_PER_ITEM).default(0)
  }).strict(),
  directive: z.object({
    /** Sources a directive names (edges, peers, parents), ranked by protocol's rankPeers. */
    maxSources: z.number().int().min(1).max(MAX_DIRECTIVE_SOURCES).default(16),
    /** A download asks for a fresh directive this often (new peers appear as they join the swarm). */
    refreshSeconds: z.number().positive().max(86_400).default(30),
    /** false: a client's directive names its home edge only (clients spread evenly over edges); true: every edge of its region, as real main's does. */
    allEdges: z.boolean().default(false)
  }).strict().default({ maxSources: 16, refreshSeconds: 30, allEdges: false }),
  download: z.object({
    /** Chunk requests a download keeps outstanding. */
    window: z.number().int().min(1).max(256).default(8),
    /** Chunks fetched in order first; playback can start when they are in (the startup delay). */
    startupChunks: z.number().int().min(0).max(1024).default(4),
    /**
     * Extra cost (ms) a source of each role carries when a chunk's source is chosen by earliest
     * completion: parents are the last resort, so they are used only when peers and edges are
     * this much busier.
     */
    parentPenaltyMs: z.number().min(0).max(1e7).default(2000),
    edgePenaltyMs: z.number().min(0).max(1e7).default(0),
    peerPenaltyMs: z.number().min(0).max(1e7).default(0),
    /** A source with this many seconds of uploads queued takes no more requests until it drains (a bounded request queue). */
    maxQueueSeconds: z.number().positive().max(3600).default(2),
    /** false: after the startup chunks, the rarest of a few random missing chunks; true: every chunk in order, as the real client reads ahead of playback. */
    sequential: z.boolean().default(false)
  }).strict().default({ window: 8, startupChunks: 4, parentPenaltyMs: 2000, edgePenaltyMs: 0, peerPenaltyMs: 0, maxQueueSeconds: 2, sequential: false }),
  preposition: z.object({
    enabled: z.boolean(),
    /** How often main plans prepositioning from recent demand. */
    intervalMinutes: z.number().positive().max(1e6).default(60),
    /** At most this many items pushed to each edge per plan. */
    maxItemsPerEdge: z.number().int().min(0).max(1e6).default(10)
  }).strict().optional(),
  /** Parents and edges that fail and recover (a crash: an edge keeps its disk cache, fills in flight stop). */
  faults: faults.optional(),
  /** Hard cap on processed events (a safety net for runaway scenarios); the run stops there. */
  maxEvents: z.number().int().positive().max(1e13).optional()
}).strict().superRefine((s, ctx) => {
  const clients = s.regions.count * s.regions.clientsPerRegion
  if (clients > MAX_TOTAL_CLIENTS) ctx.addIssue({ code: 'custom', path: ['regions', 'clientsPerRegion'], message: `regions.count × clientsPerRegion = ${clients} clients, above the limit of ${MAX_TOTAL_CLIENTS}` })
  const [lo, hi] = typeof s.catalog.sizeBytes === 'number' ? [s.catalog.sizeBytes, s.catalog.sizeBytes] : s.catalog.sizeBytes
  if (lo > hi) ctx.addIssue({ code: 'custom', path: ['catalog', 'sizeBytes'], message: 'range must be [min, max] with min <= max' })
  if (Math.ceil(hi / s.chunkSizeBytes) > MAX_CHUNKS_PER_ITEM) ctx.addIssue({ code: 'custom', path: ['catalog', 'sizeBytes'], message: `an item of ${hi} bytes is more than ${MAX_CHUNKS_PER_ITEM} chunks of ${s.chunkSizeBytes} bytes; raise chunkSizeBytes` })
  s.faults?.schedule.forEach((f, i) => {
    const per = f.role === 'parent' ? s.regions.parentsPerRegion : s.regions.edgesPerRegion
    if (f.region >= s.regions.count) ctx.addIssue({ code: 'custom', path: ['faults', 'schedule', i, 'region'], message: `region ${f.region} is not one of ${s.regions.count}` })
    if (f.index >= per) ctx.addIssue({ code: 'custom', path: ['faults', 'schedule', i, 'index'], message: `a region has ${per} ${f.role}s, so index ${f.index} is none of them` })
  })
  const w = s.workload
  const item = w.type === 'flash' ? w.item : w.type === 'poisson' ? w.spike?.item : undefined
  if (item !== undefined && item >= s.catalog.items) ctx.addIssue({ code: 'custom', path: ['workload', w.type === 'flash' ? 'item' : 'spike'], message: `item ${item} is not in a catalog of ${s.catalog.items} items` })
})

export type Scenario = z.infer<typeof scenarioSchema>
export type ScenarioInput = z.input<typeof scenarioSchema>

export class ScenarioError extends Error {
  name = 'ScenarioError'
}

/** Validate a parsed JSON value; throws ScenarioError naming the first bad field(s). */
export function parseScenario (value: unknown): Scenario {
  const r = scenarioSchema.safeParse(value)
  if (r.success) return r.data
  const parts = r.error.issues.slice(0, 3).map(i => {
    const path = i.path.length === 0 ? '(top level)' : i.path.map(p => typeof p === 'number' ? `[${p}]` : String(p)).join('.').replace(/\.\[/g, '[')
    return `${path}: ${i.message}`
  })
  const more = r.error.issues.length > 3 ? ` (and ${r.error.issues.length - 3} more)` : ''
  throw new ScenarioError(`invalid scenario: ${parts.join('; ')}${more}`)
}

/** Parse scenario text (JSON); throws ScenarioError on size, syntax or schema. */
export function parseScenarioText (text: string): Scenario {
  if (text.length > MAX_SCENARIO_BYTES) throw new ScenarioError(`scenario is larger than ${MAX_SCENARIO_BYTES} bytes`)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ScenarioError(`scenario is not valid JSON: ${(err as Error).message}`)
  }
  return parseScenario(value)
}

/** JSON with object keys sorted, so equal scenarios hash equally whatever their key order. */
export function canonicalJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** SHA-256 (hex) of the validated scenario with its defaults filled in. */
export function scenarioHash (s: Scenario): string {
  return createHash('sha256').update(canonicalJson(s)).digest('hex')
}
