/**
 * What startNode (node/server/run.ts) is given and what it hands back: the node's
 * options as `reelnet node` parses them, the structured event log, the
 * running node, and the /status document.
 */
import type { RevocationsFollower } from '../../control/revocations.ts'
import type { ReelnetHost } from '../../net/host.ts'
import type { NodeMetrics } from '../metrics.ts'

export interface NodeOptions {
  role: 'parent' | 'edge'
  region: string
  mainUrl: string
  dataDir: string
  listen: string[]
  operatorToken: string
  capacityBytes: number
  mainKey?: string
  heartbeatMs: number
  rulesPollMs: number
  maxUploadBytesPerSec?: number
  /** Serve Prometheus text at http://metricsHost:metricsPort/metrics (0: any free port; undefined: no metrics server). */
  metricsPort?: number
  metricsHost?: string
  /** Serve the metrics listener over HTTPS with this PEM certificate and key (for metrics that leave the host). */
  metricsTls?: { cert: Buffer, key: Buffer }
  log: (line: string) => void
  /** Structured events with the ids that let an operator follow a download (licenseId, directiveId, peer ids). */
  event?: EventLog
  /** Serve and fetch chunks over the TLS 1.3 fast lane (libp2p stays the fallback). Default true. */
  fastLane?: boolean
  /** The fast lane's port (default 0: any free port). */
  fastLanePort?: number
}

export type EventLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void

/** A node's state as GET /status serves it (node/API.md). */
export interface NodeStatus {
  peerId: string
  role: 'parent' | 'edge'
  region: string
  addrs: string[]
  rulesVersion: number | null
  /** The revocation list held (issue 14b): version, whether the node is frozen (none in force), counts. */
  revocations: ReturnType<RevocationsFollower['status']>
  routingTable: string[]
  connections: string[]
  heldItems: string[]
  /** Items a parent could not hold for want of space (issue 15). */
  lacking: string[]
  /** Items (wire keys) deleted after a takedown, a collected version or a region change, since start. */
  swept: string[]
  store: { usedBytes: number, capacityBytes: number, chunks: number, corruptOnRead: number, reconcile: unknown }
  fetched: unknown
  served: Record<string, number>
  /** The fast lane's address and use (absent when it is off). */
  fastLane?: { addr: string, connections: number, requests: number }
  /** Requests this node's fills sent over each path. */
  transport: { fastLane: number, libp2p: number, fallbacks: number }
  /** main's clock is not involved: the node's own time of the answer, ms since the epoch. */
  at: number
}

export interface RunningNode {
  peerId: string
  addrs: string[]
  host: ReelnetHost
  /** Where /metrics is served, if --metrics-port was given. */
  metricsUrl?: string
  /** Where /status is served (beside /metrics). */
  statusUrl?: string
  metrics: NodeMetrics
  stop: () => Promise<void>
  /** Resolves when the node stopped (by stop() or a fatal error). */
  done: Promise<void>
}
