/**
 * Following main's signed revocation list (issue 14b), the way node/control/rules.ts follows the rules: poll with an
 * ETag, verify against the pinned key, refuse an older version (a replayed old list) and a same-version list
 * with other bytes, keep the newest ever held as the rollback floor (in the state db where there is one, so a
 * restart cannot be fed an old list either). Parents, edges and seeding customers ask it about every directive
 * a stranger presents; an expired list (or none yet) freezes them into refusing customer traffic they cannot
 * check — logged once, clearly, when it starts and when it ends.
 */
import { verifyRevocations } from '../../protocol/documents.ts'
import { toText, fromText } from '../../protocol/signing.ts'
import { CLOCK_SKEW_MS, MAX_DOCUMENT_BYTES } from '../../protocol/limits.ts'
import type { Directive, Revocations } from '../../protocol/types.ts'
import { AccessDeniedError } from '../net/errors.ts'
import type { RevocationGuard } from '../net/access.ts'

const STATE_KEY = 'revocations'

export type RevocationsAnswer = { notModified: true } | { notModified: false, etag: string | undefined, bytes: Uint8Array }

export interface RevocationsFollowerOptions {
  /** GET /v1/revocations (node/control/main-client.ts, or the customer's MainApi). */
  fetch: (etag: string | undefined, o: { signal?: AbortSignal }) => Promise<RevocationsAnswer>
  mainPublicKey: Uint8Array
  /** Where the newest list is kept across restarts (a node's state db); a customer's client keeps it in memory. */
  state?: { get: (key: string) => Promise<string | undefined>, put: (key: string, value: string) => Promise<void> }
  now?: () => number
  log?: (msg: string) => void
  onChange?: (list: Revocations) => void
}

/** What access checks ask (node/net/access.ts, the seeder). */
/** Defined where admission uses it (access.ts), so the chunk protocol's side needs nothing of this file. */
export type { RevocationGuard }

export class RevocationsFollower implements RevocationGuard {
  /** The list in force (undefined: none yet, or it expired). */
  list: Revocations | undefined
  /** Why the last poll took nothing (for status). */
  lastError: string | undefined
  private bytes: Uint8Array | undefined
  private etag: string | undefined
  private floor: { version: number, bytes: Uint8Array } | undefined
  private licenses = new Set<string>()
  private accounts = new Set<string>()
  private nodes = new Set<string>()
  private frozenLogged = false
  private readonly now: () => number

  constructor (private readonly opts: RevocationsFollowerOptions) {
    this.now = opts.now ?? Date.now
  }

  /** The stored list, verified again: an expired one still guards against rollback (and keeps its revocations). */
  async load (): Promise<void> {
    const text = await this.opts.state?.get(STATE_KEY)
    if (text === undefined) return
    try {
      const bytes = fromText(text, MAX_DOCUMENT_BYTES.revocations)
      const stored = verifyRevocations(bytes, { publicKey: this.opts.mainPublicKey, now: this.now(), ignoreWindow: true })
      this.floor = { version: stored.version, bytes }
      this.take(stored, bytes)
      if (!this.inForce()) this.lastError = `stored revocation list version ${stored.version} expired at ${new Date(stored.expiresAt).toISOString()}`
    } catch (err) {
      this.opts.log?.(`stored revocation list ignored: ${(err as Error).message}`)
    }
  }

  private take (list: Revocations, bytes: Uint8Array): void {
    const changed = this.list?.version !== list.version
    this.list = list
    this.bytes = bytes
    this.floor = { version: list.version, bytes }
    this.licenses = new Set(list.licenses)
    this.accounts = new Set(list.accounts)
    this.nodes = new Set(list.nodes)
    if (changed) this.opts.onChange?.(list)
  }

  /** One poll; true when a newer list was taken. Never throws: a failure keeps what is held (and may freeze). */
  async poll (o: { signal?: AbortSignal } = {}): Promise<boolean> {
    try {
      const answer = await this.opts.fetch(this.inForce() ? this.etag : undefined, o)
      if (answer.notModified) { this.lastError = undefined; return false }
      if (this.bytes !== undefined && this.inForce() && Buffer.from(answer.bytes).equals(Buffer.from(this.bytes))) {
        this.etag = answer.etag
        this.lastError = undefined
        return false
      }
      const list = verifyRevocations(answer.bytes, { publicKey: this.opts.mainPublicKey, now: this.now(), held: this.floor })
      this.etag = answer.etag
      await this.opts.state?.put(STATE_KEY, toText(answer.bytes))
      this.take(list, answer.bytes)
      this.lastError = undefined
      if (this.frozenLogged) {
        this.frozenLogged = false
        this.opts.log?.(`revocation list version ${list.version} in force: serving customers again`)
      }
      return true
    } catch (err) {
      const msg = `revocation list not updated: ${(err as Error).name}: ${(err as Error).message}`
      if (msg !== this.lastError) this.opts.log?.(msg)
      this.lastError = msg
      return false
    } finally {
      this.frozen()
    }
  }

  /** A list is held and not past its expiry (beyond the allowed clock skew). */
  inForce (): boolean {
    return this.list !== undefined && this.now() - CLOCK_SKEW_MS <= this.list.expiresAt
  }

  /** Why customer traffic cannot be checked now (logged once per freeze), or undefined when a list is in force. */
  frozen (): string | undefined {
    if (this.inForce()) return undefined
    const why = this.list === undefined
      ? 'no revocation list from main yet: refusing customer traffic it cannot check'
      : `revocation list version ${this.list.version} expired at ${new Date(this.list.expiresAt).toISOString()}: refusing customer traffic it cannot check until main sends a newer list`
    if (!this.frozenLogged) {
      this.frozenLogged = true
      this.opts.log?.(why)
    }
    return why
  }

  isLicenseRevoked (licenseId: string): boolean { return this.licenses.has(licenseId) }
  isAccountRevoked (accountId: string): boolean { return this.accounts.has(accountId) }
  isNodeRevoked (peerId: string): boolean { return this.nodes.has(peerId) }

  check (d: Directive): void {
    const frozen = this.frozen()
    if (frozen !== undefined) throw new AccessDeniedError(frozen)
    if (this.licenses.has(d.licenseId)) throw new AccessDeniedError(`licence ${d.licenseId} has been revoked`)
    if (d.accountId !== undefined && this.accounts.has(d.accountId)) throw new AccessDeniedError(`account ${d.accountId} has been revoked`)
  }

  /** For status endpoints. */
  status (): { version: number | null, expiresAt: number | null, frozen: boolean, licenses: number, accounts: number, nodes: number, lastError: string | null } {
    return {
      version: this.list?.version ?? null,
      expiresAt: this.list?.expiresAt ?? null,
      frozen: !this.inForce(),
      licenses: this.licenses.size,
      accounts: this.accounts.size,
      nodes: this.nodes.size,
      lastError: this.lastError ?? null
    }
  }
}
