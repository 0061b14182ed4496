/**
 * One simulation run, from a validated scenario to its results: the
 * totals (metrics.json), the time series and the distributions the report
 * draws. Pure of wall time and I/O, so a test can call it directly.
 */
import type { Scenario } from './scenario.ts'
import { Simulation, type SimOptions } from './model/simulation.ts'
import { cdf, distribution, FAULT_SERIES_COLUMNS, SERIES_COLUMNS, type Distribution } from './model/metrics.ts'

export interface Metrics {
  scenario: string
  seed: number
  simulatedSeconds: number
  events: number
  requests: { total: number, downloadsDone: number, skippedBusy: number, alreadyHeld: number, requestedBytes: number }
  edge: {
    requests: number
    hits: number
    /** Hits over requests at edges. */
    hitRatioByRequests: number
    /** Bytes of the items hit over bytes of the items requested, at edges. */
    hitRatioByBytes: number
    evictions: number
    prepositioned: number
  }
  bytes: {
    toClients: number
    toClientsFromEdges: number
    toClientsFromPeers: number
    toClientsFromParents: number
    toEdgesFromPeers: number
    toEdgesFromParents: number
    fromParents: number
    fromOrigin: number
  }
  /** Share of the bytes clients received that came from other clients. */
  peerOffload: number
  downloadSeconds: Distribution
  startupSeconds: Distribution
  downloadSecondsCdf: Array<[number, number]>
  startupSecondsCdf: Array<[number, number]>
  /** Only for trace workloads: requests replayed, and those skipped for naming objects beyond catalog.items. */
  trace?: { replayed: number, skippedOutsideCatalog: number }
  /** Only for scenarios with faults. */
  faults?: {
    failures: number
    recoveries: number
    /** Chunk requests lost because their source died before sending them. */
    lostChunks: number
    /** Times a download dropped a dead source and asked elsewhere. */
    failovers: number
    /** Node-seconds parents and edges spent down (until recovery or the run's end). */
    nodeDownSeconds: number
  }
}

export interface RunResult {
  metrics: Metrics
  /** Column names, then one row per sample interval. */
  seriesColumns: readonly string[]
  series: number[][]
  sim: Simulation
}

const ratio = (a: number, b: number): number => b === 0 ? 0 : a / b

export function runScenario (s: Scenario, seed: number, opts: SimOptions = {}): RunResult {
  const sim = new Simulation(s, seed, opts)
  sim.run()
  const t = sim.totals
  const toClients = t.clientBytesFromEdges + t.clientBytesFromPeers + t.clientBytesFromParents
  const dt = sim.downloadTimes.sorted()
  const st = sim.startupDelays.sorted()
  const metrics: Metrics = {
    scenario: s.name,
    seed,
    simulatedSeconds: sim.q.now,
    events: sim.events,
    requests: { total: t.requests, downloadsDone: t.downloadsDone, skippedBusy: t.skippedBusy, alreadyHeld: t.alreadyHeld, requestedBytes: t.requestedBytes },
    edge: {
      requests: t.edgeRequests,
      hits: t.edgeHits,
      hitRatioByRequests: ratio(t.edgeHits, t.edgeRequests),
      hitRatioByBytes: ratio(t.edgeHitBytes, t.edgeRequestBytes),
      evictions: t.edgeEvictions,
      prepositioned: t.prepositioned
    },
    bytes: {
      toClients,
      toClientsFromEdges: t.clientBytesFromEdges,
      toClientsFromPeers: t.clientBytesFromPeers,
      toClientsFromParents: t.clientBytesFromParents,
      toEdgesFromPeers: t.edgeBytesFromPeers,
      toEdgesFromParents: t.edgeBytesFromParents,
      fromParents: t.clientBytesFromParents + t.edgeBytesFromParents,
      fromOrigin: t.originBytes
    },
    peerOffload: ratio(t.clientBytesFromPeers, toClients),
    downloadSeconds: distribution(dt),
    startupSeconds: distribution(st),
    downloadSecondsCdf: cdf(dt),
    startupSecondsCdf: cdf(st)
  }
  if (s.workload.type === 'trace') metrics.trace = { replayed: sim.traceRequests, skippedOutsideCatalog: sim.traceSkipped }
  if (s.faults !== undefined) {
    const f = sim.faultTotals
    metrics.faults = { failures: f.failures, recoveries: f.recoveries, lostChunks: f.lostChunks, failovers: f.failovers, nodeDownSeconds: f.downSeconds + sim.downSecondsOpen() }
  }
  const seriesColumns = s.faults !== undefined ? [...SERIES_COLUMNS, ...FAULT_SERIES_COLUMNS] : SERIES_COLUMNS
  return { metrics, seriesColumns, series: sim.series.rows, sim }
}
