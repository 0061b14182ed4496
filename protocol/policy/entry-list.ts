/**
 * The intrusive doubly linked list every eviction policy here is built on:
 * O(1) push at the head, unlink from anywhere, and a stable tail. A Map used
 * as a queue is not enough: deleting from its front leaves holes that every
 * `keys().next()` skips again, which turns FIFO eviction quadratic between
 * rehashes.
 *
 * Head is the newest entry, tail the oldest.
 */

/** One cached object. One class for all policies keeps V8's property access monomorphic. */
export class Entry<K> {
  prev: Entry<K> | null = null
  next: Entry<K> | null = null
  /** SIEVE's visited bit, or S3-FIFO's 0..3 access counter. */
  freq = 0
  /** S3-FIFO: which queue holds the entry. */
  queue = 0
  constructor (readonly key: K, readonly size: number) {}
}

export class EntryList<K> {
  head: Entry<K> | null = null
  tail: Entry<K> | null = null
  /** Sum of the sizes of the entries in this list. */
  bytes = 0
  count = 0

  pushHead (e: Entry<K>): void {
    e.prev = null
    e.next = this.head
    if (this.head !== null) this.head.prev = e
    else this.tail = e
    this.head = e
    this.bytes += e.size
    this.count++
  }

  unlink (e: Entry<K>): void {
    if (e.prev !== null) e.prev.next = e.next
    else this.head = e.next
    if (e.next !== null) e.next.prev = e.prev
    else this.tail = e.prev
    e.prev = null
    e.next = null
    this.bytes -= e.size
    this.count--
  }

  /** Unlink and return the oldest entry, or null when empty. */
  popTail (): Entry<K> | null {
    const t = this.tail
    if (t !== null) this.unlink(t)
    return t
  }
}
