/**
 * S3-FIFO (Yang, Zhang, Qiu, Yue, Vinayak: "FIFO queues are all you need for
 * cache eviction", SOSP'23), over a byte capacity.
 *
 * Three FIFO queues: a small one (S, ~10% of the bytes) that new objects
 * enter, a main one (M, the rest), and a ghost queue (G) that remembers only
 * the keys of objects recently evicted from S. Each object has a hit counter
 * capped at 3 (two bits). Following the paper's Algorithm 1:
 *
 * - insert: into M if the key is in G (it was wanted again soon after being
 *   dropped), else into S.
 * - evict: from S if S holds at least its share of the bytes, else from M.
 * - evict from S: the tail moves to M if `freq > 1` (Algorithm 1, SOSP'23;
 *   the same threshold as the artifact's S3FIFOv0, `move-to-main-threshold=2`;
 *   the authors' blog and later libCacheSim versions use `freq > 0`), with its
 *   counter cleared, evicting from M if M is now over its share; otherwise it
 *   is evicted and its key goes to G.
 * - evict from M: the tail is reinserted at the head with its counter
 *   decremented while the counter is positive, else evicted.
 *
 * A hit only bumps a counter, so hits are cheap; every eviction step either
 * evicts or lowers a counter, so eviction is amortised O(1).
 */
import type { EvictionPolicy } from './eviction.ts'
import { Entry, EntryList } from './entry-list.ts'
import { checkCapacity, checkSize } from './sizes.ts'

/** S's share of the capacity: the paper's 10%, which it found to generalise across traces. */
export const S3FIFO_SMALL_FRACTION = 0.1

/** The hit counter saturates here: two bits per object, as in the paper. */
export const S3FIFO_MAX_FREQ = 3

/** An object leaves S for M when its counter is at least this (Algorithm 1's `freq > 1`). */
export const S3FIFO_MOVE_TO_MAIN_FREQ = 2

const SMALL = 0
const MAIN = 1

export class S3FifoPolicy<K = string> implements EvictionPolicy<K> {
  readonly name = 's3fifo'
  readonly capacityBytes: number
  /** Bytes S may hold before eviction takes from it. */
  readonly smallTargetBytes: number
  /** Bytes M may hold; also the ghost's budget, counted in the sizes of the objects it remembers (the paper: as many ghost entries as M holds). */
  readonly mainTargetBytes: number
  private readonly index = new Map<K, Entry<K>>()
  private readonly small = new EntryList<K>()
  private readonly main = new EntryList<K>()
  private readonly ghostIndex = new Map<K, Entry<K>>()
  private readonly ghost = new EntryList<K>()

  constructor (capacityBytes: number) {
    this.capacityBytes = checkCapacity(capacityBytes)
    this.smallTargetBytes = Math.floor(capacityBytes * S3FIFO_SMALL_FRACTION)
    this.mainTargetBytes = capacityBytes - this.smallTargetBytes
  }

  get usedBytes (): number { return this.small.bytes + this.main.bytes }
  get count (): number { return this.small.count + this.main.count }
  /** Bytes in S and in M, and keys remembered in G (for tests and status). */
  get smallBytes (): number { return this.small.bytes }
  get mainBytes (): number { return this.main.bytes }
  get ghostCount (): number { return this.ghost.count }

  has (key: K): boolean {
    return this.index.has(key)
  }

  touch (key: K): boolean {
    const e = this.index.get(key)
    if (e === undefined) return false
    if (e.freq < S3FIFO_MAX_FREQ) e.freq++
    return true
  }

  /** A key already held is replaced, as if removed first (so a too-large replacement leaves it not held). */
  insert (key: K, size: number): K[] {
    checkSize(size)
    this.remove(key)
    if (size > this.capacityBytes) return [key]
    const evicted: K[] = []
    while (this.small.bytes + this.main.bytes + size > this.capacityBytes) this.evict(evicted)
    let e: Entry<K>
    const ghosted = this.ghostIndex.get(key)
    if (ghosted !== undefined && ghosted.size === size) {
      this.ghost.unlink(ghosted)
      this.ghostIndex.delete(key)
      e = ghosted
      e.queue = MAIN
      this.main.pushHead(e)
    } else {
      if (ghosted !== undefined) { this.ghost.unlink(ghosted); this.ghostIndex.delete(key) }
      e = new Entry(key, size)
      e.queue = SMALL
      this.small.pushHead(e)
    }
    e.freq = 0
    this.index.set(key, e)
    return evicted
  }

  remove (key: K): boolean {
    const e = this.index.get(key)
    if (e === undefined) return false
    if (e.queue === SMALL) this.small.unlink(e)
    else this.main.unlink(e)
    this.index.delete(key)
    return true
  }

  /** Frees at least one object's worth of progress: evicts, or (S only) moves all of S to M. Called only when something is held. */
  private evict (out: K[]): void {
    if (this.small.count > 0 && (this.small.bytes >= this.smallTargetBytes || this.main.count === 0)) this.evictSmall(out)
    else this.evictMain(out)
  }

  private evictSmall (out: K[]): void {
    const small = this.small
    const main = this.main
    let t: Entry<K> | null
    while ((t = small.popTail()) !== null) {
      if (t.freq >= S3FIFO_MOVE_TO_MAIN_FREQ) {
        t.freq = 0
        t.queue = MAIN
        main.pushHead(t)
        if (main.bytes > this.mainTargetBytes) this.evictMain(out)
      } else {
        this.index.delete(t.key)
        out.push(t.key)
        this.remember(t)
        return
      }
    }
  }

  private evictMain (out: K[]): void {
    const main = this.main
    let t: Entry<K> | null
    while ((t = main.popTail()) !== null) {
      if (t.freq > 0) {
        t.freq--
        main.pushHead(t)
      } else {
        this.index.delete(t.key)
        out.push(t.key)
        return
      }
    }
  }

  /** Puts an entry evicted from S into G (reusing the object), trimming G to its byte budget. */
  private remember (e: Entry<K>): void {
    if (e.size > this.mainTargetBytes) return
    e.freq = 0
    this.ghost.pushHead(e)
    this.ghostIndex.set(e.key, e)
    while (this.ghost.bytes > this.mainTargetBytes) {
      const old = this.ghost.popTail()!
      this.ghostIndex.delete(old.key)
    }
  }
}
