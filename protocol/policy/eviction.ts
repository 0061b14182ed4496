/**
 * A cache eviction policy over a byte capacity, for objects of different
 * sizes. The same implementations run in node/ (edge chunk stores) and in
 * sim/ (simulated edges), so their behaviour can be checked in one place.
 *
 * Keys are generic so the simulator can use integers and nodes can use
 * chunk hashes as strings.
 */
export interface EvictionPolicy<K = string> {
  readonly name: string
  readonly capacityBytes: number
  /** Bytes of the objects currently held; never above capacityBytes. */
  readonly usedBytes: number
  /** Number of objects currently held. */
  readonly count: number
  has (key: K): boolean
  /** A request for `key`: if held, update the policy's state (a hit) and return true; else return false and change nothing. */
  touch (key: K): boolean
  /**
   * Admit `key` (not currently held) of `size` bytes, evicting as needed.
   * Returns the keys evicted to make room, in eviction order. An object
   * larger than the whole capacity is not admitted: it returns `[key]`.
   */
  insert (key: K, size: number): K[]
  /** Forget `key` (e.g. its file was found corrupt); true if it was held. */
  remove (key: K): boolean
}

export type EvictionPolicyName = 'lru' | 'sieve' | 's3fifo'
