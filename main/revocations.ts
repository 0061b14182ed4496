/**
 * Revocation (issue 14b): what an admin revoked — licences, accounts, single sessions — and the signed,
 * versioned list that carries the licences, the accounts and the quarantined nodes to every tier. It is kept
 * like the rules: versions come from the store's one counter (never repeat or go back across mains), the list
 * is re-signed well before it expires, and a main sharing the store takes up newer versions and records the
 * others made (main/app.ts syncShared). Sessions never leave main: they are checked here on every request.
 */
import type { Revocations as RevocationList } from '../protocol/types.ts'
import type { Signer } from '../protocol/keys.ts'
import { signRevocations, verifyRevocations } from '../protocol/documents.ts'
import { toText, fromText } from '../protocol/signing.ts'
import { MAX_REVOKED_ACCOUNTS, MAX_REVOKED_LICENSES, MAX_REVOKED_NODES } from '../protocol/limits.ts'
import type { MainStore, RevocationRecord, RevocationsState } from './store.ts'
import { ApiError } from './errors.ts'

/**
 * A revocation list lives an hour; main re-signs it (a new version) once half of that has passed. Short, unlike
 * the rules' day, because a node cut off from main keeps honouring the last list it has: an hour bounds how long
 * a revocation can be kept from it. Directives live ten minutes, so by then no customer of a cut-off region holds
 * a valid one anyway, and the freeze (a node refusing customer traffic it cannot check) costs nothing more.
 */
export const REVOCATIONS_TTL_MS = 3600_000

export type RevocationKind = RevocationRecord['kind']

/**
 * Mains sharing a store read the records made since the newest they hold, less this margin: another main's
 * clock may be behind this one's by up to main's allowed skew, and a record is never read twice into the map.
 */
export const SYNC_CLOCK_MARGIN_MS = 5 * 60_000

export class Revocations {
  readonly #store: MainStore
  readonly #signer: Signer
  readonly #now: () => number
  readonly ttlMs: number
  /** The quarantined nodes (main/reports.ts): they go into the list's `nodes`. */
  readonly #nodes: () => string[]
  #records = new Map<string, RevocationRecord>()
  #current: RevocationsState | undefined
  #list: RevocationList | undefined
  #chain: Promise<unknown> = Promise.resolve()
  /** Called after each new version is stored (or taken up from another main). */
  onPublish: (state: RevocationsState, list: RevocationList) => void = () => {}

  constructor (store: MainStore, signer: Signer, now: () => number, nodes: () => string[], ttlMs = REVOCATIONS_TTL_MS) {
    this.#store = store
    this.#signer = signer
    this.#now = now
    this.#nodes = nodes
    this.ttlMs = ttlMs
  }

  /** Read the records and the stored version, then publish the next version (a restart never serves an old one). */
  async load (): Promise<void> {
    await this.#loadRecords()
    this.#current = await this.#store.currentRevocations()
    await this.publish()
  }

  /** All records at load; later only those made since the newest seen (less a margin for other mains' clocks). */
  async #loadRecords (): Promise<void> {
    let newest = -Infinity
    for (const r of this.#records.values()) newest = Math.max(newest, r.at)
    const since = this.#records.size === 0 ? undefined : newest - SYNC_CLOCK_MARGIN_MS
    for (const r of await this.#store.listRevocations(since)) {
      const key = `${r.kind}/${r.id}`
      if (!this.#records.has(key)) this.#records.set(key, r)
    }
  }

  /** On a shared store: take up the records and any newer list other mains made. True if the list changed. */
  async sync (): Promise<boolean> {
    return await this.#serial(async () => {
      await this.#loadRecords()
      return await this.#adoptNewer()
    })
  }

  /** Take up a newer stored list (one row read); true if there was one. */
  async #adoptNewer (): Promise<boolean> {
    const stored = await this.#store.currentRevocations()
    if (stored === undefined || stored.version <= this.version) return false
    const list = verifyRevocations(fromText(stored.envelope), { publicKey: this.#signer.publicKey, now: this.#now() })
    this.#current = stored
    this.#list = list
    this.onPublish(stored, list)
    return true
  }

  get current (): RevocationsState {
    if (this.#current === undefined) throw new Error('revocations not loaded')
    return this.#current
  }

  get list (): RevocationList {
    if (this.#list === undefined) throw new Error('revocations not loaded')
    return this.#list
  }

  get version (): number {
    return this.#current?.version ?? 0
  }

  #has (kind: RevocationKind, id: string): boolean {
    return this.#records.has(`${kind}/${id}`)
  }

  isLicenseRevoked (licenseId: string): boolean { return this.#has('license', licenseId) }
  isAccountRevoked (accountId: string): boolean { return this.#has('account', accountId) }
  isSessionRevoked (sessionId: string): boolean { return this.#has('session', sessionId) }

  /** Every record, newest first (for the admin answer). */
  records (): RevocationRecord[] {
    return [...this.#records.values()].sort((a, b) => b.at - a.at)
  }

  /**
   * Revoke one thing. Licences and accounts publish a new list at once (sessions need none: only main checks
   * them). Revoking again is no error and changes nothing. 507 once the list would pass its bound.
   */
  async revoke (kind: RevocationKind, id: string, until?: number): Promise<{ record: RevocationRecord, created: boolean, state: RevocationsState }> {
    return await this.#serial(async () => {
      const key = `${kind}/${id}`
      const existing = this.#records.get(key)
      if (existing !== undefined) return { record: existing, created: false, state: this.current }
      const now = this.#now()
      const bound = kind === 'license' ? MAX_REVOKED_LICENSES : kind === 'account' ? MAX_REVOKED_ACCOUNTS : Infinity
      const live = [...this.#records.values()].filter(r => r.kind === kind && (r.until === undefined || r.until > now)).length
      if (live >= bound) throw new ApiError(507, 'revocations_full', `the revocation list already holds ${bound} ${kind}s (its bound); revoke accounts instead of their licences`)
      const record: RevocationRecord = { kind, id, at: now, ...(until !== undefined ? { until } : {}) }
      await this.#store.putRevocation(record)
      this.#records.set(key, record)
      const state = kind === 'session' ? this.current : await this.#publishNow()
      return { record, created: true, state }
    })
  }

  /** Publish a new version from the records and the quarantine. */
  async publish (): Promise<RevocationsState> {
    return await this.#serial(async () => await this.#publishNow())
  }

  /** Publish only if the quarantined nodes differ from the current list's (the quarantine changed). */
  async nodesChanged (): Promise<boolean> {
    return await this.#serial(async () => {
      if (this.#list !== undefined && this.#nodeList().join() === this.#list.nodes.join()) return false
      await this.#publishNow()
      return true
    })
  }

  /** Re-sign if more than half of the current list's lifetime has passed; true if it did. */
  async refreshIfAging (): Promise<boolean> {
    // where mains share the store, first take up a newer list another published: what is served never goes back
    if (this.#store.kind !== 'level') await this.#serial(async () => await this.#adoptNewer())
    const cur = this.#current
    if (cur !== undefined && this.#now() < cur.issuedAt + this.ttlMs / 2) return false
    await this.publish()
    return true
  }

  #nodeList (): string[] {
    return [...new Set(this.#nodes())].sort().slice(0, MAX_REVOKED_NODES)
  }

  #build (version: number, now: number): RevocationList {
    const ids = (kind: RevocationKind): string[] => [...this.#records.values()]
      .filter(r => r.kind === kind && (r.until === undefined || r.until > now)).map(r => r.id).sort()
    return {
      version,
      issuedAt: now,
      expiresAt: now + this.ttlMs,
      licenses: ids('license'),
      accounts: ids('account'),
      nodes: this.#nodeList()
    }
  }

  async #publishNow (): Promise<RevocationsState> {
    const now = this.#now()
    let list: RevocationList | undefined
    const state = await this.#store.publishRevocations(async (version) => {
      // another main may have revoked something: build from what is stored, under the store's lock
      if (this.#store.kind !== 'level') await this.#loadRecords()
      list = this.#build(version, now)
      return { version, issuedAt: now, expiresAt: list.expiresAt, envelope: toText(signRevocations(list, this.#signer)) }
    })
    this.#current = state
    this.#list = list
    this.onPublish(state, list!)
    return state
  }

  async #serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn)
    this.#chain = run.catch(() => {})
    return await run
  }
}
