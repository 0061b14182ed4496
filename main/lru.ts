/** A bounded map that forgets the least recently used entry first: the in-memory front of a level sublevel. */
export class Lru<K, V> {
  readonly max: number
  #map = new Map<K, V>()
  constructor (max: number) { this.max = max }
  get (key: K): V | undefined {
    const v = this.#map.get(key)
    if (v !== undefined) {
      this.#map.delete(key)
      this.#map.set(key, v)
    }
    return v
  }

  set (key: K, value: V): void {
    this.#map.delete(key)
    this.#map.set(key, value)
    if (this.#map.size > this.max) {
      const oldest = this.#map.keys().next()
      if (oldest.done !== true) this.#map.delete(oldest.value)
    }
  }

  delete (key: K): void { this.#map.delete(key) }
  /** Every entry, least recently used first (reading does not reorder). */
  entries (): IterableIterator<[K, V]> { return this.#map.entries() }
  get size (): number { return this.#map.size }
}
