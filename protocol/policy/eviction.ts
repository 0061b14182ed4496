/**
 * A cache eviction policy over a byte capacity, for objects of different
 * sizes. The same implementations run in node/ (edge chunk stores) and in
 * sim/ (simulated edges), so their behaviour can be checked in one place.
 *
 * Keys are generic so the simulator can use integers and nodes can use
 * chunk hashes as strings.
 */
import { LruPolicy } from './lru.ts'
import { S3FifoPolicy } from './s3fifo.ts'
import { SievePolicy } from './sieve.ts'

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

/** Every policy name, in the order a help text lists them. */
export const EVICTION_POLICY_NAMES: readonly EvictionPolicyName[] = ['lru', 'sieve', 's3fifo']

export function isEvictionPolicyName (name: string): name is EvictionPolicyName {
  return (EVICTION_POLICY_NAMES as readonly string[]).includes(name)
}

/** A new, empty policy of the given kind. Throws RangeError for an unknown name or a bad capacity. */
export function createEvictionPolicy<K = string> (name: EvictionPolicyName, capacityBytes: number): EvictionPolicy<K> {
  switch (name) {
    case 'lru': return new LruPolicy<K>(capacityBytes)
    case 'sieve': return new SievePolicy<K>(capacityBytes)
    case 's3fifo': return new S3FifoPolicy<K>(capacityBytes)
    default: throw new RangeError(`unknown eviction policy ${JSON.stringify(name)}; expected one of ${EVICTION_POLICY_NAMES.join(', ')}`)
  }
}

export interface AccessResult<K> {
  /** The object was held. */
  hit: boolean
  /** Keys evicted to admit it on a miss (`[key]` alone if it was refused as too large); empty on a hit. */
  evicted: K[]
}

/** One request for `key` of `size` bytes: a hit updates the policy, a miss admits the object. */
export function access<K> (policy: EvictionPolicy<K>, key: K, size: number): AccessResult<K> {
  if (policy.touch(key)) return { hit: true, evicted: [] }
  return { hit: false, evicted: policy.insert(key, size) }
}
