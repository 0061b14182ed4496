/**
 * Downloads in flight, in columns indexed by a slot number that is reused
 * once a download ends. Per-chunk state lives in one small typed array per
 * download (allocated at start, dropped at the end), so memory follows the
 * number of downloads in flight, not the number of clients.
 */

export const DL_CLIENT = 0
export const DL_EDGE_FILL = 1
export const DL_PARENT_FILL = 2

/** Chunk states in a download's `state` array. */
export const CHUNK_MISSING = 0
export const CHUNK_REQUESTED = 1
export const CHUNK_HAVE = 2

export class Downloads {
  cap: number
  readonly maxSources: number
  node: Int32Array
  item: Int32Array
  kind: Uint8Array
  /** Bumped whenever a slot is reused, so a stale timer for an old download is recognised. */
  gen: Int32Array
  startedAt: Float64Array
  playableAt: Float64Array
  have: Int32Array
  outstanding: Int32Array
  /** Next chunk index of the in-order startup phase. */
  nextInOrder: Int32Array
  /** Length of the contiguous prefix held (playback can start once it covers the startup chunks). */
  prefix: Int32Array
  missLen: Int32Array
  aborted: Uint8Array
  /** 1 while a stall retry is scheduled (so retries never multiply). */
  retrying: Uint8Array
  sources: Int32Array
  sourceCount: Int32Array
  state: Array<Uint8Array | null> = []
  /** Chunks neither held nor requested, in no order (swap-removal), and each chunk's position in it. */
  miss: Array<Int32Array | null> = []
  pos: Array<Int32Array | null> = []
  private free: number[] = []
  private next = 0
  active = 0

  constructor (maxSources: number, cap = 1024) {
    this.maxSources = maxSources
    this.cap = cap
    this.node = new Int32Array(cap)
    this.item = new Int32Array(cap)
    this.kind = new Uint8Array(cap)
    this.gen = new Int32Array(cap)
    this.startedAt = new Float64Array(cap)
    this.playableAt = new Float64Array(cap)
    this.have = new Int32Array(cap)
    this.outstanding = new Int32Array(cap)
    this.nextInOrder = new Int32Array(cap)
    this.prefix = new Int32Array(cap)
    this.missLen = new Int32Array(cap)
    this.aborted = new Uint8Array(cap)
    this.retrying = new Uint8Array(cap)
    this.sources = new Int32Array(cap * maxSources)
    this.sourceCount = new Int32Array(cap)
  }

  open (node: number, item: number, kind: number, chunks: number, now: number): number {
    let d = this.free.pop()
    if (d === undefined) {
      if (this.next === this.cap) this.grow()
      d = this.next++
    }
    this.active++
    this.node[d] = node; this.item[d] = item; this.kind[d] = kind
    this.gen[d] = (this.gen[d]! + 1) | 0
    this.startedAt[d] = now; this.playableAt[d] = -1
    this.have[d] = 0; this.outstanding[d] = 0; this.nextInOrder[d] = 0; this.prefix[d] = 0
    this.aborted[d] = 0; this.retrying[d] = 0; this.sourceCount[d] = 0
    this.state[d] = new Uint8Array(chunks)
    const miss = new Int32Array(chunks); const pos = new Int32Array(chunks)
    for (let k = 0; k < chunks; k++) { miss[k] = k; pos[k] = k }
    this.miss[d] = miss; this.pos[d] = pos; this.missLen[d] = chunks
    return d
  }

  close (d: number): void {
    this.gen[d] = (this.gen[d]! + 1) | 0 // timers of the closed download are now stale
    this.state[d] = null; this.miss[d] = null; this.pos[d] = null
    this.free.push(d)
    this.active--
  }

  /** Take chunk k out of d's missing list. */
  take (d: number, k: number): void {
    const miss = this.miss[d]!; const pos = this.pos[d]!
    const i = pos[k]!; const last = --this.missLen[d]!
    const moved = miss[last]!
    miss[i] = moved; pos[moved] = i
    miss[last] = k; pos[k] = last
  }

  private grow (): void {
    const cap = this.cap * 2
    const i32 = (a: Int32Array, n = cap): Int32Array => { const x = new Int32Array(n); x.set(a); return x }
    const f64 = (a: Float64Array): Float64Array => { const x = new Float64Array(cap); x.set(a); return x }
    const u8 = (a: Uint8Array): Uint8Array => { const x = new Uint8Array(cap); x.set(a); return x }
    this.node = i32(this.node); this.item = i32(this.item); this.kind = u8(this.kind); this.gen = i32(this.gen)
    this.startedAt = f64(this.startedAt); this.playableAt = f64(this.playableAt)
    this.have = i32(this.have); this.outstanding = i32(this.outstanding); this.nextInOrder = i32(this.nextInOrder)
    this.prefix = i32(this.prefix); this.missLen = i32(this.missLen); this.aborted = u8(this.aborted); this.retrying = u8(this.retrying)
    this.sources = i32(this.sources, cap * this.maxSources); this.sourceCount = i32(this.sourceCount)
    this.cap = cap
  }
}
