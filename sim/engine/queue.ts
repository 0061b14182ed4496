/**
 * The simulator's pending-event set, ordered by (time, sequence). The
 * sequence number is handed out in push order, so two events at the same
 * instant always leave in the order they were scheduled, and a run replays
 * identically. (Keys are unique, so any correct priority queue over them
 * yields the same order: the layers below only make it cheaper.) No object
 * is allocated per event, and `pop()` leaves the popped event in the
 * queue's `time`/`kind`/`a`/`b`/`c` fields.
 *
 * Three layers, by how far ahead an event is:
 *
 * - **Far buckets** (`bucketSeconds` wide): an event beyond the current
 *   bucket waits, unsorted, in its bucket (time, sequence and payload side
 *   by side). Churn and other timers hours ahead wait there. A bucket is a
 *   chain of fixed-size blocks from one shared pool, and a spent bucket's
 *   blocks go back to it, so a bucket that fills up never copies itself
 *   and one that gets a few events takes one block.
 * - **Fine buckets** (`FINE_PER_BUCKET` per far bucket): when a far bucket
 *   comes up its events are spread over its fine buckets, and events pushed
 *   into the current far bucket go straight to theirs. Chunk arrivals,
 *   a fraction of a second to seconds ahead, mostly land here. An event
 *   takes its slot (below) when it enters a fine bucket, and a fine bucket
 *   is a list of slots linked through the pool (each slot's record holds
 *   its time, sequence, payload and next slot: 64 bytes): a push touches the slot and the bucket's
 *   tail, not one of 4096 separate buffers (a miss on nearly every push),
 *   and pouring walks the list.
 * - **The heap**: a 4-ary min-heap over typed arrays holding only the
 *   events of the fine buckets that have come up (tens of events, a few
 *   levels deep), and each event's record in a slot pool that never moves. The heap keeps each entry's
 *   time in one typed array and its slot in another (an Int32Array: no
 *   double-to-integer conversion per move; the heap is small enough to stay
 *   in the first-level cache either way); the sequence is read only to
 *   break a tie in time, which is rare.
 *   The next fine bucket is poured in only when the heap is empty: every
 *   event outside the heap is in a later fine bucket, hence later.
 *
 * Bucket indices come from one multiplication of the time by the fine
 * buckets per second (the far index is that divided by FINE_PER_BUCKET,
 * exact in integers), and floating-point multiplication is monotonic, so an
 * event in a later bucket is never earlier than one in the heap.
 *
 * Events scheduled for the current instant (zero delay) skip all this: they
 * go to a FIFO ring that is drained after any heap event at the same instant
 * (those were pushed earlier, so their sequence is lower) — the same order
 * the heap would give, at O(1).
 */

/** The starting capacity: small runs never grow, large ones double from here. */
export const INITIAL_QUEUE_CAPACITY = 1 << 12

/**
 * The most events that may be pending at once: 2^26 (67 M) events take at
 * most 67 M × 48 B ≈ 3 GiB (bucket buffers hold time, sequence and payload
 * as six doubles; the heap and slot pool about as much per event), under
 * half of the 8 GiB budget. A scenario that needs more is mis-specified (an
 * event storm), so it fails loudly.
 */
export const MAX_PENDING_EVENTS = 1 << 26

const ARITY = 4

/** Default width of a far-future bucket: wider than most chunk arrivals reach (they skip the map of far buckets), far shorter than churn and license timers (they wait in it). */
export const DEFAULT_BUCKET_SECONDS = 60

/**
 * Fine buckets per far bucket (a power of two): at the default width, 15 ms
 * each, which in the million-client benchmark (about 750 events per
 * simulated second) keeps the heap to about ten events, two levels. (1024
 * was 10 % slower on a replay of that benchmark's pattern, 16384 slower
 * still: scanning empty buckets.)
 */
export const FINE_PER_BUCKET = 4096

/** Doubles per far-bucket entry: time, sequence, kind, a, b, c. */
const ENTRY_FIELDS = 6
/**
 * Far buckets with an index below this live in an array (an index is a
 * bucket number from time 0: at the default width 2^20 buckets are two
 * years), later ones in a Map: the array saves a hash lookup on every push
 * of a timer minutes to hours ahead (churn, refreshes).
 */
const FAR_ARRAY_BUCKETS = 1 << 20
/**
 * A slot's fields, side by side (64 bytes: an event's whole life in the
 * pool touches one record, not four columns): its time while in a fine
 * bucket and its sequence as doubles (`slots`), then its payload (kind, a,
 * b, c) and the next slot of its fine bucket as int32s in the same bytes
 * (`slotInts`, a second view of the buffer: no conversion on the way in or
 * out). SLOT_FIELDS doubles per slot, SLOT_INTS int32s.
 */
const SLOT_FIELDS = 8
const SLOT_INTS = 2 * SLOT_FIELDS
const SLOT_TIME = 0
const SLOT_SEQ = 1
const SLOT_KIND = 4
const SLOT_A = 5
const SLOT_B = 6
const SLOT_C = 7
const SLOT_NEXT = 8
/** Entries per block of a far bucket (3 KiB): a far bucket of a few timers wastes at most one block. */
const BLOCK_ENTRIES = 64
const BLOCK_DOUBLES = BLOCK_ENTRIES * ENTRY_FIELDS
/** Blocks in the pool at first (it doubles as needed). */
const INITIAL_BLOCKS = 256

export class QueueOverflowError extends Error {
  name = 'QueueOverflowError'
}

/** One far bucket: a chain of blocks holding ENTRY_FIELDS doubles per event, in push order. */
interface FarBucket {
  /** First and last block of the chain (blocks link through `blockNext`). */
  head: number
  tail: number
  len: number
}

export class EventQueue {
  // the heap: each pending event's time, and its slot
  private heap: Float64Array
  private heapSlot: Int32Array
  private n = 0
  // the slot pool, with a free list: each slot's record, as doubles and as int32s (SLOT_*)
  private slots: Float64Array
  private slotInts: Int32Array
  private slotCap: number
  private free: Int32Array
  private nFree = 0
  private nextSlot = 0
  // zero-delay events: a ring of slots, all at time `now`
  private ring: Int32Array
  private ringHead = 0
  private ringLen = 0
  private nextSeq = 0
  // fine buckets of the current far bucket (position = fine index − fineBase): each a list of
  // slots linked through their SLOT_NEXT (-1 ends it)
  /** Fine buckets per second (1 / their width). */
  private readonly finePerSecond: number
  private readonly fineHead = new Int32Array(FINE_PER_BUCKET).fill(-1)
  private readonly fineTail = new Int32Array(FINE_PER_BUCKET)
  private fineCount = 0
  /** Fine index of the current far bucket's first fine bucket. */
  private fineBase = 0
  /** Every pending event whose fine index (⌊time × finePerSecond⌋) is at most this is in the heap or the ring. */
  private cur = 0
  // far-future events: far bucket index → its buffer
  private readonly farArray: Array<FarBucket | undefined> = []
  private readonly farMap = new Map<number, FarBucket>()
  private farCount = 0
  /** The far buckets' block pool: block b's entries are blocks[b·BLOCK_DOUBLES …]; blockNext[b] the next block of its chain (-1 at the end). */
  private blocks = new Float64Array(INITIAL_BLOCKS * BLOCK_DOUBLES)
  private blockNext = new Int32Array(INITIAL_BLOCKS)
  private blockFree = new Int32Array(INITIAL_BLOCKS)
  private nBlockFree = 0
  private nextBlock = 0
  /** Index of the current far bucket: later ones wait in `far`. */
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
    this.finePerSecond = FINE_PER_BUCKET / bucketSeconds
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_PENDING_EVENTS || (capacity & (capacity - 1)) !== 0) throw new RangeError(`queue capacity must be a power of two in 1..${MAX_PENDING_EVENTS}`)
    this.heap = new Float64Array(capacity)
    this.heapSlot = new Int32Array(capacity)
    this.slots = new Float64Array(capacity * SLOT_FIELDS)
    this.slotInts = new Int32Array(this.slots.buffer)
    this.slotCap = capacity
    this.free = new Int32Array(capacity)
    this.ring = new Int32Array(capacity)
  }

  get size (): number { return this.n + this.ringLen + this.fineCount + this.farCount }
  /** How many events were ever pushed (the sequence counter). */
  get pushed (): number { return this.nextSeq }

  /** Time of the earliest pending event, or Infinity if none. */
  peekTime (): number {
    if (this.ringLen > 0) return this.now
    while (this.n === 0) if (!this.advance()) return Infinity
    return this.heap[0]!
  }

  push (time: number, kind: number, a = 0, b = 0, c = 0): void {
    if (!(time >= this.now) || time === Infinity) throw new RangeError(`event time must be finite and >= now (${this.now}), got ${time}`)
    const seq = this.nextSeq++
    if (time === this.now) {
      const slot = this.alloc(seq, kind, a, b, c)
      const ring = this.ring
      ring[(this.ringHead + this.ringLen) & (ring.length - 1)] = slot
      this.ringLen++
      return
    }
    const fine = Math.floor(time * this.finePerSecond)
    if (fine <= this.cur) { this.heapPush(time, this.alloc(seq, kind, a, b, c)); return }
    const at = fine - this.fineBase
    if (at < FINE_PER_BUCKET) { this.pushFine(at, time, this.alloc(seq, kind, a, b, c)); return }
    if (this.size >= MAX_PENDING_EVENTS) throw new QueueOverflowError(`more than ${MAX_PENDING_EVENTS} events pending at once`)
    this.pushFar(Math.floor(fine / FINE_PER_BUCKET), time, seq, kind, a, b, c)
  }

  /** The slot (holding an event at `time`) onto the end of fine bucket `at` of the current far bucket. */
  private pushFine (at: number, time: number, slot: number): void {
    const ints = this.slotInts
    this.slots[slot * SLOT_FIELDS + SLOT_TIME] = time
    ints[slot * SLOT_INTS + SLOT_NEXT] = -1
    if (this.fineHead[at] === -1) this.fineHead[at] = slot
    else ints[this.fineTail[at]! * SLOT_INTS + SLOT_NEXT] = slot
    this.fineTail[at] = slot
    this.fineCount++
  }

  private farBucket (index: number): FarBucket | undefined {
    return index < FAR_ARRAY_BUCKETS ? this.farArray[index] : this.farMap.get(index)
  }

  private pushFar (index: number, time: number, seq: number, kind: number, a: number, b: number, c: number): void {
    let bucket = this.farBucket(index)
    if (bucket === undefined) {
      const blk = this.allocBlock()
      bucket = { head: blk, tail: blk, len: 0 }
      if (index < FAR_ARRAY_BUCKETS) {
        const arr = this.farArray
        // keep the array dense (holes would make it a slow dictionary)
        while (arr.length < index) arr.push(undefined)
        arr[index] = bucket
      } else this.farMap.set(index, bucket)
    }
    const at = bucket.len % BLOCK_ENTRIES
    if (at === 0 && bucket.len > 0) {
      const blk = this.allocBlock()
      this.blockNext[bucket.tail] = blk
      bucket.tail = blk
    }
    const data = this.blocks
    let o = bucket.tail * BLOCK_DOUBLES + at * ENTRY_FIELDS
    data[o++] = time; data[o++] = seq; data[o++] = kind; data[o++] = a; data[o++] = b; data[o] = c
    bucket.len++
    this.farCount++
  }

  /**
   * With the heap empty, pour the next non-empty fine bucket into it (first
   * spreading the next far bucket over the fine ones if this one's are
   * spent); false if nothing is pending outside the heap and the ring.
   */
  private advance (): boolean {
    for (;;) {
      if (this.fineCount > 0) {
        const head = this.fineHead
        let at = this.cur + 1 - this.fineBase
        while (head[at] === -1) at++
        this.cur = this.fineBase + at
        let slot = head[at]!
        head[at] = -1
        const slots = this.slots; const ints = this.slotInts
        while (slot !== -1) {
          this.heapPush(slots[slot * SLOT_FIELDS + SLOT_TIME]!, slot)
          this.fineCount--
          slot = ints[slot * SLOT_INTS + SLOT_NEXT]!
        }
        return true
      }
      if (this.farCount === 0) return false
      // the current far bucket is spent: move to the next one that holds events
      let bucket: FarBucket | undefined
      do bucket = this.farBucket(++this.bucket); while (bucket === undefined)
      if (this.bucket < FAR_ARRAY_BUCKETS) this.farArray[this.bucket] = undefined
      else this.farMap.delete(this.bucket)
      this.farCount -= bucket.len
      this.fineBase = this.bucket * FINE_PER_BUCKET
      this.cur = this.fineBase - 1
      // spread it over its fine buckets, block by block, returning each block to the pool
      let blk = bucket.head
      for (let left = bucket.len; left > 0;) {
        const data = this.blocks
        const n = left < BLOCK_ENTRIES ? left : BLOCK_ENTRIES
        for (let i = 0, o = blk * BLOCK_DOUBLES; i < n; i++, o += ENTRY_FIELDS) {
          const time = data[o]!
          this.pushFine(Math.floor(time * this.finePerSecond) - this.fineBase, time, this.alloc(data[o + 1]!, data[o + 2]!, data[o + 3]!, data[o + 4]!, data[o + 5]!))
        }
        left -= n
        this.blockFree[this.nBlockFree++] = blk
        blk = this.blockNext[blk]!
      }
    }
  }

  private heapPush (time: number, slot: number): void {
    this.siftUp(this.n++, time, slot)
  }

  /** Put (time, slot) into the hole at i, moving later parents down (>> 2: the parent of i, ARITY being 4). */
  private siftUp (i: number, time: number, slot: number): void {
    const heap = this.heap; const hs = this.heapSlot; const slots = this.slots
    while (i > 0) {
      const p = (i - 1) >> 2
      const pt = heap[p]!
      if (pt < time || (pt === time && slots[hs[p]! * SLOT_FIELDS + SLOT_SEQ]! < slots[slot * SLOT_FIELDS + SLOT_SEQ]!)) break
      heap[i] = pt; hs[i] = hs[p]!
      i = p
    }
    heap[i] = time; hs[i] = slot
  }

  /** Remove the earliest event into this.time/kind/a/b/c; false if the queue is empty. */
  pop (): boolean {
    return this.popUntil(Infinity)
  }

  /**
   * Remove the earliest event into this.time/kind/a/b/c if it is due at or
   * before `limit`; false (and nothing removed, the clock unmoved) otherwise.
   */
  popUntil (limit: number): boolean {
    let slot: number
    if (this.ringLen > 0 && !(this.n > 0 && this.heap[0] === this.now)) {
      if (this.now > limit) return false
      slot = this.ring[this.ringHead]!
      this.ringHead = (this.ringHead + 1) & (this.ring.length - 1)
      this.ringLen--
      this.time = this.now
    } else {
      while (this.n === 0) if (!this.advance()) return false
      if (!(this.heap[0]! <= limit)) return false
      slot = this.popHeap()
    }
    const p = this.slotInts; const o = slot * SLOT_INTS
    this.kind = p[o + SLOT_KIND]!; this.a = p[o + SLOT_A]!; this.b = p[o + SLOT_B]!; this.c = p[o + SLOT_C]!
    this.free[this.nFree++] = slot
    return true
  }

  private popHeap (): number {
    const heap = this.heap; const hs = this.heapSlot; const slots = this.slots
    const top = hs[0]!
    this.time = this.now = heap[0]!
    const last = --this.n
    if (last === 0) return top
    const t = heap[last]!; const sl = hs[last]!
    // bottom-up: move the hole down along the smaller children to a leaf, then let the last
    // entry rise from there (it came from the bottom, so it rarely rises far); this saves the
    // comparison with it at every level on the way down
    let i = 0
    for (;;) {
      const first = i * ARITY + 1
      if (first >= last) break
      let best = first
      let bt = heap[first]!
      const end = first + ARITY < last ? first + ARITY : last
      for (let j = first + 1; j < end; j++) {
        const jt = heap[j]!
        if (jt < bt || (jt === bt && slots[hs[j]! * SLOT_FIELDS + SLOT_SEQ]! < slots[hs[best]! * SLOT_FIELDS + SLOT_SEQ]!)) { best = j; bt = jt }
      }
      heap[i] = bt; hs[i] = hs[best]!
      i = best
    }
    this.siftUp(i, t, sl)
    return top
  }

  /** A block for a far bucket, from the pool (which doubles when empty). */
  private allocBlock (): number {
    let b: number
    if (this.nBlockFree > 0) b = this.blockFree[--this.nBlockFree]!
    else {
      if (this.nextBlock === this.blockNext.length) {
        const cap = this.blockNext.length * 2
        const blocks = new Float64Array(cap * BLOCK_DOUBLES); blocks.set(this.blocks); this.blocks = blocks
        const next = new Int32Array(cap); next.set(this.blockNext); this.blockNext = next
        const free = new Int32Array(cap); free.set(this.blockFree); this.blockFree = free
      }
      b = this.nextBlock++
    }
    this.blockNext[b] = -1
    return b
  }

  /** A slot holding the event's sequence and payload. */
  private alloc (seq: number, kind: number, a: number, b: number, c: number): number {
    let slot: number
    if (this.nFree > 0) slot = this.free[--this.nFree]!
    else {
      if (this.nextSlot === this.slotCap) this.grow()
      slot = this.nextSlot++
    }
    this.slots[slot * SLOT_FIELDS + SLOT_SEQ] = seq
    const p = this.slotInts; const o = slot * SLOT_INTS
    p[o + SLOT_KIND] = kind; p[o + SLOT_A] = a; p[o + SLOT_B] = b; p[o + SLOT_C] = c
    return slot
  }

  private grow (): void {
    const cap = this.slotCap
    if (cap >= MAX_PENDING_EVENTS || this.size >= MAX_PENDING_EVENTS) throw new QueueOverflowError(`more than ${MAX_PENDING_EVENTS} events pending at once`)
    const next = Math.min(cap * 2, MAX_PENDING_EVENTS)
    const heap = new Float64Array(next); heap.set(this.heap); this.heap = heap
    const hs = new Int32Array(next); hs.set(this.heapSlot); this.heapSlot = hs
    const slots = new Float64Array(next * SLOT_FIELDS); slots.set(this.slots); this.slots = slots
    this.slotInts = new Int32Array(slots.buffer)
    const free = new Int32Array(next); free.set(this.free); this.free = free
    this.slotCap = next
    // unroll the ring into the bigger one so its order survives
    const ring = new Int32Array(next)
    for (let k = 0; k < this.ringLen; k++) ring[k] = this.ring[(this.ringHead + k) & (cap - 1)]!
    this.ring = ring; this.ringHead = 0
  }
}
