/**
 * TEMPORARY stand-in for protocol/random.ts (being written in parallel):
 * removed as soon as it lands. Do not use outside sim/engine/streams.ts.
 */
export class Rng {
  private s: number
  constructor (seed: number) { this.s = seed >>> 0 }
  next (): number {
    // mulberry32
    let t = (this.s = (this.s + 0x6D2B79F5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
export class Zipf {
  private cdf: Float64Array
  constructor (n: number, alpha: number) {
    this.cdf = new Float64Array(n)
    let sum = 0
    for (let i = 0; i < n; i++) { sum += 1 / Math.pow(i + 1, alpha); this.cdf[i] = sum }
    for (let i = 0; i < n; i++) this.cdf[i]! /= sum
  }
  sample (rng: Rng): number {
    const u = rng.next(); let lo = 0; let hi = this.cdf.length - 1
    while (lo < hi) { const m = (lo + hi) >> 1; if (this.cdf[m]! > u) hi = m; else lo = m + 1 }
    return lo
  }
}
