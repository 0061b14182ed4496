/**
 * Boundary checks shared by the eviction policies: capacities and object
 * sizes are byte counts, so non-negative safe integers. Keeping them
 * integers keeps `usedBytes` exact after millions of inserts and evictions.
 */

export function checkCapacity (capacityBytes: number): number {
  if (!Number.isSafeInteger(capacityBytes) || capacityBytes < 0) {
    throw new RangeError(`capacityBytes must be a non-negative safe integer, got ${capacityBytes}`)
  }
  return capacityBytes
}

export function checkSize (size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`object size must be a non-negative safe integer, got ${size}`)
  }
}
