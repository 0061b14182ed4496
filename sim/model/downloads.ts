/**
 * Downloads in flight, in columns indexed by a slot number that is reused
 * once a download ends. Per-chunk state lives in three shared arenas (chunk
 * states, the missing list, each chunk's position in it): download d's
 * chunk k is at `chunkAt[d] + k`. A closed download's block goes to a free
 * list by chunk count and the next download of that many chunks takes it,
 * so memory follows the number of chunks in flight (not the number of
 * clients), a long run allocates nothing per download, and the per-chunk
 * path indexes one typed array instead of looking up a small array per
 * download.
 */

import { MAX_CHUNKS_PER_ITEM } from '../scenario.ts'

export const DL_CLIENT = 0
export const DL_EDGE_FILL = 1
export const DL_PARENT_FILL = 2

/** Chunk states in `chunkState`. */
export const CHUNK_MISSING = 0
export const CHUNK_REQUESTED = 1
export const CHUNK_HAVE = 2

/**
 * A download's per-chunk-path fields, side by side in one Int32Array
 * (`f[d * DL_FIELDS + DL_*]`): the chunk path reads a dozen of them per
 * event, and as sixteen separate columns that was sixteen cache lines per
 * download (hundreds of downloads in flight, each touched about once per
 * thousand events, so nearly every one was a miss); one 80-byte record is
 * two lines (at 64 bytes it would be two as well unless the buffer happened
 * to start on a line, so the stride buys room for more fields for free).
 */
export const DL_FIELDS = 20
export const DL_NODE = 0
export const DL_ITEM = 1
export const DL_KIND = 2
export const DL_HAVE = 3
export const DL_OUTSTANDING = 4
/** Next chunk index of the in-order startup phase. */
export const DL_NEXT_IN_ORDER = 5
/** Length of the contiguous prefix held (playback can start once it covers the startup chunks). */
export const DL_PREFIX = 6
export const DL_MISS_LEN = 7
export const DL_ABORTED = 8
/** 1 while a stall retry is scheduled (so retries never multiply). */
export const DL_RETRYING = 9
/** 1 for a read-through edge's fill: it fetches only what clients ask the edge for. */
export const DL_ON_DEMAND = 10
export const DL_SOURCE_COUNT = 11
/** 1 while the slot holds a download (between open and close). */
export const DL_LIVE = 12
/** Where the download's chunks start in the arenas, and how many it has. */
export const DL_CHUNK_AT = 13
export const DL_CHUNKS = 14
/** 1 once the startup chunks are held (playback could start). */
export const DL_PLAYABLE = 15
/** Where its region's per-chunk request counts for the item start in the simulation's swarm arena (rarest-first), or -1 (fills). */
export const DL_RARITY_AT = 16

/** The arenas' starting room in chunks (5 bytes each); they double as needed. */
export const ARENA_INITIAL_CHUNKS = 1 << 16

export class Downloads {
  cap: number
  readonly maxSources: number
  /** The fields above (DL_*), DL_FIELDS per download. */
  f: Int32Array
  /** Bumped whenever a slot is reused, so a stale timer for an old download is recognised. */
  gen: Int32Array
  startedAt: Float64Array
  sources: Int32Array
  /** Arenas: each chunk's CHUNK_* state; the chunks neither held nor requested, in no order (swap-removal); each chunk's position in that list. */
  chunkState: Uint8Array
  /** Chunk indices and positions are below MAX_CHUNKS_PER_ITEM (2^16), so 16 bits hold them: half the lines a download's block spans. */
  missList: Uint16Array
  missPos: Uint16Array
  /** Per chunk, when a request for it arrives (read-through edges wait on their fills' chunks); empty unless enabled. */
  arrival: Float64Array = new Float64Array(0)
  private free: number[] = []
  private next = 0
  /** chunk count → arena offsets of closed downloads' blocks. */
  private readonly freeBlocks: Array<number[] | undefined> = []
  private arenaUsed = 0
  active = 0

  constructor (maxSources: number, cap = 1024) {
    this.maxSources = maxSources
    this.cap = cap
    this.f = new Int32Array(cap * DL_FIELDS)
    this.gen = new Int32Array(cap)
    this.startedAt = new Float64Array(cap)
    this.sources = new Int32Array(cap * maxSources)
    this.chunkState = new Uint8Array(ARENA_INITIAL_CHUNKS)
    this.missList = new Uint16Array(ARENA_INITIAL_CHUNKS)
    this.missPos = new Uint16Array(ARENA_INITIAL_CHUNKS)
  }

  open (node: number, item: number, kind: number, chunks: number, now: number, rarityAt = -1): number {
    if (chunks > MAX_CHUNKS_PER_ITEM) throw new RangeError(`a download of ${chunks} chunks: the arenas hold chunk indices in 16 bits (scenario validation keeps items to ${MAX_CHUNKS_PER_ITEM})`)
    let d = this.free.pop()
    if (d === undefined) {
      if (this.next === this.cap) this.grow()
      d = this.next++
    }
    this.active++
    const f = this.f; const o = d * DL_FIELDS
    f.fill(0, o, o + DL_FIELDS)
    f[o + DL_NODE] = node; f[o + DL_ITEM] = item; f[o + DL_KIND] = kind
    this.gen[d] = (this.gen[d]! + 1) | 0
    this.startedAt[d] = now
    let at = this.freeBlocks[chunks]?.pop()
    if (at === undefined) {
      if (this.arenaUsed + chunks > this.chunkState.length) this.growArena(this.arenaUsed + chunks)
      at = this.arenaUsed
      this.arenaUsed += chunks
    } else {
      this.chunkState.fill(CHUNK_MISSING, at, at + chunks)
    }
    const miss = this.missList; const pos = this.missPos
    for (let k = 0; k < chunks; k++) { miss[at + k] = k; pos[at + k] = k }
    f[o + DL_LIVE] = 1; f[o + DL_CHUNK_AT] = at; f[o + DL_CHUNKS] = chunks; f[o + DL_MISS_LEN] = chunks
    f[o + DL_RARITY_AT] = rarityAt
    return d
  }

  close (d: number): void {
    this.gen[d] = (this.gen[d]! + 1) | 0 // timers of the closed download are now stale
    const o = d * DL_FIELDS
    const chunks = this.f[o + DL_CHUNKS]!
    let blocks = this.freeBlocks[chunks]
    if (blocks === undefined) { blocks = []; this.freeBlocks[chunks] = blocks }
    blocks.push(this.f[o + DL_CHUNK_AT]!)
    this.f[o + DL_LIVE] = 0
    this.free.push(d)
    this.active--
  }

  /** Take chunk k out of d's missing list. */
  take (d: number, k: number): void {
    const miss = this.missList; const pos = this.missPos; const o = d * DL_FIELDS; const at = this.f[o + DL_CHUNK_AT]!
    const i = pos[at + k]!; const last = --this.f[o + DL_MISS_LEN]!
    const moved = miss[at + last]!
    miss[at + i] = moved; pos[at + moved] = i
    miss[at + last] = k; pos[at + k] = last
  }

  /** Put chunk k back into d's missing list (a request for it was lost). */
  putBack (d: number, k: number): void {
    const miss = this.missList; const pos = this.missPos; const o = d * DL_FIELDS; const at = this.f[o + DL_CHUNK_AT]!
    const last = this.f[o + DL_MISS_LEN]!++
    const i = pos[at + k]!
    // k sits among the taken entries, at i >= last: swap it with the first taken one
    const other = miss[at + last]!
    miss[at + i] = other; pos[at + other] = i
    miss[at + last] = k; pos[at + k] = last
  }

  /** Make room for `need` chunks in the arenas (they move: callers re-read the fields after an open). */
  private growArena (need: number): void {
    let size = this.chunkState.length * 2
    while (size < need) size *= 2
    const u8 = new Uint8Array(size); u8.set(this.chunkState); this.chunkState = u8
    const miss = new Uint16Array(size); miss.set(this.missList); this.missList = miss
    const pos = new Uint16Array(size); pos.set(this.missPos); this.missPos = pos
    if (this.arrival.length > 0) { const a = new Float64Array(size); a.set(this.arrival); this.arrival = a }
  }

  /** Keep each requested chunk's arrival time (for read-through edges). */
  trackArrivals (): void {
    if (this.arrival.length === 0) this.arrival = new Float64Array(this.chunkState.length)
  }

  private grow (): void {
    const cap = this.cap * 2
    const i32 = (a: Int32Array, n = cap): Int32Array => { const x = new Int32Array(n); x.set(a); return x }
    const f64 = (a: Float64Array): Float64Array => { const x = new Float64Array(cap); x.set(a); return x }
    this.f = i32(this.f, cap * DL_FIELDS); this.gen = i32(this.gen); this.startedAt = f64(this.startedAt)
    this.sources = i32(this.sources, cap * this.maxSources)
    this.cap = cap
  }
}
