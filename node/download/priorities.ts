/**
 * Request priorities: the order chunks are asked for. Three levels:
 *
 * - urgent: someone is waiting for this chunk now — a seek in `reelnet play`,
 *   or a customer waiting on an edge's miss. Asked first, and one may go past
 *   a full window.
 * - normal: the download in play order (a customer's whole item, an edge's
 *   readahead after a miss), sequentially from the read head, wrapping around.
 * - background: work nobody waits for — a parent's catalog copy, an edge's
 *   preposition. Asked only once nothing urgent or normal is left to assign.
 */

export type Priority = 'urgent' | 'normal' | 'background'

/** A chunk's level in `levels`: 0 is not wanted at all. */
export const LEVEL: Record<Priority, number> = { background: 1, normal: 2, urgent: 3 }

export class ChunkQueue {
  /** Urgent chunks in the order they are to go out. */
  private urgent: number[] = []
  private readHead = 0
  /** Per chunk: 0 not wanted, else LEVEL of the highest priority it was wanted at. */
  readonly levels: Uint8Array
  /**
   * On demand only: the chunks wanted and not yet done. A fill wants a few chunks of a long item at a time, and
   * walking every chunk of a 4 GiB item on each pick cost more than the few it was looking for.
   */
  readonly open: Set<number> | undefined

  /** `wantAll`: every chunk is wanted at normal priority (a customer's download); else none until `want`. */
  constructor (private readonly chunkCount: number, wantAll: boolean) {
    this.levels = new Uint8Array(chunkCount)
    if (wantAll) this.levels.fill(LEVEL.normal)
    else this.open = new Set()
  }

  isWanted (i: number): boolean { return this.levels[i] !== 0 }

  /** Want chunk `i` at `priority` (raising it, never lowering); true if it was not wanted before. */
  want (i: number, priority: Priority): boolean {
    const was = this.levels[i] ?? 0
    const level = LEVEL[priority]
    if (level > was) this.levels[i] = level
    if (priority === 'urgent' && was !== LEVEL.urgent) this.urgent.push(i)
    if (was === 0) this.open?.add(i)
    return was === 0
  }

  /** Chunk `i` is verified: it is no longer looked for. */
  done (i: number): void {
    this.open?.delete(i)
  }

  /**
   * A seek: chunks [lo, hi] (those wanted that `isDone` says are not) go to the front, and the download continues
   * from `lo`. Chunks nobody wants stay unwanted (an on-demand engine fetches only what it was asked for).
   */
  prioritize (lo: number, hi: number, isDone: (i: number) => boolean): void {
    const fresh: number[] = []
    for (let i = lo; i <= hi; i++) {
      if (isDone(i) || this.levels[i] === 0) continue
      fresh.push(i)
      if ((this.levels[i] ?? 0) < LEVEL.urgent) this.levels[i] = LEVEL.urgent
    }
    this.urgent = [...fresh, ...this.urgent.filter(i => i < lo || i > hi)]
    this.readHead = lo
  }

  /** Chunks handed back (a failed or short request): the sequential scan comes back for them. */
  rewind (index: number): void {
    this.readHead = Math.min(this.readHead, index)
  }

  /**
   * The next chunks for one source, up to `max`: urgent ones first, then normal, then background ones, each
   * contiguous where possible. `taken(i)`: done or being fetched; `mayAsk(i)`: this source may be asked for it now.
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
    for (const level of [LEVEL.normal, LEVEL.background]) {
      if (out.length >= max) return out
      // a level below another is looked at only when nothing above it could be picked
      if (level === LEVEL.background && out.length > 0) return out
      this.scan(out, max, level, taken, mayAsk)
    }
    return out
  }

  /** Sequentially from the read head: chunks at `level` or above (urgent ones a source could not be asked for in order). */
  private scan (out: number[], max: number, level: number, taken: (i: number) => boolean, mayAsk: (i: number) => boolean): void {
    const take = (i: number): boolean => {
      if ((this.levels[i] ?? 0) < level || out.includes(i) || taken(i) || !mayAsk(i)) return true
      // keep a batch contiguous: once started, stop at the first gap
      if (out.length > 0 && i !== (out[out.length - 1] as number) + 1) return false
      out.push(i)
      return true
    }
    if (this.open === undefined) {
      const n = this.chunkCount
      for (let k = 0; k < n && out.length < max; k++) if (!take((this.readHead + k) % n)) return
      return
    }
    // on demand, only the open chunks, in the same order: from the read head to the end, then from the start
    const sorted = [...this.open].sort((a, b) => a - b)
    let first = sorted.findIndex(i => i >= this.readHead)
    if (first < 0) first = 0
    for (let k = 0; k < sorted.length && out.length < max; k++) if (!take(sorted[(first + k) % sorted.length] as number)) return
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
