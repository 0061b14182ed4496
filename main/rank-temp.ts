// TEMPORARY until protocol/policy/rank.ts lands: same contract, naive order.
import type { DirectivePeer, Role } from '../protocol/types.ts'
export interface Candidate { peerId: string, role: Role, region: string, addrs: string[], lastHeartbeat: number, load: number, drained?: boolean }
export function rankPeers (c: Candidate[], ctx: { now: number, region: string, heartbeatTimeoutMs: number, limit: number }): DirectivePeer[] {
  const order: Record<Role, number> = { edge: 0, peer: 1, parent: 2 }
  return c.filter(x => x.drained !== true && ctx.now - x.lastHeartbeat <= ctx.heartbeatTimeoutMs)
    .sort((a, b) => order[a.role] - order[b.role] || a.load - b.load).slice(0, ctx.limit)
    .map(x => ({ peerId: x.peerId, addrs: x.addrs, role: x.role }))
}
