/**
 * The endgame: once nothing is left unassigned, an idle source duplicates a
 * straggler another source has had longest; the first verified copy wins and
 * the other requests for it are cancelled.
 */
import type { SchedulerLimits } from './limits.ts'

/**
 * A chunk is a straggler once its request is older than this many times what its holder has in flight takes at
 * the holder's measured rate (the holder is late on its own pace, not merely busy).
 */
export const BACKLOG_SLACK = 2
/** A source this many times faster than a chunk's holder may duplicate it once the holder's backlog has passed. */
export const FASTER_BY = 2

/** What the endgame needs to know of a request in flight. */
export interface HeldBy<S> { state: S, startedAt: number }

/**
 * One straggler for `self` to duplicate, or undefined. `holders` maps each chunk in flight to the requests
 * fetching it; `rateOf` is a source's measured throughput (0: not measured yet).
 */
export function pickStraggler<S> (
  holders: ReadonlyMap<number, ReadonlySet<HeldBy<S>>>,
  self: S,
  rateOf: (s: S) => number,
  backlogMsOf: (s: S) => number,
  isVerified: (i: number) => boolean,
  mayAsk: (i: number) => boolean,
  limits: Pick<SchedulerLimits, 'maxRequestersPerChunk' | 'stallMs'>,
  now: number
): number | undefined {
  let best: number | undefined
  let bestStart = Infinity
  const selfRate = rateOf(self)
  const grace = Math.min(limits.stallMs / 4, 500)
  for (const [i, reqs] of holders) {
    if (isVerified(i) || reqs.size === 0 || reqs.size >= limits.maxRequestersPerChunk) continue
    let mine = false
    let oldest = Infinity
    let backlog = 0
    let slowerHolder = false
    for (const r of reqs) {
      if (r.state === self) mine = true
      oldest = Math.min(oldest, r.startedAt)
      backlog = Math.max(backlog, backlogMsOf(r.state))
      const rate = rateOf(r.state)
      if (selfRate > 0 && rate > 0 && selfRate >= FASTER_BY * rate) slowerHolder = true
    }
    if (mine || !mayAsk(i)) continue
    const age = now - oldest
    // duplicate only what the current holder is slow on: never a chunk just asked for (a holder not yet measured
    // gets the same grace: it may just be dialling), nor one still inside what the holder has queued at its
    // measured rate — a busy source delivers a batch's last chunk late by design, and a copy asked then arrives
    // as well (the fast lane cannot cancel): under 100 customers edges sent 1.7x the verified bytes
    const late = age >= Math.max(grace, BACKLOG_SLACK * backlog)
    const fasterHere = slowerHolder && age >= Math.min(grace, backlog)
    if (!late && !fasterHere) continue
    if (oldest < bestStart) { bestStart = oldest; best = i }
  }
  return best
}
