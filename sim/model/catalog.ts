/**
 * The items on offer: sizes, chunk counts and release times, in columns.
 * Item 0 is the most popular (Zipf rank 1).
 */
import type { Scenario } from '../scenario.ts'
import { createStream } from '../engine/streams.ts'

export class Catalog {
  readonly count: number
  readonly chunkSize: number
  readonly size: Float64Array
  readonly chunks: Int32Array
  /** Seconds; 0 for items that exist when the run starts. */
  readonly releasedAt: Float64Array

  constructor (s: Scenario, seed: number) {
    const n = s.catalog.items
    this.count = n
    this.chunkSize = s.chunkSizeBytes
    this.size = new Float64Array(n)
    this.chunks = new Int32Array(n)
    this.releasedAt = new Float64Array(n)
    const rng = createStream(seed, 'catalog')
    const [lo, hi] = typeof s.catalog.sizeBytes === 'number' ? [s.catalog.sizeBytes, s.catalog.sizeBytes] : s.catalog.sizeBytes
    for (let i = 0; i < n; i++) {
      const size = lo === hi ? lo : lo + Math.floor(rng.next() * (hi - lo + 1))
      this.size[i] = size
      this.chunks[i] = Math.ceil(size / this.chunkSize)
    }
    const w = s.workload
    if (w.type === 'poisson' && w.spike !== undefined) this.releasedAt[w.spike.item] = w.spike.atHour * 3600
  }

  /** Bytes of chunk k of item i (the last chunk may be short). */
  chunkBytes (item: number, k: number): number {
    const last = this.chunks[item]! - 1
    return k < last ? this.chunkSize : this.size[item]! - last * this.chunkSize
  }
}
