/**
 * The simulator checked against the real network: one calibration
 * deployment run twice, once as real reelnet processes on 127.0.0.1 (main,
 * a parent, two edges and eight customers, the e2e kit) and once in the
 * simulator, printed side by side: edge byte hit ratio, peer offload, the
 * shares of client bytes from edges, peers and parents, parent bytes, and
 * download-time quantiles.
 *
 * The deployment: one region; a parent and two edges with capped uplinks
 * (--max-upload, default 4 MiB/s each), cold edges; eight customers, each
 * with a capped uplink (default 1 MiB/s) that seeds after its download
 * (`get --seed`); a 64 MiB item; a release-day burst (all eight ask at
 * once). Caps keep the machine's CPU out of the way: about 20 MiB/s in all,
 * well under what libp2p moves on two cores. The goal (issue 19): peer
 * offload and byte shares within 10 percentage points, median download time
 * within 25 %.
 *
 *   flock /tmp/reelnet-heavy.lock node_modules/.bin/node --import tsx bench/sim-calibrate.ts
 *
 * Environment: REELNET_CAL_SIZE (64MiB), REELNET_CAL_NODE_CAP (4MiB, B/s),
 * REELNET_CAL_CLIENT_CAP (1MiB, B/s), REELNET_CAL_CUSTOMERS (8).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Network, createCustomer, runClient, waitJson, nodeStatus, type Proc } from '../test/e2e/client-net.ts'
import { bytesFlag } from '../cli/command.ts'
import { DEFAULT_CHUNK_SIZE } from '../protocol/chunking.ts'
import { parseScenario, type ScenarioInput } from '../sim/scenario.ts'
import { runScenario, type Metrics } from '../sim/run.ts'
import { traceOf } from '../sim/trace/workload.ts'
import { DIRECTIVE_RENEW_FRACTION, HOLDINGS_FIRST_REPORT_CHUNKS } from '../node/client/customer.ts'
import { PROGRESS_INTERVAL_MS } from '../node/client/progress.ts'
import { DEFAULT_DIRECTIVE_TTL_MS } from '../main/limits.ts'

const MIB = 2 ** 20
const SIZE = bytesFlag('REELNET_CAL_SIZE', process.env.REELNET_CAL_SIZE, 64 * MIB)
const NODE_CAP = bytesFlag('REELNET_CAL_NODE_CAP', process.env.REELNET_CAL_NODE_CAP, 4 * MIB)
const CLIENT_CAP = bytesFlag('REELNET_CAL_CLIENT_CAP', process.env.REELNET_CAL_CLIENT_CAP, MIB)
const CUSTOMERS = Number(process.env.REELNET_CAL_CUSTOMERS ?? 8)
/** Every wait is bounded: a download of 64 MiB at these caps takes tens of seconds. */
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000
const PREPARE_TIMEOUT_MS = 5 * 60_000
/** Real links on loopback: far above the caps, so only the caps limit. */
const LOOPBACK_MBPS = 8000
/** Seconds between a customer's arrivals: all at once (the release-day burst), then one every 8 s (later ones find earlier ones as peers). */
const STAGGERS = [0, 8]
/** The client's first progress line comes this long after its download starts (its progress interval). */
const PROGRESS_LINE_SECONDS = PROGRESS_INTERVAL_MS / 1000
/** A parent penalty so large that parents serve only what no one else can: the real client's fallback kind. */
const FALLBACK_PENALTY_MS = 1e7
/** The real client keeps up to 8 requests on a source however long its queue: no cap. */
const UNCAPPED_QUEUE_SECONDS = 3600

interface Done { seconds: number, byKind: { edge: number, parent: number, peer: number }, doneBytes: number }
interface Served { edge: number, parent: number, peer: number, client: number }
interface Status { heldItems: string[], served: Served }

export interface Figures {
  edgeByteHit: number
  peerOffload: number
  shareEdges: number
  sharePeers: number
  shareParents: number
  parentMiB: number
  p50: number
  p90: number
  max: number
}

async function status (node: { statusUrl: string }): Promise<Status | undefined> {
  try { return await nodeStatus(node) as Status } catch { return undefined }
}

function quantile (sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i]!
}

async function waitUntil (what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

export async function runReal (staggerSeconds: number): Promise<Figures & { starts: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'reelnet-calibrate-'))
  const net = new Network({ dir, regions: [{ name: 'cal', parents: 1, edges: 2, edgeMaxUpload: String(NODE_CAP), parentMaxUpload: String(NODE_CAP) }] })
  const procs: Proc[] = []
  try {
    await net.start()
    const itemId = await net.ingest(randomBytes(SIZE), 'calibration.bin')
    const parent = net.nodesOf('cal', 'parent')[0]!
    const edges = net.nodesOf('cal', 'edge')
    // the simulator's parents hold every released item: wait until the real one does
    await waitUntil('the parent to hold the item', async () => (await status(parent))?.heldItems.includes(itemId) === true, PREPARE_TIMEOUT_MS)
    await waitUntil('every node to answer its status', async () => (await Promise.all(edges.map(async e => await status(e)))).every(x => x !== undefined), PREPARE_TIMEOUT_MS)
    const served = async (): Promise<{ parent: Served, edges: Served[] }> =>
      ({ parent: (await status(parent))!.served, edges: await Promise.all(edges.map(async e => (await status(e))!.served)) })
    const before = await served()
    const customers = await Promise.all(Array.from({ length: CUSTOMERS }, async (_, i) => await createCustomer(net, `cal${i}`, 'cal')))
    // customer i asks at i × staggerSeconds (all at once for 0), and seeds once it has the item
    const t0 = performance.now()
    const starts: number[] = new Array<number>(CUSTOMERS).fill(0)
    const dones = await Promise.all(customers.map(async (c, i) => {
      await new Promise(resolve => setTimeout(resolve, i * staggerSeconds * 1000))
      const p = runClient(c, ['get', itemId, '--rent', '--seed', '--max-upload', String(CLIENT_CAP), '--json', '-o', join(c.configDir, 'item.bin')])
      procs.push(p)
      // its download starts with its first progress line: the arrival time the simulator replays
      const first = await waitJson(p, o => o.type === 'progress' || o.type === 'done', DOWNLOAD_TIMEOUT_MS)
      starts[i] = (performance.now() - t0) / 1000 - (first.type === 'progress' ? PROGRESS_LINE_SECONDS : 0)
      return await waitJson(p, o => o.type === 'done', DOWNLOAD_TIMEOUT_MS) as unknown as Done
    }))
    // /status is computed when asked: the counters already hold every byte the customers received
    const after = await served()
    const delta = (a: Served, b: Served): number => (a.edge + a.parent + a.peer + a.client) - (b.edge + b.parent + b.peer + b.client)
    const fromEdges = dones.reduce((a, d) => a + d.byKind.edge, 0)
    const fromPeers = dones.reduce((a, d) => a + d.byKind.peer, 0)
    const fromParents = dones.reduce((a, d) => a + d.byKind.parent, 0)
    const total = fromEdges + fromPeers + fromParents
    const parentBytes = delta(after.parent, before.parent)
    const parentToEdges = after.parent.edge - before.parent.edge
    const times = dones.map(d => d.seconds).sort((a, b) => a - b)
    return {
      edgeByteHit: fromEdges === 0 ? 0 : 1 - parentToEdges / fromEdges,
      peerOffload: fromPeers / total,
      shareEdges: fromEdges / total,
      sharePeers: fromPeers / total,
      shareParents: fromParents / total,
      parentMiB: parentBytes / MIB,
      p50: quantile(times, 0.5),
      p90: quantile(times, 0.9),
      max: times[times.length - 1]!,
      starts
    }
  } finally {
    for (const p of procs) p.kill('SIGTERM')
    await net.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The same deployment as a scenario, its arrivals the real run's (a trace),
 * and, with `client`, the real customer client's settings instead of the
 * simulator's defaults: a new directive only at renewal (0.6 of main's
 * 10-minute TTL), parents only as a fallback, no cap on a source's queue,
 * a downloading peer listed once it holds 8 chunks (when it first reports),
 * read-through edges (a chunk fetched from the parent when first asked for),
 * every edge of the region in each directive, chunks asked for in order.
 */
export function calibrationScenario (tracePath: string, client: boolean): ScenarioInput {
  const mbps = (bytesPerSecond: number): number => bytesPerSecond * 8 / 1e6
  return {
    name: 'calibration',
    description: 'bench/sim-calibrate.ts: one region, a parent and two edges with capped uplinks, eight customers with capped uplinks seeding after their download, one item, all asking at once.',
    durationHours: 1,
    sampleIntervalSeconds: 1,
    chunkSizeBytes: DEFAULT_CHUNK_SIZE,
    catalog: { items: 1, sizeBytes: SIZE, zipfAlpha: 0 },
    regions: { count: 1, parentsPerRegion: 1, edgesPerRegion: 2, clientsPerRegion: CUSTOMERS },
    origin: { uplinkMbps: LOOPBACK_MBPS },
    parent: { uplinkMbps: mbps(NODE_CAP), downlinkMbps: LOOPBACK_MBPS },
    edge: { uplinkMbps: mbps(NODE_CAP), downlinkMbps: LOOPBACK_MBPS, capacityBytes: 64 * SIZE, eviction: 'lru', readThrough: client },
    client: { uplinkMbps: mbps(CLIENT_CAP), downlinkMbps: LOOPBACK_MBPS },
    latency: { intraRegionMs: [0, 1], interRegionMs: [0, 1] },
    workload: { type: 'trace', path: tracePath },
    peerAssist: { enabled: true, licenseHours: 48, keepItems: 1, listAfterChunks: client ? HOLDINGS_FIRST_REPORT_CHUNKS : 0 },
    ...(client
      ? {
          directive: { maxSources: 16, refreshSeconds: DIRECTIVE_RENEW_FRACTION * DEFAULT_DIRECTIVE_TTL_MS / 1000, allEdges: true },
          download: { window: 8, startupChunks: 4, parentPenaltyMs: FALLBACK_PENALTY_MS, edgePenaltyMs: 0, peerPenaltyMs: 0, maxQueueSeconds: UNCAPPED_QUEUE_SECONDS, sequential: true }
        }
      : {})
  }
}

export function runSim (starts: number[], client: boolean): Figures {
  const dir = mkdtempSync(join(tmpdir(), 'reelnet-calibrate-sim-'))
  const tracePath = join(dir, 'arrivals.csv')
  const t0 = Math.min(...starts)
  // a trace is in time order: customers sorted by when they started, each its own client
  const order = starts.map((t, i) => [t, i] as const).sort((a, b) => a[0] - b[0])
  writeFileSync(tracePath, 'time,item,size,region,client\n' + order.map(([t, i]) => `${(t - t0).toFixed(3)},calibration,${SIZE},0,${i}`).join('\n') + '\n')
  const s = parseScenario(calibrationScenario(tracePath, client))
  const trace = traceOf(s, dir)!
  let r
  try {
    r = runScenario(s, 1, { requests: trace })
  } finally {
    trace.close()
    rmSync(dir, { recursive: true, force: true })
  }
  const m: Metrics = r.metrics
  const b = m.bytes
  return {
    edgeByteHit: b.toClientsFromEdges === 0 ? 0 : 1 - (b.toEdgesFromParents + b.toEdgesFromPeers) / b.toClientsFromEdges,
    peerOffload: m.peerOffload,
    shareEdges: b.toClientsFromEdges / b.toClients,
    sharePeers: b.toClientsFromPeers / b.toClients,
    shareParents: b.toClientsFromParents / b.toClients,
    parentMiB: b.fromParents / MIB,
    // the same quantiles as the real run's (metrics.json's interpolate)
    p50: quantile(r.sim.downloadTimes.sorted(), 0.5),
    p90: quantile(r.sim.downloadTimes.sorted(), 0.9),
    max: m.downloadSeconds.max
  }
}

function report (real: Figures, sims: Array<[string, Figures]>): void {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`
  const rows: Array<[string, (f: Figures) => string]> = [
    ['edge byte hit ratio', f => pct(f.edgeByteHit)],
    ['peer offload', f => pct(f.peerOffload)],
    ['client bytes from edges', f => pct(f.shareEdges)],
    ['client bytes from parents', f => pct(f.shareParents)],
    ['parent bytes sent (MiB)', f => f.parentMiB.toFixed(0)],
    ['download time p50 (s)', f => f.p50.toFixed(1)],
    ['download time p90 (s)', f => f.p90.toFixed(1)],
    ['download time max (s)', f => f.max.toFixed(1)]
  ]
  const W = 22
  console.log(`  ${'figure'.padEnd(27)}${'real'.padStart(10)}${sims.map(([n]) => n.padStart(W)).join('')}`)
  for (const [k, f] of rows) console.log(`  ${k.padEnd(27)}${f(real).padStart(10)}${sims.map(([, x]) => f(x).padStart(W)).join('')}`)
  for (const [name, sim] of sims) {
    const shares = Math.max(Math.abs(sim.peerOffload - real.peerOffload), Math.abs(sim.shareEdges - real.shareEdges), Math.abs(sim.shareParents - real.shareParents))
    const median = sim.p50 / real.p50 - 1
    console.log(`  ${name}: byte shares within ${(shares * 100).toFixed(1)} pt (goal 10: ${shares <= 0.1 ? 'met' : 'NOT met'}), median download time ${median >= 0 ? '+' : ''}${(median * 100).toFixed(0)}% (goal ±25: ${Math.abs(median) <= 0.25 ? 'met' : 'NOT met'})`)
  }
}

export async function run (): Promise<void> {
  console.log(`calibration: 1 region, 1 parent + 2 edges at ${(NODE_CAP / MIB).toFixed(1)} MiB/s up, ${CUSTOMERS} customers at ${(CLIENT_CAP / MIB).toFixed(1)} MiB/s up seeding after, one ${(SIZE / MIB).toFixed(0)} MiB item; load average ${loadavg().map(x => x.toFixed(2)).join(' ')}`)
  for (const stagger of STAGGERS) {
    const real = await runReal(stagger)
    const spread = Math.max(...real.starts) - Math.min(...real.starts)
    console.log(`\n${stagger === 0 ? 'burst: all customers at once' : `staggered: a customer every ${stagger} s`} (real downloads started over ${spread.toFixed(1)} s; the simulator replays those start times)`)
    report(real, [['sim, client settings', runSim(real.starts, true)], ['sim, defaults', runSim(real.starts, false)]])
  }
  console.log(`\nload average after ${loadavg().map(x => x.toFixed(2)).join(' ')}`)
}

if (import.meta.url === `file://${process.argv[1]}`) await run()
