/**
 * The order chunks are asked for: urgent ones first (a seek), in the order
 * they were asked, then sequentially from the read head, wrapping around.
 */

export class ChunkQueue {
  private urgent: number[] = []
  private readHead = 0

  constructor (private readonly chunkCount: number) {}

  /** Move chunks [lo, hi] (those `isDone` says are not) to the front, and continue sequentially from `lo`. */
  prioritize (lo: number, hi: number, isDone: (i: number) => boolean): void {
    const fresh: number[] = []
    for (let i = lo; i <= hi; i++) if (!isDone(i)) fresh.push(i)
    this.urgent = [...fresh, ...this.urgent.filter(i => i < lo || i > hi)]
    this.readHead = lo
  }

  /** Chunks handed back (a failed or short request): the sequential scan comes back for them. */
  rewind (index: number): void {
    this.readHead = Math.min(this.readHead, index)
  }

  /**
   * The next chunks for one source in play order, up to `max`, contiguous where possible. `taken(i)`: done or
   * being fetched; `mayAsk(i)`: this source may be asked for it now.
   */
  pick (max: number, taken: (i: number) => boolean, mayAsk: (i: number) => boolean): number[] {
    const out: number[] = []
    while (this.urgent.length > 0 && out.length < max) {
      const i = this.urgent[0] as number
      if (taken(i)) { this.urgent.shift(); continue }
      if (!mayAsk(i)) break
      out.push(i)
      this.urgent.shift()
    }
    if (out.length >= max) return out
    const n = this.chunkCount
    for (let k = 0; k < n && out.length < max; k++) {
      const i = (this.readHead + k) % n
      if (out.includes(i) || taken(i) || !mayAsk(i)) continue
      // keep a batch contiguous: once started, stop at the first gap
      if (out.length > 0 && i !== (out[out.length - 1] as number) + 1) break
      out.push(i)
    }
    return out
  }

  /** An urgent chunk that nobody is fetching yet and this source may be asked for. */
  hasFreshUrgent (taken: (i: number) => boolean, mayAsk: (i: number) => boolean): boolean {
    for (const i of this.urgent) {
      if (taken(i)) continue
      return mayAsk(i)
    }
    return false
  }
}
