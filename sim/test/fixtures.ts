/**
 * Scenario builders for the validation tests: small deployments whose
 * behaviour has a closed-form answer to compare with.
 */
import { parseScenario, type Scenario } from '../scenario.ts'

export interface SwarmOptions {
  clients: number
  /** Item size, bytes, and chunk size, bytes. */
  itemBytes: number
  chunkBytes: number
  serverMbps: number
  peerUpMbps: number
  peerDownMbps: number
  peerAssist: boolean
  maxSources?: number
  window?: number
  parentPenaltyMs?: number
  durationHours?: number
}

/** One region, one server (a parent), no edges, N clients that all want one item at t = 0. */
export function flashCrowd (o: SwarmOptions): Scenario {
  return parseScenario({
    name: 'flash-crowd',
    durationHours: o.durationHours ?? 10,
    sampleIntervalSeconds: 1,
    chunkSizeBytes: o.chunkBytes,
    catalog: { items: 1, sizeBytes: o.itemBytes, zipfAlpha: 0 },
    regions: { count: 1, parentsPerRegion: 1, edgesPerRegion: 0, clientsPerRegion: o.clients },
    origin: { uplinkMbps: 1000 },
    parent: { uplinkMbps: o.serverMbps, downlinkMbps: 10_000 },
    edge: { uplinkMbps: 1000, downlinkMbps: 1000, capacityBytes: 1e9 },
    client: { uplinkMbps: o.peerUpMbps, downlinkMbps: o.peerDownMbps },
    latency: { intraRegionMs: [1, 1], interRegionMs: [1, 1] },
    workload: { type: 'flash', item: 0, atSeconds: 0 },
    peerAssist: { enabled: o.peerAssist },
    directive: { maxSources: o.maxSources ?? Math.min(128, o.clients + 1), refreshSeconds: 5 },
    download: { window: o.window ?? 8, startupChunks: 0, parentPenaltyMs: o.parentPenaltyMs ?? 2000 }
  })
}
