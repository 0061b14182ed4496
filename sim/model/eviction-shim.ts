/** TEMPORARY stand-in for protocol/policy/eviction.ts's createEvictionPolicy (LRU only); removed when it lands. */
import type { EvictionPolicy, EvictionPolicyName } from '../../protocol/policy/eviction.ts'

class Lru<K> implements EvictionPolicy<K> {
  readonly name = 'lru'
  usedBytes = 0
  private map = new Map<K, number>()
  constructor (readonly capacityBytes: number) {}
  get count (): number { return this.map.size }
  has (key: K): boolean { return this.map.has(key) }
  touch (key: K): boolean {
    const s = this.map.get(key)
    if (s === undefined) return false
    this.map.delete(key); this.map.set(key, s); return true
  }
  insert (key: K, size: number): K[] {
    if (size > this.capacityBytes) return [key]
    const out: K[] = []
    while (this.usedBytes + size > this.capacityBytes) {
      const first = this.map.keys().next().value as K
      this.usedBytes -= this.map.get(first)!; this.map.delete(first); out.push(first)
    }
    this.map.set(key, size); this.usedBytes += size
    return out
  }
  remove (key: K): boolean {
    const s = this.map.get(key); if (s === undefined) return false
    this.map.delete(key); this.usedBytes -= s; return true
  }
}
export function createEvictionPolicy<K> (_name: EvictionPolicyName, capacityBytes: number): EvictionPolicy<K> {
  return new Lru<K>(capacityBytes)
}
