/**
 * The order in which a directive lists sources for one item in one region.
 * Main runs it to answer a customer; the simulator runs the same function,
 * so it is pure (the caller hands it the time) and deterministic (ties break
 * by peerId, never by chance).
 *
 * Rules, in order:
 * 1. Drop candidates that are drained, of another region, stale (no
 *    heartbeat within the timeout), or malformed (non-finite heartbeat).
 * 2. Tiers: edges first, then peers (the caller passes only peers that hold
 *    the item), then parents as the last resort, so parents' upstream
 *    bandwidth is kept for edges' misses.
 * 3. Within a tier, the lower score first: load, plus how close the
 *    heartbeat is to timing out (a peer about to be declared dead is a worse
 *    bet than an equally loaded fresh one), plus any penalty.
 * 4. Equal scores: ascending peerId. A peerId listed twice is kept once, at
 *    its best place.
 */
import type { Role } from '../types.ts'

export interface RankCandidate {
  peerId: string
  role: Role
  region: string
  addrs: string[]
  /** When its last heartbeat arrived (ms, the caller's clock). */
  lastHeartbeat: number
  /** Reported load, 0 (idle) to 1 (saturated); out-of-range values are clamped, NaN counts as 1. */
  load: number
  drained?: boolean
  /** Misbehaviour cost from the penalty table, ≥ 0, in units of load (1 weighs like a saturated peer). */
  penalty?: number
  /** Carried through to the directive (DirectivePeer.fastLane); not a ranking input. */
  fastLane?: string
}

export interface RankContext {
  now: number
  region: string
  heartbeatTimeoutMs: number
  /** Keep at most this many (after ranking). */
  limit?: number
}

/** Tier of each role: lower is listed first. */
export const ROLE_TIER: Readonly<Record<Role, number>> = { edge: 0, peer: 1, parent: 2 }

/**
 * Weight of heartbeat age (as a fraction of the timeout) against load. Small,
 * so load decides between live peers, yet a peer at the edge of timing out
 * ranks like one 10 points of load busier.
 */
export const FRESHNESS_WEIGHT = 0.1

interface Scored { c: RankCandidate, tier: number, score: number }

export function rankPeers (candidates: readonly RankCandidate[], ctx: RankContext): RankCandidate[] {
  const { now, region, heartbeatTimeoutMs, limit } = ctx
  if (!Number.isFinite(now)) throw new RangeError(`rankPeers: now must be finite, got ${now}`)
  if (!(heartbeatTimeoutMs > 0) || !Number.isFinite(heartbeatTimeoutMs)) {
    throw new RangeError(`rankPeers: heartbeatTimeoutMs must be positive and finite, got ${heartbeatTimeoutMs}`)
  }
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new RangeError(`rankPeers: limit must be a non-negative integer, got ${limit}`)
  }

  const scored: Scored[] = []
  for (const c of candidates) {
    if (c.drained === true || c.region !== region) continue
    const tier = ROLE_TIER[c.role]
    if (tier === undefined) continue
    if (!Number.isFinite(c.lastHeartbeat)) continue
    const age = now - c.lastHeartbeat
    if (age > heartbeatTimeoutMs) continue
    const staleness = age <= 0 ? 0 : age / heartbeatTimeoutMs
    const load = Number.isNaN(c.load) ? 1 : Math.min(1, Math.max(0, c.load))
    const penalty = c.penalty !== undefined && c.penalty > 0 ? c.penalty : 0
    scored.push({ c, tier, score: load + FRESHNESS_WEIGHT * staleness + penalty })
  }

  scored.sort(compareScored)

  const out: RankCandidate[] = []
  const seen = new Set<string>()
  for (const s of scored) {
    if (limit !== undefined && out.length >= limit) break
    if (seen.has(s.c.peerId)) continue
    seen.add(s.c.peerId)
    out.push(s.c)
  }
  return out
}

function compareScored (a: Scored, b: Scored): number {
  if (a.tier !== b.tier) return a.tier - b.tier
  if (a.score !== b.score) return a.score < b.score ? -1 : 1
  // Code-unit order, not localeCompare: the same on every machine and locale.
  if (a.c.peerId !== b.c.peerId) return a.c.peerId < b.c.peerId ? -1 : 1
  return 0
}
