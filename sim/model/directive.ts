/**
 * Directives in the simulator: the candidate sources of a download (the
 * client's edge, licensed peers found for the item, the region's parents)
 * ranked by protocol's rankPeers, exactly as main ranks them for real
 * clients. Each candidate carries its node number so the ranked list maps
 * back to the columns.
 */
import { rankPeers, type RankCandidate } from '../../protocol/policy/rank.ts'
import type { Role } from '../../protocol/types.ts'
import { ROLE_CLIENT, ROLE_EDGE } from './world.ts'

/**
 * Simulated nodes heartbeat continuously (an offline client is left out
 * before ranking), so every candidate's heartbeat is "now" and this timeout
 * only has to be positive.
 */
export const SIM_HEARTBEAT_TIMEOUT_MS = 30_000

export interface SourceCandidate extends RankCandidate {
  node: number
}

const NO_ADDRS: string[] = []

/** Region names built so far (every directive names its region once per candidate). */
const REGION_NAMES: string[] = []

/** Region names as rankPeers sees them (it compares regions by string). */
export function regionName (region: number): string {
  if (region < 0 || !Number.isInteger(region)) return `r${region}`
  while (REGION_NAMES.length <= region) REGION_NAMES.push(`r${REGION_NAMES.length}`)
  return REGION_NAMES[region]!
}

export function candidateOf (node: number, role: number, region: number, load: number, nowMs: number): SourceCandidate {
  const r: Role = role === ROLE_EDGE ? 'edge' : role === ROLE_CLIENT ? 'peer' : 'parent'
  return { node, peerId: `n${node}`, role: r, region: regionName(region), addrs: NO_ADDRS, lastHeartbeat: nowMs, load }
}

/** The directive's sources, best first, as node numbers. */
export function rankSources (cands: SourceCandidate[], region: number, nowMs: number, limit: number): number[] {
  const ranked = rankPeers(cands, { now: nowMs, region: regionName(region), heartbeatTimeoutMs: SIM_HEARTBEAT_TIMEOUT_MS, limit })
  return ranked.map(c => (c as SourceCandidate).node)
}
