/**
 * SIEVE (Zhang, Yang, Yue, Vigfusson, Rashmi: "SIEVE is Simpler than LRU: an
 * Efficient Turn-Key Eviction Algorithm for Web Caches", NSDI'24), over a
 * byte capacity.
 *
 * One FIFO queue (new objects at the head), one visited bit per object, and
 * a hand that walks from the tail towards the head. A hit only sets the bit.
 * To evict, the hand clears set bits as it passes and stops at the first
 * object whose bit is clear: that object goes, and the hand stays where it
 * was (wrapping to the tail at the head). Survivors keep their place, which
 * is what separates SIEVE from CLOCK/FIFO-reinsertion.
 */
import type { EvictionPolicy } from './eviction.ts'
import { Entry, EntryList } from './entry-list.ts'
import { checkCapacity, checkSize } from './sizes.ts'

export class SievePolicy<K = string> implements EvictionPolicy<K> {
  readonly name = 'sieve'
  readonly capacityBytes: number
  private readonly index = new Map<K, Entry<K>>()
  private readonly list = new EntryList<K>()
  /** The next eviction candidate; null means "start at the tail". */
  private hand: Entry<K> | null = null

  constructor (capacityBytes: number) {
    this.capacityBytes = checkCapacity(capacityBytes)
  }

  get usedBytes (): number { return this.list.bytes }
  get count (): number { return this.list.count }

  has (key: K): boolean {
    return this.index.has(key)
  }

  touch (key: K): boolean {
    const e = this.index.get(key)
    if (e === undefined) return false
    e.freq = 1
    return true
  }

  /** A key already held is replaced, as if removed first (so a too-large replacement leaves it not held). */
  insert (key: K, size: number): K[] {
    checkSize(size)
    this.remove(key)
    if (size > this.capacityBytes) return [key]
    const evicted: K[] = []
    while (this.list.bytes + size > this.capacityBytes) evicted.push(this.evictOne())
    const e = new Entry(key, size)
    this.list.pushHead(e)
    this.index.set(key, e)
    return evicted
  }

  remove (key: K): boolean {
    const e = this.index.get(key)
    if (e === undefined) return false
    if (this.hand === e) this.hand = e.prev
    this.list.unlink(e)
    this.index.delete(key)
    return true
  }

  /** Called only when the list is not empty. */
  private evictOne (): K {
    const list = this.list
    let o = this.hand ?? list.tail!
    while (o.freq !== 0) {
      o.freq = 0
      o = o.prev ?? list.tail!
    }
    this.hand = o.prev
    list.unlink(o)
    this.index.delete(o.key)
    return o.key
  }
}
