/**
 * Seeded, deterministic randomness for the simulator and the policy tests:
 * the same seed gives the same stream on every machine and every run, which
 * is what makes a simulation reproducible. Not for anything secret.
 *
 * `Rng` is xoshiro128** (Blackman & Vigna, 2018), seeded through splitmix32
 * so that nearby seeds (1, 2, 3, ...) give unrelated streams. `Zipf` samples
 * ranks by inverse CDF: a binary search over a precomputed cumulative table.
 */

/** 2^32, to turn a 32-bit word into a fraction in [0, 1). */
const TWO_POW_32 = 4294967296

/**
 * A Zipf table holds 8 bytes per item; this bound (80 MB) keeps a mistaken
 * catalog size from exhausting memory. Real catalogs in the simulator are
 * well under a million items.
 */
export const ZIPF_MAX_ITEMS = 10_000_000

/** Larger exponents put all the mass on rank 0 and add nothing but underflow. */
export const ZIPF_MAX_ALPHA = 10

/** One step of splitmix32: mixes a 32-bit state into a well-spread 32-bit word. */
function splitmix32 (state: number): number {
  let z = state | 0
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

export class Rng {
  private s0: number
  private s1: number
  private s2: number
  private s3: number

  /** `seed`: any integer (the whole safe range is used: seeds that differ only above bit 32 still differ). */
  constructor (seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Rng seed must be a safe integer, got ${seed}`)
    const lo = seed >>> 0
    const hi = Math.floor(seed / TWO_POW_32) >>> 0
    let x = (lo ^ Math.imul(hi, 0x9e3779b9)) | 0
    x = (x + 0x9e3779b9) | 0; this.s0 = splitmix32(x)
    x = (x + 0x9e3779b9) | 0; this.s1 = splitmix32(x ^ hi)
    x = (x + 0x9e3779b9) | 0; this.s2 = splitmix32(x)
    x = (x + 0x9e3779b9) | 0; this.s3 = splitmix32(x ^ hi)
    // xoshiro's one forbidden state; splitmix32 makes it practically unreachable, but be exact.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1
  }

  /** A generator with the exact xoshiro128** state given (for known-answer tests against the reference code). */
  static fromState (s0: number, s1: number, s2: number, s3: number): Rng {
    if (((s0 | s1 | s2 | s3) >>> 0) === 0) throw new RangeError('xoshiro128** state must not be all zero')
    const r = new Rng(0)
    r.s0 = s0 | 0; r.s1 = s1 | 0; r.s2 = s2 | 0; r.s3 = s3 | 0
    return r
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32 (): number {
    const s1 = this.s1
    const m = Math.imul(s1, 5)
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0
    const t = s1 << 9
    this.s2 ^= this.s0
    this.s3 ^= s1
    this.s1 ^= this.s2
    this.s0 ^= this.s3
    this.s2 ^= t
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21)
    return result
  }

  /** A uniform number in [0, 1), with 32 bits of resolution (enough for every sampler here; half the cost of 53). */
  next (): number {
    return this.nextU32() / TWO_POW_32
  }

  /** A uniform integer in [0, n), for 1 ≤ n ≤ 2^32. */
  nextInt (n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) throw new RangeError(`nextInt bound must be an integer in [1, 2^32], got ${n}`)
    return Math.floor(this.next() * n)
  }

  /** Exponentially distributed with the given rate (mean 1/rate); never Infinity. */
  exp (rate: number): number {
    if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`exp rate must be a positive finite number, got ${rate}`)
    // 1 - next() is in (0, 1], so the log is finite.
    return -Math.log(1 - this.next()) / rate
  }
}

/** Zipf(alpha) over ranks 0..n-1: P(rank i) ∝ 1 / (i + 1)^alpha. alpha = 0 is uniform. */
export class Zipf {
  readonly n: number
  readonly alpha: number
  private readonly cdf: Float64Array
  private readonly norm: number

  constructor (n: number, alpha: number) {
    if (!Number.isInteger(n) || n < 1 || n > ZIPF_MAX_ITEMS) throw new RangeError(`Zipf n must be an integer in [1, ${ZIPF_MAX_ITEMS}], got ${n}`)
    if (!Number.isFinite(alpha) || alpha < 0 || alpha > ZIPF_MAX_ALPHA) throw new RangeError(`Zipf alpha must be in [0, ${ZIPF_MAX_ALPHA}], got ${alpha}`)
    this.n = n
    this.alpha = alpha
    const cdf = new Float64Array(n)
    let sum = 0
    for (let i = 0; i < n; i++) {
      sum += Math.pow(i + 1, -alpha)
      cdf[i] = sum
    }
    for (let i = 0; i < n; i++) cdf[i] = cdf[i]! / sum
    // Rounding may leave the last entry a hair under 1; a draw above it must still land on the last rank.
    cdf[n - 1] = 1
    this.cdf = cdf
    this.norm = sum
  }

  /** A rank in [0, n): the first i with cdf[i] > u. */
  sample (rng: Rng): number {
    const u = rng.next()
    const cdf = this.cdf
    let lo = 0
    let hi = cdf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cdf[mid]! > u) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  /** P(rank i), exactly as the sampler draws it (up to rounding). */
  probability (i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.n) throw new RangeError(`Zipf rank must be an integer in [0, ${this.n}), got ${i}`)
    return Math.pow(i + 1, -this.alpha) / this.norm
  }
}
