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

export interface EdgeCacheOptions {
  items: number
  zipfAlpha: number
  /** Cache capacity in items (all items are one chunk of the same size). */
  cacheItems: number
  requestsPerSecond: number
  seconds: number
  eviction?: 'lru' | 'sieve' | 's3fifo'
}

/**
 * One region with one edge in front of a parent, unit-size items, Poisson
 * requests with Zipf popularity, no peer-assist and no prepositioning:
 * the edge sees the independent reference model that Che's approximation
 * describes. Licenses are short so clients never skip a re-request.
 */
export function edgeCache (o: EdgeCacheOptions): Scenario {
  const item = 1024
  return parseScenario({
    name: 'edge-cache',
    durationHours: o.seconds / 3600,
    sampleIntervalSeconds: 10,
    chunkSizeBytes: item,
    catalog: { items: o.items, sizeBytes: item, zipfAlpha: o.zipfAlpha },
    regions: { count: 1, parentsPerRegion: 1, edgesPerRegion: 1, clientsPerRegion: 20_000 },
    origin: { uplinkMbps: 10_000 },
    parent: { uplinkMbps: 100_000, downlinkMbps: 100_000 },
    edge: { uplinkMbps: 100_000, downlinkMbps: 100_000, capacityBytes: o.cacheItems * item, eviction: o.eviction ?? 'lru' },
    client: { uplinkMbps: 100, downlinkMbps: 1000 },
    latency: { intraRegionMs: [1, 1], interRegionMs: [1, 1] },
    workload: { type: 'poisson', requestsPerHour: o.requestsPerSecond * 3600 },
    peerAssist: { enabled: false, licenseHours: 1e-7, keepItems: 1 },
    directive: { maxSources: 4, refreshSeconds: 86_400 },
    download: { window: 1, startupChunks: 1 }
  })
}
