/**
 * Directives in the simulator: the candidate sources of a download (the
 * region's edges, licensed peers found for the item, the region's parents)
 * ranked by protocol's rankPeers, exactly as main ranks them for real
 * clients. The candidates carry the node number so the ranked list maps
 * back to columns.
 */
import { ROLE_CLIENT, ROLE_EDGE, ROLE_PARENT, type World } from './world.ts'

export interface SourceCandidate {
  node: number
  role: number
  /** 0..1: how busy the node's uplink is (its queued seconds over the refresh horizon). */
  load: number
}

/** TEMPORARY until protocol/policy/rank.ts lands: edges, then peers, then parents, each by load. */
export function rankSources (world: World, cands: SourceCandidate[], limit: number): number[] {
  const order = (r: number): number => r === ROLE_EDGE ? 0 : r === ROLE_CLIENT ? 1 : r === ROLE_PARENT ? 2 : 3
  const sorted = cands.slice().sort((a, b) => order(a.role) - order(b.role) || a.load - b.load || a.node - b.node)
  void world
  return sorted.slice(0, limit).map(c => c.node)
}
