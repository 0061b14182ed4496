/**
 * One seeded random stream per purpose (arrivals, item choice, chunk choice,
 * churn, ...), each derived from the run's seed and the purpose's name. A
 * change to how one purpose draws numbers then never shifts another's, so a
 * model change stays local in its effect on a run.
 */
import { createHash } from 'node:crypto'
import { Rng, Zipf } from '../../protocol/random.ts'

export { Zipf }
export type { Rng }

/** The purposes a run draws for; each gets its own stream. */
export type Purpose = 'catalog' | 'arrivals' | 'items' | 'clients' | 'churn' | 'chunks' | 'peers' | 'spike' | 'latency' | 'faults' | 'seeding'

/** A 32-bit seed for one purpose, from SHA-256 over the run seed and the purpose name. */
export function streamSeed (seed: number, purpose: string): number {
  const h = createHash('sha256').update(`reelnet-sim:${seed}:${purpose}`).digest()
  return h.readUInt32LE(0)
}

export function createStream (seed: number, purpose: Purpose): Rng {
  return new Rng(streamSeed(seed, purpose))
}

/** Exponentially distributed with the given mean. */
export function exponential (rng: Rng, mean: number): number {
  return -Math.log(1 - rng.next()) * mean
}

/** One step of splitmix32, exactly as protocol/random.ts seeds its Rng. */
function splitmix32 (state: number): number {
  let z = state | 0
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

/**
 * The same xoshiro128** stream as protocol's `Rng` for the same seed (the
 * same seeding, the same words), shaped for the simulator's hottest draw:
 * `indices` writes a whole batch of uniform indices in one call, the state
 * in locals for the batch and its four words stored as int32 (protocol's
 * Rng starts them as uint32s, so V8 keeps those fields untyped and checks
 * every access). Each index is ⌊next() · n⌋, bit for bit: next() is
 * u / 2^32, and u · n < 2^48 for n ≤ 2^16, so the product is exact either way.
 * sim/engine/streams.test.ts compares it with protocol's Rng.
 */
export class IndexStream {
  private s0: number
  private s1: number
  private s2: number
  private s3: number

  constructor (seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`)
    const lo = seed >>> 0
    const hi = Math.floor(seed / 4294967296) >>> 0
    let x = (lo ^ Math.imul(hi, 0x9e3779b9)) | 0
    x = (x + 0x9e3779b9) | 0; let s0 = splitmix32(x) | 0
    x = (x + 0x9e3779b9) | 0; const s1 = splitmix32(x ^ hi) | 0
    x = (x + 0x9e3779b9) | 0; const s2 = splitmix32(x) | 0
    x = (x + 0x9e3779b9) | 0; const s3 = splitmix32(x ^ hi) | 0
    if ((s0 | s1 | s2 | s3) === 0) s0 = 1
    this.s0 = s0; this.s1 = s1; this.s2 = s2; this.s3 = s3
  }

  /** The next `count` draws as indices in [0, n) (n ≤ 2^16) into out[0 … count). */
  indices (out: Int32Array, count: number, n: number): void {
    let s0 = this.s0; let s1 = this.s1; let s2 = this.s2; let s3 = this.s3
    for (let i = 0; i < count; i++) {
      const m = Math.imul(s1, 5)
      const u = Math.imul((m << 7) | (m >>> 25), 9) >>> 0
      const t = s1 << 9
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
      s3 = (s3 << 11) | (s3 >>> 21)
      out[i] = (u * n) / 4294967296 | 0
    }
    this.s0 = s0; this.s1 = s1; this.s2 = s2; this.s3 = s3
  }

  /** Skip `count` draws (the stream moves on as if they were taken). */
  skip (count: number): void {
    let s0 = this.s0; let s1 = this.s1; let s2 = this.s2; let s3 = this.s3
    for (let i = 0; i < count; i++) {
      const t = s1 << 9
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
      s3 = (s3 << 11) | (s3 >>> 21)
    }
    this.s0 = s0; this.s1 = s1; this.s2 = s2; this.s3 = s3
  }
}

/** The index stream of a purpose: the same draws as createStream(seed, purpose). */
export function createIndexStream (seed: number, purpose: Purpose): IndexStream {
  return new IndexStream(streamSeed(seed, purpose))
}
