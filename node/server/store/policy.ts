/**
 * The eviction policy an edge's store runs: protocol/policy's own
 * implementations (S3-FIFO by default), the very code the simulator runs.
 */
import { createEvictionPolicy, type EvictionPolicy, type EvictionPolicyName } from '../../../protocol/policy/eviction.ts'

export const DEFAULT_POLICY: EvictionPolicyName = 's3fifo'

export function evictionPolicyFor (name: EvictionPolicyName, capacityBytes: number): EvictionPolicy<string> {
  return createEvictionPolicy<string>(name, capacityBytes)
}
