/**
 * The node registry: every parent and edge an operator registered, with
 * what its latest signed heartbeat said. Small (hundreds to thousands of
 * nodes), so it lives in memory and is written through to level.
 */
import type { Heartbeat } from '../protocol/types.ts'
import type { MainStore, NodeRecord } from './store.ts'
import { notFound, conflict } from './errors.ts'

export interface Registration {
  peerId: string
  role: 'parent' | 'edge'
  region: string
  addrs: string[]
  capacityBytes: number
  fastLane?: string
}

export interface NodeView extends NodeRecord {
  status: 'up' | 'down'
}

export class Registry {
  readonly #store: MainStore
  readonly #now: () => number
  readonly heartbeatTimeoutMs: number
  readonly #nodes = new Map<string, NodeRecord>()
  /** Bumped on any change that can alter rankings (registration, drain, heartbeat). */
  generation = 0
  /** Called after a change that alters the signed rules (a new version must be published). */
  onRulesChange: () => Promise<void> = async () => {}
  /**
   * When this main started. Heartbeats sent while main was down could not arrive: a node is judged from the
   * later of its last heartbeat and this, so after a restart every node keeps one heartbeat timeout to check in
   * (else the first directives after a restart listed only the parents that happened to heartbeat first).
   */
  readonly #startedAt: number

  constructor (store: MainStore, now: () => number, heartbeatTimeoutMs: number) {
    this.#store = store
    this.#now = now
    this.heartbeatTimeoutMs = heartbeatTimeoutMs
    this.#startedAt = now()
  }

  async load (): Promise<void> {
    for await (const node of this.#store.listNodes()) this.#nodes.set(node.peerId, node)
  }

  /** Replace what is in memory with the stored registry (a store shared with other mains); bumps the generation on a change. */
  async reload (): Promise<boolean> {
    const stored = new Map<string, NodeRecord>()
    for await (const node of this.#store.listNodes()) stored.set(node.peerId, node)
    let changed = stored.size !== this.#nodes.size
    if (!changed) for (const [id, n] of stored) if (JSON.stringify(this.#nodes.get(id)) !== JSON.stringify(n)) { changed = true; break }
    if (!changed) return false
    this.#nodes.clear()
    for (const [id, n] of stored) this.#nodes.set(id, n)
    this.generation++
    return true
  }

  get (peerId: string): NodeRecord | undefined {
    return this.#nodes.get(peerId)
  }

  all (): NodeRecord[] {
    return [...this.#nodes.values()]
  }

  /** The last time main could have heard from the node: its last heartbeat, or main's start if that is later. */
  lastHeard (node: NodeRecord): number {
    return Math.max(node.lastSeen, this.#startedAt)
  }

  isUp (node: NodeRecord, now = this.#now()): boolean {
    return now - this.lastHeard(node) <= this.heartbeatTimeoutMs
  }

  view (node: NodeRecord, now = this.#now()): NodeView {
    return { ...node, status: this.isUp(node, now) ? 'up' : 'down' }
  }

  /** Register a node, or update its addresses, capacity, role or region. Returns whether it was new. */
  async register (reg: Registration): Promise<{ node: NodeRecord, created: boolean }> {
    const now = this.#now()
    const old = this.#nodes.get(reg.peerId)
    const node: NodeRecord = old === undefined
      ? {
          ...reg,
          registeredAt: now,
          drained: false,
          lastSeen: now,
          lastSeq: -1,
          lastSentAt: 0,
          load: 0,
          freeBytes: reg.capacityBytes,
          bytesServed: { edge: 0, parent: 0, peer: 0, client: 0 },
          heldItems: []
        }
      : { ...old, ...reg, lastSeen: now }
    await this.#store.putNode(node)
    this.#nodes.set(node.peerId, node)
    this.generation++
    const rulesChanged = old === undefined || old.role !== node.role || old.region !== node.region ||
      old.capacityBytes !== node.capacityBytes || old.addrs.join('\n') !== node.addrs.join('\n') ||
      old.fastLane !== node.fastLane
    if (rulesChanged) await this.onRulesChange()
    return { node, created: old === undefined }
  }

  /** Apply a verified heartbeat: 404 for an unregistered node, 409 for one not newer than the last accepted. */
  async heartbeat (hb: Heartbeat): Promise<NodeRecord> {
    // on a shared store the node may have registered or heartbeated through another main: its stored state decides
    const old = this.#store.kind === 'level' ? this.#nodes.get(hb.peerId) : (await this.#store.getNode(hb.peerId) ?? this.#nodes.get(hb.peerId))
    if (old === undefined) throw notFound(`node ${hb.peerId} is not registered`)
    // Order by (sentAt, seq): a replayed or reordered heartbeat is refused, and a restarted node (seq back at 0) is accepted once its clock has moved on.
    if (hb.sentAt < old.lastSentAt || (hb.sentAt === old.lastSentAt && hb.seq <= old.lastSeq)) {
      throw conflict('heartbeat is not newer than the last one accepted')
    }
    const node: NodeRecord = {
      ...old,
      lastSeen: this.#now(),
      lastSeq: hb.seq,
      lastSentAt: hb.sentAt,
      load: hb.load,
      freeBytes: hb.freeBytes,
      bytesServed: hb.bytesServed,
      heldItems: hb.heldItems,
      ...(hb.version !== undefined ? { version: hb.version } : {}),
      lacking: hb.lacking ?? [],
      ...(hb.serving !== undefined ? { serving: hb.serving } : {})
    }
    await this.#store.putNode(node)
    this.#nodes.set(node.peerId, node)
    this.generation++
    return node
  }

  async drain (peerId: string, drained: boolean): Promise<NodeRecord> {
    const old = this.#store.kind === 'level' ? this.#nodes.get(peerId) : (await this.#store.getNode(peerId) ?? this.#nodes.get(peerId))
    if (old === undefined) throw notFound(`node ${peerId} is not registered`)
    const node = { ...old, drained }
    await this.#store.putNode(node)
    this.#nodes.set(peerId, node)
    this.generation++
    return node
  }

  /** Take a node out of the registry (and so out of the next rules and of directives); 404 if unknown. */
  async remove (peerId: string): Promise<NodeRecord> {
    const old = this.#nodes.get(peerId)
    if (old === undefined) throw notFound(`node ${peerId} is not registered`)
    await this.#store.deleteNode(peerId)
    this.#nodes.delete(peerId)
    this.generation++
    await this.onRulesChange()
    return old
  }

  /**
   * The nodes silent for longer than `silenceMs` (judged like `isUp`, from the later of the last heartbeat and
   * main's start, so a main that was itself down a week does not drop every node as it comes back).
   */
  silentFor (silenceMs: number, now = this.#now()): NodeRecord[] {
    return [...this.#nodes.values()].filter(n => now - this.lastHeard(n) > silenceMs)
  }

  /** Regions with at least one registered parent (up or down): the ones a customer can be served in. */
  servedRegions (): string[] {
    return [...new Set([...this.#nodes.values()].filter(n => n.role === 'parent').map(n => n.region))].sort()
  }

  /**
   * Why a region has no node to name in a directive, for the customer's one-line error: none registered, or
   * every one down or drained (with when main last heard from one).
   */
  unservedReason (region: string, now = this.#now()): string {
    const nodes = [...this.#nodes.values()].filter(n => n.region === region)
    if (nodes.length === 0) return `region '${region}' has no parent or edge registered`
    const count = (role: 'parent' | 'edge', state: 'down' | 'drained'): number => nodes.filter(n => n.role === role && (state === 'drained' ? n.drained : !n.drained && !this.isUp(n, now))).length
    const parts: string[] = []
    for (const role of ['parent', 'edge'] as const) {
      for (const state of ['down', 'drained'] as const) {
        const k = count(role, state)
        if (k > 0) parts.push(`${k} ${role}${k === 1 ? '' : 's'} ${state}`)
      }
    }
    const lastHeard = Math.max(...nodes.map(n => n.lastSeen))
    return `every node of region '${region}' is down or drained (${parts.join(', ')}; last heartbeat ${Math.max(0, Math.round((now - lastHeard) / 1000))} s ago)`
  }

  regions (): string[] {
    return [...new Set([...this.#nodes.values()].map(n => n.region))].sort()
  }

  upCountByRegion (now = this.#now()): Map<string, number> {
    const out = new Map<string, number>()
    for (const n of this.#nodes.values()) {
      out.set(n.region, (out.get(n.region) ?? 0) + (this.isUp(n, now) && !n.drained ? 1 : 0))
    }
    return out
  }
}
