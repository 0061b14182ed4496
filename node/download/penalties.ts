/**
 * The one penalty map: which sources are kept out, until when, and why. A
 * download holds one for its own run; an edge's filler holds one for its
 * whole life and hands it to every fill, so a parent that sent a bad chunk
 * for one item is not asked for the next either.
 */

export type PenaltyReason = 'ban' | 'avoid'

/** Sources remembered at once; past it, expired entries go first, then the soonest to expire (bounded memory under churn). */
export const MAX_PENALISED = 4096

export class PenaltyMap {
  private readonly entries = new Map<string, { until: number, reason: PenaltyReason }>()

  /** `exempt`: sources never kept out beyond the engine that dropped them (an edge's filler exempts main's origin). */
  constructor (private readonly exempt: (id: string) => boolean = () => false) {}

  /** Keep `id` out until `until` (Infinity: for as long as this map lives); a later deadline already set stands. */
  penalise (id: string, until: number, reason: PenaltyReason, now: number): void {
    if (this.exempt(id)) return
    const old = this.entries.get(id)
    if (old !== undefined && old.until >= until) return
    this.entries.set(id, { until, reason })
    if (this.entries.size > MAX_PENALISED) this.prune(now)
  }

  /** Why `id` is kept out now, or undefined if it is not. */
  reasonOf (id: string, now: number): PenaltyReason | undefined {
    const e = this.entries.get(id)
    if (e === undefined) return undefined
    if (e.until <= now) { this.entries.delete(id); return undefined }
    return e.reason
  }

  isPenalised (id: string, now: number): boolean {
    return this.reasonOf(id, now) !== undefined
  }

  get size (): number { return this.entries.size }

  private prune (now: number): void {
    for (const [id, e] of this.entries) if (e.until <= now) this.entries.delete(id)
    while (this.entries.size > MAX_PENALISED) {
      let first: string | undefined
      let soonest = Infinity
      for (const [id, e] of this.entries) if (e.until < soonest || first === undefined) { first = id; soonest = e.until }
      if (first === undefined) break
      this.entries.delete(first)
    }
  }
}
