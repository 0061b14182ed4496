/**
 * The simulator's pending-event set: a 4-ary min-heap over typed arrays,
 * ordered by (time, sequence). The sequence number is handed out in push
 * order, so two events at the same instant always leave in the order they
 * were scheduled, and a run replays identically. No object is allocated per
 * event: the payload (a kind and three integers) sits in a slot pool that
 * never moves, the heap moves only (time, sequence, slot), and `pop()`
 * leaves the popped event in the queue's `time`/`kind`/`a`/`b`/`c` fields.
 *
 * A 4-ary heap halves the depth of a binary one (log4 vs log2) at the cost
 * of three extra comparisons per level, which wins once the heap outgrows
 * the cache: at 10^7 pending events a binary heap is 24 levels deep, this
 * one 12.
 *
 * Events beyond the current time bucket (`bucketSeconds` wide) wait in
 * unsorted per-bucket lists and enter the heap only when their bucket comes
 * up, keeping their original sequence number. The heap then holds only the
 * near future (a few thousand events, cache-resident) even when 10^6 clients
 * each have a churn timer pending hours ahead.
 *
 * Events scheduled for the current instant (zero delay) skip the heap: they
 * go to a FIFO ring that is drained after any heap event at the same instant
 * (those were pushed earlier, so their sequence is lower) — the same order
 * the heap would give, at O(1).
 */

/** The starting capacity: small runs never grow, large ones double from here. */
export const INITIAL_QUEUE_CAPACITY = 1 << 12

/**
 * The most events that may be pending at once: 2^26 (67 M) events take
 * 67 M × 44 B ≈ 2.9 GiB (heap, payload, free list and ring), about a third of the 8 GiB budget.
 * A scenario that needs more is mis-specified (an event storm), so it fails loudly.
 */
export const MAX_PENDING_EVENTS = 1 << 26

const ARITY = 4

/** Default width of a far-future bucket: wider than most chunk arrivals reach (they stay in the heap), far shorter than churn and license timers (they wait outside it). */
export const DEFAULT_BUCKET_SECONDS = 60

export class QueueOverflowError extends Error {
  name = 'QueueOverflowError'
}

export class EventQueue {
  // the heap: time, sequence and payload slot of each pending event
  private times: Float64Array
  private seqs: Float64Array
  private slots: Int32Array
  private n = 0
  // the payload pool, indexed by slot, with a free list
  /** kind, a, b, c of each slot, side by side (one cache line per event). */
  private payload: Int32Array
  private slotCap: number
  private free: Int32Array
  private nFree = 0
  private nextSlot = 0
  // zero-delay events: a ring of slots, all at time `now`
  private ring: Int32Array
  private ringHead = 0
  private ringLen = 0
  private nextSeq = 0
  // far-future events: bucket index → flat [time, seq, slot, time, seq, slot, ...]
  private readonly bucketWidth: number
  private readonly far = new Map<number, number[]>()
  private farCount = 0
  /** Every pending event before (bucket + 1) × width is in the heap or the ring. */
  private bucket = 0
  /** The time of the last popped event: the simulation clock. */
  now = 0

  /** Fields of the event last returned by pop(). */
  time = 0
  kind = 0
  a = 0
  b = 0
  c = 0

  constructor (capacity = INITIAL_QUEUE_CAPACITY, bucketSeconds = DEFAULT_BUCKET_SECONDS) {
    if (!(bucketSeconds > 0) || !Number.isFinite(bucketSeconds)) throw new RangeError('bucketSeconds must be positive and finite')
    this.bucketWidth = bucketSeconds
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_PENDING_EVENTS || (capacity & (capacity - 1)) !== 0) throw new RangeError(`queue capacity must be a power of two in 1..${MAX_PENDING_EVENTS}`)
    this.times = new Float64Array(capacity)
    this.seqs = new Float64Array(capacity)
    this.slots = new Int32Array(capacity)
    this.payload = new Int32Array(capacity * 4)
    this.slotCap = capacity
    this.free = new Int32Array(capacity)
    this.ring = new Int32Array(capacity)
  }

  get size (): number { return this.n + this.ringLen + this.farCount }
  /** How many events were ever pushed (the sequence counter). */
  get pushed (): number { return this.nextSeq }

  /** Time of the earliest pending event, or Infinity if none. */
  peekTime (): number {
    if (this.ringLen > 0) return this.now
    this.fill()
    return this.n === 0 ? Infinity : this.times[0]!
  }

  /** Pour far buckets into the heap until its top is the earliest pending event. */
  private fill (): void {
    while (this.farCount > 0 && (this.n === 0 || this.times[0]! >= (this.bucket + 1) * this.bucketWidth)) {
      const b = ++this.bucket
      const list = this.far.get(b)
      if (list === undefined) continue
      this.far.delete(b)
      this.farCount -= list.length / 3
      for (let i = 0; i < list.length; i += 3) this.heapPush(list[i]!, list[i + 1]!, list[i + 2]!)
    }
  }

  push (time: number, kind: number, a = 0, b = 0, c = 0): void {
    if (!(time >= this.now) || time === Infinity) throw new RangeError(`event time must be finite and >= now (${this.now}), got ${time}`)
    const slot = this.alloc()
    const p = this.payload; const o = slot * 4
    p[o] = kind; p[o + 1] = a; p[o + 2] = b; p[o + 3] = c
    const seq = this.nextSeq++
    if (time === this.now) {
      const ring = this.ring
      ring[(this.ringHead + this.ringLen) & (ring.length - 1)] = slot
      this.ringLen++
      return
    }
    const bucket = Math.floor(time / this.bucketWidth) | 0
    if (bucket > this.bucket) {
      let list = this.far.get(bucket)
      if (list === undefined) { list = []; this.far.set(bucket, list) }
      list.push(time, seq, slot)
      this.farCount++
      return
    }
    this.heapPush(time, seq, slot)
  }

  private heapPush (time: number, seq: number, slot: number): void {
    const times = this.times; const seqs = this.seqs; const slots = this.slots
    let i = this.n++
    while (i > 0) {
      const p = (i - 1) >> 2
      const pt = times[p]!
      if (pt < time || (pt === time && seqs[p]! < seq)) break
      times[i] = pt; seqs[i] = seqs[p]!; slots[i] = slots[p]!
      i = p
    }
    times[i] = time; seqs[i] = seq; slots[i] = slot
  }

  /** Remove the earliest event into this.time/kind/a/b/c; false if the queue is empty. */
  pop (): boolean {
    let slot: number
    if (this.ringLen > 0 && !(this.n > 0 && this.times[0] === this.now)) {
      slot = this.ring[this.ringHead]!
      this.ringHead = (this.ringHead + 1) & (this.ring.length - 1)
      this.ringLen--
      this.time = this.now
    } else if (this.n > 0 || this.farCount > 0) {
      this.fill()
      slot = this.popHeap()
    } else {
      return false
    }
    const p = this.payload; const o = slot * 4
    this.kind = p[o]!; this.a = p[o + 1]!; this.b = p[o + 2]!; this.c = p[o + 3]!
    this.free[this.nFree++] = slot
    return true
  }

  private popHeap (): number {
    const times = this.times; const seqs = this.seqs; const slots = this.slots
    const top = slots[0]!
    this.time = this.now = times[0]!
    const last = --this.n
    if (last === 0) return top
    const t = times[last]!; const s = seqs[last]!; const sl = slots[last]!
    let i = 0
    for (;;) {
      const first = i * ARITY + 1
      if (first >= last) break
      let best = first
      let bt = times[first]!; let bs = seqs[first]!
      const end = first + ARITY < last ? first + ARITY : last
      for (let j = first + 1; j < end; j++) {
        const jt = times[j]!
        if (jt < bt || (jt === bt && seqs[j]! < bs)) { best = j; bt = jt; bs = seqs[j]! }
      }
      if (t < bt || (t === bt && s < bs)) break
      times[i] = bt; seqs[i] = bs; slots[i] = slots[best]!
      i = best
    }
    times[i] = t; seqs[i] = s; slots[i] = sl
    return top
  }

  private alloc (): number {
    if (this.nFree > 0) return this.free[--this.nFree]!
    if (this.nextSlot === this.slotCap) this.grow()
    return this.nextSlot++
  }

  private grow (): void {
    const cap = this.slotCap
    if (cap >= MAX_PENDING_EVENTS) throw new QueueOverflowError(`more than ${MAX_PENDING_EVENTS} events pending at once`)
    const next = Math.min(cap * 2, MAX_PENDING_EVENTS)
    const f64 = (old: Float64Array): Float64Array => { const x = new Float64Array(next); x.set(old); return x }
    const i32 = (old: Int32Array): Int32Array => { const x = new Int32Array(next); x.set(old); return x }
    this.times = f64(this.times); this.seqs = f64(this.seqs); this.slots = i32(this.slots)
    const payload = new Int32Array(next * 4); payload.set(this.payload); this.payload = payload
    this.slotCap = next
    this.free = i32(this.free)
    // unroll the ring into the bigger one so its order survives
    const ring = new Int32Array(next)
    for (let k = 0; k < this.ringLen; k++) ring[k] = this.ring[(this.ringHead + k) & (cap - 1)]!
    this.ring = ring; this.ringHead = 0
  }
}
