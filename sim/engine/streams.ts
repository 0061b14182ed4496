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
