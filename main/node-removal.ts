/**
 * Nodes that leave: an operator removes one at once (`DELETE /v1/nodes/:peerId`), and main drops one that has
 * been silent for longer than the removal period. Either way the node leaves the next signed rules and every
 * directive, and the node tokens bound to it are spent, so a node that comes back must register again with a
 * fresh token (the operator decides whether it belongs in the network again).
 */
import type { MainServices } from './services.ts'
import type { NodeRecord } from './store.ts'

/** A node silent this long is taken out of the rules (a week: long enough for a repair or a move, not forever). */
export const DEFAULT_NODE_REMOVAL_MS = 7 * 24 * 3600_000
/** The shortest removal period main accepts: shorter than a few heartbeat timeouts would drop nodes that merely blinked. */
export const MIN_NODE_REMOVAL_MS = 1_000
/** How often main looks for silent nodes at most (a quarter of the period when that is shorter, so a short period in a test acts promptly). */
export const NODE_SWEEP_MAX_INTERVAL_MS = 60_000

export function nodeSweepIntervalMs (removalMs: number): number {
  return Math.max(250, Math.min(NODE_SWEEP_MAX_INTERVAL_MS, Math.floor(removalMs / 4)))
}

export type RemovalReason = 'operator' | 'silent'

/** Remove one node and spend its tokens. */
export async function removeNode (s: MainServices, peerId: string, reason: RemovalReason): Promise<{ node: NodeRecord, tokensSpent: number }> {
  const node = await s.registry.remove(peerId)
  const tokensSpent = await s.nodeTokens.spendFor(peerId)
  s.metrics.nodesRemoved.inc({ reason })
  return { node, tokensSpent }
}

/** Remove every node silent for longer than `removalMs`; returns the removed. */
export async function removeSilentNodes (s: MainServices, removalMs: number): Promise<NodeRecord[]> {
  const removed: NodeRecord[] = []
  for (const n of s.registry.silentFor(removalMs)) {
    // another sweep or the operator may have removed it meanwhile
    if (s.registry.get(n.peerId) === undefined) continue
    removed.push((await removeNode(s, n.peerId, 'silent')).node)
  }
  return removed
}
