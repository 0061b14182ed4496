/**
 * The load main ranks a node by (issue 17, "serving load that steers"): the
 * larger of what the node says of itself (`load`) and what its heartbeat's
 * `serving` shows — bytes per second against its configured uplink, and
 * chunk streams open against what one node answers at once. An edge at its
 * uplink ranks below an idle one of the same tier.
 */
import type { NodeRecord } from './store.ts'

/** Chunk streams at which a node counts as fully busy even without an uplink cap: 16 customers each at the per-peer stream limit. */
export const STREAMS_AT_FULL_LOAD = 16 * 16

export function servingLoad (n: Pick<NodeRecord, 'load' | 'serving'>): number {
  const s = n.serving
  if (s === undefined) return n.load
  const uplink = s.uplinkBytesPerSecond > 0 ? s.bytesPerSecond / s.uplinkBytesPerSecond : 0
  return Math.min(1, Math.max(n.load, uplink, s.streams / STREAMS_AT_FULL_LOAD))
}
