/**
 * The signed rules: every registered node by region, the chunk size and
 * each region's preposition list. Any change to these publishes a new
 * version; versions only grow, across restarts too (the counter is stored
 * before a version is served), and rules are re-signed well before they
 * expire so that no node ever holds only expired rules.
 */
import type { Rules, RegionRules, NodeEntry } from '../protocol/types.ts'
import type { Signer } from '../protocol/keys.ts'
import { signRules, verifyRules } from '../protocol/documents.ts'
import { toText, fromText } from '../protocol/signing.ts'
import type { MainStore, RulesState } from './store.ts'
import type { Registry } from './registry.ts'
import { RULES_TTL_MS, MAX_PREPOSITION_ITEMS } from './limits.ts'

/** Items the demand plan adds per region, after the operator's own list. */
export const AUTO_PREPOSITION_TOP_N = 10
/** An item enters a region's automatic plan only after this many directives there in the demand window: one curious customer is not a trend. */
export const AUTO_PREPOSITION_MIN_REQUESTS = 3

export class RulesPublisher {
  readonly #store: MainStore
  readonly #registry: Registry
  readonly #signer: Signer
  readonly #now: () => number
  readonly chunkSize: number
  readonly ttlMs: number
  readonly #preposition = new Map<string, string[]>()
  /** region → items the demand plan adds (persisted, so a restart publishes the same lists). */
  #auto = new Map<string, string[]>()
  #current: RulesState | undefined
  #rules: Rules | undefined
  #chain: Promise<unknown> = Promise.resolve()
  /** What each region's nodes must hold and which items were taken down (issue 15; main/lifecycle.ts); unset: neither is published. */
  lifecycle: { itemsFor: (region: string) => RegionRules['items'], removed: () => string[] } | undefined
  /** Called after each new version is stored. */
  onPublish: (state: RulesState) => void = () => {}

  constructor (store: MainStore, registry: Registry, signer: Signer, now: () => number, chunkSize: number, ttlMs = RULES_TTL_MS) {
    this.#store = store
    this.#registry = registry
    this.#signer = signer
    this.#now = now
    this.chunkSize = chunkSize
    this.ttlMs = ttlMs
  }

  /** Load the stored version and preposition lists, then publish the next version (so a restart never reuses a number). */
  async load (): Promise<void> {
    await this.#loadLists()
    this.#current = await this.#store.currentRules()
    await this.publish()
  }

  async #loadLists (): Promise<void> {
    const lists = new Map<string, string[]>()
    for await (const [region, items] of this.#store.listPreposition()) lists.set(region, items)
    this.#preposition.clear()
    for (const [r, items] of lists) this.#preposition.set(r, items)
    const auto = await this.#store.getAutoPlan()
    this.#auto = new Map(Object.entries(auto ?? {}))
  }

  /**
   * On a store shared with other mains: adopt a newer version another main published (so this one never serves
   * an older version than the balancer's other upstream did). True if it adopted one.
   */
  async sync (): Promise<boolean> {
    return await this.#serial(async () => {
      const stored = await this.#store.currentRules()
      if (stored === undefined || stored.version <= this.version) return false
      const rules = verifyRules(fromText(stored.envelope), { publicKey: this.#signer.publicKey, now: this.#now() })
      await this.#loadLists()
      this.#current = stored
      this.#rules = rules
      this.onPublish(stored)
      return true
    })
  }

  get current (): RulesState {
    if (this.#current === undefined) throw new Error('rules not loaded')
    return this.#current
  }

  get rules (): Rules {
    if (this.#rules === undefined) throw new Error('rules not loaded')
    return this.#rules
  }

  get version (): number {
    return this.#current?.version ?? 0
  }

  /** A region's list as published: the operator's items, then the demand plan's, without repeats. */
  preposition (region: string): string[] {
    const own = this.#preposition.get(region) ?? []
    const auto = (this.#auto.get(region) ?? []).filter(id => !own.includes(id))
    return [...own, ...auto].slice(0, MAX_PREPOSITION_ITEMS)
  }

  /** The operator's own list for a region (what `PUT /v1/regions/:region/preposition` set). */
  operatorPreposition (region: string): string[] {
    return [...(this.#preposition.get(region) ?? [])]
  }

  /** Replace the demand plan; publishes a new version only if any region's list changed. */
  async setAutoPlan (plan: Map<string, string[]>): Promise<boolean> {
    return await this.#serial(async () => {
      const next = new Map([...plan].filter(([, items]) => items.length > 0))
      const same = next.size === this.#auto.size && [...next].every(([r, items]) => (this.#auto.get(r) ?? []).join() === items.join())
      if (same) return false
      await this.#store.putAutoPlan(Object.fromEntries(next))
      this.#auto = next
      await this.#publishNow()
      return true
    })
  }

  async setPreposition (region: string, itemIds: string[]): Promise<RulesState> {
    return await this.#serial(async () => {
      await this.#store.setPreposition(region, itemIds)
      if (itemIds.length === 0) this.#preposition.delete(region)
      else this.#preposition.set(region, itemIds)
      return await this.#publishNow()
    })
  }

  /** Publish a new version from the current registry and preposition lists. */
  async publish (): Promise<RulesState> {
    return await this.#serial(async () => await this.#publishNow())
  }

  /** Re-sign if more than half of the current rules' lifetime has passed; true if it did. */
  async refreshIfAging (): Promise<boolean> {
    // where mains share the store, first take up a newer version another published: what is served never goes back
    if (this.#store.kind !== 'level') await this.sync()
    const cur = this.#current
    if (cur !== undefined && this.#now() < cur.issuedAt + this.ttlMs / 2) return false
    await this.publish()
    return true
  }

  async #serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn)
    this.#chain = run.catch(() => {})
    return await run
  }

  #build (version: number, now: number): Rules {
    const regions = new Map<string, RegionRules>()
    const regionOf = (name: string): RegionRules => {
      let r = regions.get(name)
      if (r === undefined) {
        r = { name, parents: [], edges: [], preposition: this.preposition(name) }
        regions.set(name, r)
      }
      return r
    }
    for (const name of this.#preposition.keys()) regionOf(name)
    for (const name of this.#auto.keys()) regionOf(name)
    const nodes = this.#registry.all().sort((a, b) => a.peerId.localeCompare(b.peerId))
    for (const n of nodes) {
      const entry: NodeEntry = { peerId: n.peerId, role: n.role, addrs: n.addrs, capacityBytes: n.capacityBytes, ...(n.fastLane !== undefined ? { fastLane: n.fastLane } : {}) }
      const r = regionOf(n.region)
      if (n.role === 'parent') r.parents.push(entry)
      else r.edges.push(entry)
    }
    const lifecycle = this.lifecycle
    if (lifecycle !== undefined) for (const r of regions.values()) r.items = lifecycle.itemsFor(r.name)
    const rules: Rules = {
      version,
      issuedAt: now,
      expiresAt: now + this.ttlMs,
      chunkSize: this.chunkSize,
      regions: [...regions.values()].sort((a, b) => a.name.localeCompare(b.name))
    }
    if (lifecycle !== undefined) rules.removed = lifecycle.removed()
    return rules
  }

  async #publishNow (): Promise<RulesState> {
    const now = this.#now()
    let rules: Rules | undefined
    // the store takes the next number and keeps the signed rules in one transaction (several mains share the counter)
    const state = await this.#store.publishRules(async (version) => {
      if (this.#store.kind !== 'level') {
        // another main may have registered a node or changed a list: build from what is stored, under the store's lock
        await this.#registry.reload()
        await this.#loadLists()
      }
      rules = this.#build(version, now)
      return { version, issuedAt: now, expiresAt: rules.expiresAt, envelope: toText(signRules(rules, this.#signer)) }
    })
    this.#current = state
    this.#rules = rules
    this.onPublish(state)
    return state
  }
}
