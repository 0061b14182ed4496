/**
 * Che's approximation of an LRU cache's hit ratio under independent
 * requests (Che, Tung, Wang, IEEE JSAC 2002; Fricker, Robert, Roberts,
 * ITC 2012): an object of request probability p_i stays for a
 * "characteristic time" T after each request, where T solves
 * Σ (1 − e^(−p_i·T)) = C, and the hit ratio is Σ p_i (1 − e^(−p_i·T)).
 *
 * Used to check the LRU implementation and the simulator against theory.
 */

/** Bisection steps: each halves the bracket, so 200 reach the limit of double precision from any start. */
const BISECTION_STEPS = 200

export interface CheResult {
  /** The characteristic time, in requests. */
  characteristicTime: number
  hitRatio: number
}

/** `probabilities`: per object, summing to 1; `capacity`: objects the cache holds (unit sizes). */
export function cheLruHitRatio (probabilities: ArrayLike<number>, capacity: number): CheResult {
  const n = probabilities.length
  if (!(capacity > 0)) throw new RangeError(`capacity must be positive, got ${capacity}`)
  if (capacity >= n) return { characteristicTime: Infinity, hitRatio: 1 }
  const occupancy = (t: number): number => {
    let s = 0
    for (let i = 0; i < n; i++) s += -Math.expm1(-probabilities[i]! * t)
    return s
  }
  // Occupancy grows from 0 towards n as t grows: double hi until it brackets C.
  let lo = 0
  let hi = 1
  while (occupancy(hi) < capacity) { lo = hi; hi *= 2 }
  for (let k = 0; k < BISECTION_STEPS && hi - lo > 1e-12 * hi; k++) {
    const mid = (lo + hi) / 2
    if (occupancy(mid) < capacity) lo = mid
    else hi = mid
  }
  const t = (lo + hi) / 2
  let hit = 0
  for (let i = 0; i < n; i++) { const p = probabilities[i]!; hit += p * -Math.expm1(-p * t) }
  return { characteristicTime: t, hitRatio: hit }
}
