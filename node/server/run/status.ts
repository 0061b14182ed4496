/**
 * The node's state as GET /status answers it (beside /metrics): computed on
 * request, so a reader never sees a stale snapshot.
 */
import { listenAddrs, routingTablePeers, type ReelnetHost } from '../../net/host.ts'
import type { Filler } from '../fill.ts'
import type { ChunkTransport } from '../../net/fast-lane/transport.ts'
import type { NodeStatus } from './options.ts'
import type { NodeParts } from './parts.ts'
import type { Serving } from './serving.ts'

export interface StatusSources {
  host: ReelnetHost
  filler: Filler
  transport: ChunkTransport
  serving: Serving
  /** The items held whole (wire keys). */
  heldItems: () => string[]
}

export function statusOf (parts: NodeParts, s: StatusSources): NodeStatus {
  const { opts, rules, revocations, store, holdings } = parts
  const { host, serving } = s
  const lane = serving.lane
  return {
    peerId: parts.peerId, role: opts.role, region: opts.region, addrs: listenAddrs(host),
    rulesVersion: rules.rules?.version ?? null,
    revocations: revocations.status(),
    routingTable: routingTablePeers(host),
    connections: host.getConnections().map(c => c.remotePeer.toString()),
    heldItems: s.heldItems(),
    lacking: [...holdings.lacking],
    swept: [...holdings.swept],
    store: { usedBytes: store.usedBytes, capacityBytes: store.capacityBytes, chunks: store.count, corruptOnRead: store.corruptOnRead, reconcile: store.reconcile },
    fetched: s.filler.stats,
    served: { ...serving.served },
    ...(lane !== undefined ? { fastLane: { addr: lane.addr, connections: lane.server.connections, requests: lane.server.requests } } : {}),
    transport: { ...s.transport.stats },
    at: Date.now()
  }
}
