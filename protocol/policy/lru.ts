/**
 * Least recently used, over a byte capacity: a hit moves the object to the
 * head of a doubly linked list; eviction takes from the tail until the new
 * object fits. Every operation is O(1) (plus one step per object evicted).
 */
import type { EvictionPolicy } from './eviction.ts'
import { Entry, EntryList } from './entry-list.ts'
import { checkCapacity, checkSize } from './sizes.ts'

export class LruPolicy<K = string> implements EvictionPolicy<K> {
  readonly name = 'lru'
  readonly capacityBytes: number
  private readonly index = new Map<K, Entry<K>>()
  private readonly list = new EntryList<K>()

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
    if (this.list.head !== e) {
      this.list.unlink(e)
      this.list.pushHead(e)
    }
    return true
  }

  /** A key already held is replaced, as if removed first (so a too-large replacement leaves it not held). */
  insert (key: K, size: number): K[] {
    checkSize(size)
    this.remove(key)
    if (size > this.capacityBytes) return [key]
    const evicted: K[] = []
    const list = this.list
    while (list.bytes + size > this.capacityBytes) {
      const victim = list.popTail()!
      this.index.delete(victim.key)
      evicted.push(victim.key)
    }
    const e = new Entry(key, size)
    list.pushHead(e)
    this.index.set(key, e)
    return evicted
  }

  remove (key: K): boolean {
    const e = this.index.get(key)
    if (e === undefined) return false
    this.list.unlink(e)
    this.index.delete(key)
    return true
  }

  /** Held keys from most to least recently used (for tests and status pages; O(n)). */
  keys (): K[] {
    const out: K[] = []
    for (let e = this.list.head; e !== null; e = e.next) out.push(e.key)
    return out
  }
}
