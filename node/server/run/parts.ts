/**
 * The parts of a running node that every piece of node/server/run.ts's wiring
 * reads: made before the libp2p host, in this order, and never replaced.
 */
import type { MainClient } from '../../control/main-client.ts'
import type { ChunkStore } from '../store/chunk-store.ts'
import type { ManifestCache } from '../items.ts'
import type { RulesFollower } from '../../control/rules.ts'
import type { RevocationsFollower } from '../../control/revocations.ts'
import type { NodeMetrics } from '../metrics.ts'
import type { NodeHoldings } from './holdings.ts'
import type { EventLog, NodeOptions } from './options.ts'

export interface NodeParts {
  opts: NodeOptions
  log: (line: string) => void
  event: EventLog
  /** Aborted when the node stops: every wait on the network takes it. */
  signal: AbortSignal
  peerId: string
  main: MainClient
  /** main's key, pinned or trusted on first use: what rules, revocations, manifests and directives are checked against. */
  mainPublicKey: Uint8Array
  store: ChunkStore
  items: ManifestCache
  rules: RulesFollower
  revocations: RevocationsFollower
  holdings: NodeHoldings
  metrics: NodeMetrics
}
