/**
 * The endgame: once nothing is left unassigned, an idle source duplicates a
 * straggler another source has had longest; the first verified copy wins and
 * the other requests for it are cancelled.
 */
import type { SchedulerLimits } from './limits.ts'

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
  isVerified: (i: number) => boolean,
  mayAsk: (i: number) => boolean,
  limits: Pick<SchedulerLimits, 'maxRequestersPerChunk' | 'stallMs'>,
  now: number
): number | undefined {
  let best: number | undefined
  let bestStart = Infinity
  const selfRate = rateOf(self)
  for (const [i, reqs] of holders) {
    if (isVerified(i) || reqs.size === 0 || reqs.size >= limits.maxRequestersPerChunk) continue
    let mine = false
    let oldest = Infinity
    for (const r of reqs) {
      if (r.state === self) mine = true
      oldest = Math.min(oldest, r.startedAt)
    }
    if (mine || !mayAsk(i)) continue
    // duplicate only what the current holder is slow on: never a chunk just asked for
    // (a holder not yet measured gets the same grace: it may just be dialling)
    if (now - oldest < Math.min(limits.stallMs / 4, 500) && (selfRate === 0 || [...reqs].every(r => rateOf(r.state) === 0 || rateOf(r.state) >= selfRate))) continue
    if (oldest < bestStart) { bestStart = oldest; best = i }
  }
  return best
}
