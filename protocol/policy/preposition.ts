/**
 * Which items main asks each region's edges to fetch before anyone there
 * asks for them: per region, the items most requested within a recent
 * window. Pure and deterministic like the other policies: the caller hands
 * in the time, and ties break by the most recent request, then by itemId.
 *
 * `planPreposition` works from a list of requests; `DemandCounter` keeps
 * windowed counts in bounded memory for a long-running main to feed.
 */

export interface DemandEvent {
  region: string
  itemId: string
  /** When the request was made (ms, the caller's clock). */
  at: number
}

export interface PrepositionOptions {
  now: number
  /** Requests in (now - windowMs, now] count. */
  windowMs: number
  /** Items per region. */
  topN: number
  /** Plan only these regions, each present in the result even with no demand; default: every region seen. */
  regions?: readonly string[]
}

/** No region is told to preposition more items than this: a directive to an edge stays small. */
export const PREPOSITION_MAX_TOP_N = 1000

/** DemandCounter's default bucket count: the window is approximated to 1/12 of its length. */
export const DEMAND_DEFAULT_BUCKETS = 12

/**
 * DemandCounter's default bound on distinct (region, item) pairs held at
 * once; requests for new pairs beyond it are counted in `dropped`, not
 * tracked. Generous for any real catalog times its regions.
 */
export const DEMAND_DEFAULT_MAX_KEYS = 100_000

interface Tally { region: string, itemId: string, count: number, last: number }

function checkPlanOptions (now: number, topN: number): void {
  if (!Number.isFinite(now)) throw new RangeError(`now must be finite, got ${now}`)
  if (!Number.isInteger(topN) || topN < 0 || topN > PREPOSITION_MAX_TOP_N) {
    throw new RangeError(`topN must be an integer in [0, ${PREPOSITION_MAX_TOP_N}], got ${topN}`)
  }
}

function checkWindow (windowMs: number): void {
  if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError(`windowMs must be positive and finite, got ${windowMs}`)
}

/** More requests first, then the more recently requested, then ascending itemId (code-unit order). */
function compareTally (a: Tally, b: Tally): number {
  if (a.count !== b.count) return b.count - a.count
  if (a.last !== b.last) return b.last - a.last
  if (a.itemId !== b.itemId) return a.itemId < b.itemId ? -1 : 1
  return 0
}

/** Per region, the top `topN` item ids of the tallies; regions listed in `regions` are always present. */
function topByRegion (tallies: Iterable<Tally>, topN: number, regions: readonly string[] | undefined): Map<string, string[]> {
  const wanted = regions === undefined ? undefined : new Set(regions)
  const byRegion = new Map<string, Tally[]>()
  if (regions !== undefined) for (const r of regions) byRegion.set(r, [])
  for (const t of tallies) {
    if (wanted !== undefined && !wanted.has(t.region)) continue
    let list = byRegion.get(t.region)
    if (list === undefined) byRegion.set(t.region, list = [])
    list.push(t)
  }
  const plan = new Map<string, string[]>()
  for (const region of [...byRegion.keys()].sort()) {
    const list = byRegion.get(region)!
    list.sort(compareTally)
    plan.set(region, list.slice(0, topN).map(t => t.itemId))
  }
  return plan
}

/** Per region (in ascending order), the `topN` items most requested in (now - windowMs, now]. */
export function planPreposition (demand: Iterable<DemandEvent>, opts: PrepositionOptions): Map<string, string[]> {
  const { now, windowMs, topN, regions } = opts
  checkPlanOptions(now, topN)
  checkWindow(windowMs)
  const since = now - windowMs
  const tallies = new Map<string, Tally>()
  for (const ev of demand) {
    if (!(ev.at > since && ev.at <= now)) continue
    const key = `${ev.region}\u0000${ev.itemId}`
    const t = tallies.get(key)
    if (t === undefined) tallies.set(key, { region: ev.region, itemId: ev.itemId, count: 1, last: ev.at })
    else {
      t.count++
      if (ev.at > t.last) t.last = ev.at
    }
  }
  return topByRegion(tallies.values(), topN, regions)
}

export interface DemandCounterOptions {
  windowMs: number
  buckets?: number
  maxKeys?: number
}

/**
 * Request counts over a sliding window, kept as a ring of time buckets: the
 * window is (now - windowMs, now] rounded to whole buckets, so an old request
 * is forgotten within one bucket's width of leaving it. Memory is bounded by
 * `maxKeys` distinct (region, item) pairs.
 *
 * Time only moves forward: a request or a plan at a later time expires the
 * buckets that left the window; a request older than the window is ignored.
 */
export class DemandCounter {
  readonly windowMs: number
  readonly bucketMs: number
  readonly maxKeys: number
  /** Requests not tracked because `maxKeys` pairs were already held. */
  dropped = 0
  private readonly slots: Array<Map<string, number>>
  private readonly slotIds: Float64Array
  private readonly totals = new Map<string, Tally>()
  /** The newest bucket id seen; -Infinity before the first. */
  private current = -Infinity

  constructor (opts: DemandCounterOptions) {
    checkWindow(opts.windowMs)
    const buckets = opts.buckets ?? DEMAND_DEFAULT_BUCKETS
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > 10_000) throw new RangeError(`buckets must be an integer in [1, 10000], got ${buckets}`)
    const maxKeys = opts.maxKeys ?? DEMAND_DEFAULT_MAX_KEYS
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${maxKeys}`)
    this.windowMs = opts.windowMs
    this.bucketMs = opts.windowMs / buckets
    this.maxKeys = maxKeys
    this.slots = Array.from({ length: buckets }, () => new Map<string, number>())
    this.slotIds = new Float64Array(buckets).fill(-Infinity)
  }

  /** Distinct (region, item) pairs currently counted. */
  get size (): number { return this.totals.size }

  record (region: string, itemId: string, at: number): void {
    if (!Number.isFinite(at)) throw new RangeError(`at must be finite, got ${at}`)
    const id = Math.floor(at / this.bucketMs)
    this.advance(id)
    if (id <= this.current - this.slots.length) return
    const key = `${region}\u0000${itemId}`
    let t = this.totals.get(key)
    if (t === undefined) {
      if (this.totals.size >= this.maxKeys) { this.dropped++; return }
      t = { region, itemId, count: 0, last: at }
      this.totals.set(key, t)
    }
    t.count++
    if (at > t.last) t.last = at
    const slot = this.slotFor(id)
    slot.set(key, (slot.get(key) ?? 0) + 1)
  }

  /** The request count of one item in one region within the window ending at the latest time seen. */
  count (region: string, itemId: string): number {
    return this.totals.get(`${region}\u0000${itemId}`)?.count ?? 0
  }

  /** Like planPreposition over the requests still in the window at `now`. */
  plan (now: number, topN: number, regions?: readonly string[]): Map<string, string[]> {
    checkPlanOptions(now, topN)
    this.advance(Math.floor(now / this.bucketMs))
    return topByRegion(this.totals.values(), topN, regions)
  }

  private slotFor (id: number): Map<string, number> {
    const n = this.slots.length
    const i = ((id % n) + n) % n
    if (this.slotIds[i] !== id) {
      this.expire(i)
      this.slotIds[i] = id
    }
    return this.slots[i]!
  }

  /** Moves time forward to bucket `id`, forgetting buckets that left the window. */
  private advance (id: number): void {
    if (id <= this.current) return
    const n = this.slots.length
    for (let i = 0; i < n; i++) {
      if (this.slotIds[i]! <= id - n) this.expire(i)
    }
    this.current = id
  }

  private expire (i: number): void {
    const slot = this.slots[i]!
    for (const [key, c] of slot) {
      const t = this.totals.get(key)!
      t.count -= c
      if (t.count <= 0) this.totals.delete(key)
    }
    slot.clear()
    this.slotIds[i] = -Infinity
  }
}
