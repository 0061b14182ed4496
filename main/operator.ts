/**
 * What the operator page needs beyond the registry: directives issued per
 * minute and recent errors (in memory: a restart starts them afresh), and
 * node tokens — single-node registration tokens an operator mints for a new
 * parent or edge, so the operator token itself never has to be copied to a
 * node's machine.
 */
import { createHash } from 'node:crypto'
import type { MainStore, NodeTokenRecord } from './storage/types.ts'
import { newToken } from './tokens.ts'

/** Minutes of directive counts kept for the page's rate chart. */
export const DIRECTIVE_RATE_MINUTES = 15
/** Recent errors kept for the page: enough to see a pattern, bounded so a storm of failures cannot grow memory. */
export const RECENT_ERRORS_KEPT = 50
/** An error message longer than this is cut for the page (a stack or a body must not flood it). */
export const MAX_ERROR_TEXT = 300

export interface RecentError { at: number, level: 'warn' | 'error', message: string }

export class OperatorActivity {
  readonly #now: () => number
  /** minute number (ms / 60000) → directives issued in it */
  readonly #perMinute = new Map<number, number>()
  readonly #errors: RecentError[] = []

  constructor (now: () => number) { this.#now = now }

  recordDirective (): void {
    const minute = Math.floor(this.#now() / 60_000)
    this.#perMinute.set(minute, (this.#perMinute.get(minute) ?? 0) + 1)
    for (const m of this.#perMinute.keys()) if (m <= minute - DIRECTIVE_RATE_MINUTES) this.#perMinute.delete(m)
  }

  recordError (level: 'warn' | 'error', message: string): void {
    this.#errors.push({ at: this.#now(), level, message: message.length > MAX_ERROR_TEXT ? `${message.slice(0, MAX_ERROR_TEXT)}…` : message })
    if (this.#errors.length > RECENT_ERRORS_KEPT) this.#errors.shift()
  }

  /** Counts for the last DIRECTIVE_RATE_MINUTES minutes, oldest first (the last one is the minute in progress). */
  directivesPerMinute (): Array<{ minuteStart: number, count: number }> {
    const current = Math.floor(this.#now() / 60_000)
    const out = []
    for (let m = current - DIRECTIVE_RATE_MINUTES + 1; m <= current; m++) out.push({ minuteStart: m * 60_000, count: this.#perMinute.get(m) ?? 0 })
    return out
  }

  /** Newest first. */
  recentErrors (): RecentError[] {
    return [...this.#errors].reverse()
  }
}

/** A minted node token must be used (a node registered with it) within this long; after that it is dead. */
export const NODE_TOKEN_FIRST_USE_MS = 24 * 3600_000
/** Node tokens outstanding at once: bounds what a leaked operator token could fill the database with. */
export const MAX_UNUSED_NODE_TOKENS = 1_000

export type { NodeTokenRecord } from './storage/types.ts'

function idOf (token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/** Node tokens, stored by their SHA-256 (a copy of the database does not leak usable tokens). */
export class NodeTokens {
  readonly #store: MainStore
  readonly #now: () => number
  /** Uses run one at a time in this process; across mains, the store's bindNodeToken decides a race. */
  #chain: Promise<unknown> = Promise.resolve()

  constructor (store: MainStore, now: () => number) {
    this.#store = store
    this.#now = now
  }

  async mint (scope: { role: 'parent' | 'edge', region: string }): Promise<{ token: string, record: NodeTokenRecord }> {
    const now = this.#now()
    const unused = await this.#store.countUnusedNodeTokens(now)
    if (unused >= MAX_UNUSED_NODE_TOKENS) throw new RangeError(`${MAX_UNUSED_NODE_TOKENS} node tokens are unused already; use or let them expire first`)
    const token = `rn-node-${newToken()}`
    const record: NodeTokenRecord = { ...scope, createdAt: now, expiresAt: now + NODE_TOKEN_FIRST_USE_MS }
    await this.#store.putNodeToken(idOf(token), record)
    return { token, record }
  }

  /** The record of a known token (unexpired, bound, or spent: `use` says why a spent one is refused), else undefined. */
  async find (token: string): Promise<NodeTokenRecord | undefined> {
    const r = await this.#store.getNodeToken(idOf(token))
    if (r === undefined) return undefined
    if (r.peerId === undefined && r.expiresAt <= this.#now()) return undefined
    return r
  }

  /** Spend every token bound to this node (it was removed); returns how many. */
  async spendFor (peerId: string): Promise<number> {
    const run = this.#chain.then(async () => {
      return await this.#store.spendNodeTokens(peerId, this.#now())
    })
    this.#chain = run.catch(() => {})
    return await run
  }

  /**
   * Check a registration against the token's scope; binds the token to the
   * node on first use. Returns why it is refused, or undefined if allowed.
   */
  async use (token: string, reg: { peerId: string, role: string, region: string }): Promise<string | undefined> {
    const run = this.#chain.then(async () => await this.#use(token, reg))
    this.#chain = run.catch(() => {})
    return await run
  }

  async #use (token: string, reg: { peerId: string, role: string, region: string }): Promise<string | undefined> {
    const r = await this.find(token)
    if (r === undefined) return 'node token unknown or expired'
    if (r.spentAt !== undefined) return 'this node token is spent: its node was removed; mint a fresh token to register again'
    if (r.role !== reg.role || r.region !== reg.region) return `this node token is for ${r.role === 'edge' ? 'an' : 'a'} ${r.role} of region ${r.region}`
    if (r.peerId !== undefined && r.peerId !== reg.peerId) return 'this node token was already used by another node'
    if (r.peerId === undefined && !await this.#store.bindNodeToken(idOf(token), reg.peerId)) {
      // another main bound it meanwhile: allowed only if it bound it to this very node
      const now = await this.#store.getNodeToken(idOf(token))
      if (now?.peerId !== reg.peerId) return 'this node token was already used by another node'
    }
    return undefined
  }
}
