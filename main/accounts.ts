/**
 * Accounts and sessions: creation with a hashed password, login with
 * rate limiting, session tokens that are random, stored only as their
 * SHA-256, and expire. Sessions are cached in memory because every rental
 * and directive resolves one.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import type { MainStore, AccountRecord, SessionRecord } from './store.ts'
import type { LimiterCounters } from './storage/types.ts'
import type { PasswordHasher } from './passwords.ts'
import { loginSourceOf } from './login-limiter.ts'
import { Lru } from './lru.ts'
import { ApiError, conflict, unauthorized, tooManyRequests } from './errors.ts'
import {
  SESSION_TTL_MS, SESSION_CACHE_ENTRIES, LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURES_PER_ADDRESS, LOGIN_FAILURES_PER_ACCOUNT_ALL_SOURCES,
  LOGIN_WINDOW_MS, ACCOUNTS_PER_ADDRESS_PER_HOUR
} from './limits.ts'

/**
 * The login policy (README "Log-in limits"; OWASP's authentication guidance: throttle, never hand an attacker a
 * lock-out of an account it can name). `perAccount`: failures one source may make against one account;
 * `perAddress`: one source across all accounts; `perAccountAllSources`: all sources against one account, past
 * which only sources that have not failed against it may try (once each). All within `windowMs`.
 */
export interface LoginLimits { perAccount: number, perAddress: number, windowMs: number, perAccountAllSources?: number, signupsPerAddressPerHour?: number }

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  perAccount: LOGIN_FAILURES_PER_ACCOUNT,
  perAddress: LOGIN_FAILURES_PER_ADDRESS,
  perAccountAllSources: LOGIN_FAILURES_PER_ACCOUNT_ALL_SOURCES,
  windowMs: LOGIN_WINDOW_MS,
  signupsPerAddressPerHour: ACCOUNTS_PER_ADDRESS_PER_HOUR
}

export function hashToken (token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

export class Accounts {
  readonly #store: MainStore
  readonly #hasher: PasswordHasher
  readonly #now: () => number
  /** Failures per (account, source) pair. */
  readonly #byPair: StoredLimit
  /** Failures per account from every source. */
  readonly #byAccount: StoredLimit
  /** Failures per source against every account. */
  readonly #byAddress: StoredLimit
  readonly #signups: StoredLimit
  readonly #sessions = new Lru<string, SessionRecord>(SESSION_CACHE_ENTRIES)
  readonly #accounts = new Lru<string, AccountRecord>(SESSION_CACHE_ENTRIES)
  onLoginFailed: () => void = () => {}
  /** Revoked sessions (by id) and accounts (main/revocations.ts): their sessions fail at once. */
  revoked: { session: (sessionId: string) => boolean, account: (accountId: string) => boolean } = { session: () => false, account: () => false }

  constructor (store: MainStore, hasher: PasswordHasher, now: () => number, limits: LoginLimits = DEFAULT_LOGIN_LIMITS) {
    this.#store = store
    this.#hasher = hasher
    this.#now = now
    const c = store.limiter
    this.#byPair = new StoredLimit(c, 'pair', limits.perAccount, limits.windowMs)
    this.#byAccount = new StoredLimit(c, 'account', limits.perAccountAllSources ?? LOGIN_FAILURES_PER_ACCOUNT_ALL_SOURCES, limits.windowMs)
    this.#byAddress = new StoredLimit(c, 'address', limits.perAddress, limits.windowMs)
    this.#signups = new StoredLimit(c, 'signup', limits.signupsPerAddressPerHour ?? ACCOUNTS_PER_ADDRESS_PER_HOUR, 3600_000)
  }

  async create (username: string, password: string, region: string | undefined, address: string): Promise<AccountRecord> {
    const wait = await this.#signups.retryAfterMs(address, this.#now())
    if (wait > 0) throw tooManyRequests('too many accounts created from this address; try again later', wait / 1000)
    const taken = (): ApiError => conflict(`username '${username}' is taken`)
    // a cheap early refusal; the store's createAccount is what decides a race
    if (await this.#store.accountIdByUsername(username) !== undefined) throw taken()
    const hash = await this.#hasher.hash(password)
    const record: AccountRecord = { accountId: randomUUID(), username, password: hash, createdAt: this.#now() }
    if (region !== undefined) record.region = region
    if (!await this.#store.createAccount(record)) throw taken()
    await this.#signups.fail(address, this.#now())
    return record
  }

  async get (accountId: string): Promise<AccountRecord | undefined> {
    let a = this.#accounts.get(accountId)
    if (a === undefined) {
      a = await this.#store.getAccount(accountId)
      if (a !== undefined) this.#accounts.set(accountId, a)
    }
    return a
  }

  /** The accountId of a username (any case), or undefined. */
  async byUsername (username: string): Promise<string | undefined> {
    return await this.#store.accountIdByUsername(username)
  }

  /** Check the password and open a session; 401 for a wrong pair, 429 while locked out. */
  async login (username: string, password: string, address: string): Promise<{ token: string, accountId: string, expiresAt: number, sessionId: string }> {
    const now = this.#now()
    const source = loginSourceOf(address)
    const accountKey = 'u:' + username.toLowerCase()
    const addressKey = 'a:' + source
    const pairKey = 'p:' + username.toLowerCase() + '\n' + source
    const [pairWait, addressWait, accountWait, pairFailures] = await Promise.all([
      this.#byPair.retryAfterMs(pairKey, now), this.#byAddress.retryAfterMs(addressKey, now),
      this.#byAccount.retryAfterMs(accountKey, now), this.#byPair.failures(pairKey, now)
    ])
    let wait = Math.max(pairWait, addressWait)
    // an account under a spread-out attack stays open to sources that have not failed against it
    if (accountWait > 0 && pairFailures > 0) wait = Math.max(wait, accountWait)
    if (wait > 0) throw tooManyRequests('too many failed logins from this address; try again later', wait / 1000)
    const accountId = await this.#store.accountIdByUsername(username)
    const account = accountId === undefined ? undefined : await this.get(accountId)
    const ok = await this.#hasher.verify(password, account?.password)
    if (!ok || account === undefined) {
      const at = this.#now()
      await Promise.all([this.#byPair.fail(pairKey, at), this.#byAccount.fail(accountKey, at), this.#byAddress.fail(addressKey, at)])
      this.onLoginFailed()
      throw unauthorized('wrong username or password')
    }
    await this.#byPair.clear(pairKey)
    if (this.revoked.account(account.accountId)) throw new ApiError(403, 'account_revoked', 'this account has been revoked')
    const token = randomBytes(32).toString('base64url')
    const session: SessionRecord = { accountId: account.accountId, expiresAt: this.#now() + SESSION_TTL_MS }
    const id = hashToken(token)
    await this.#store.putSession(id, session)
    this.#sessions.set(id, session)
    // the session's id is what an admin names to revoke it (`reelnet admin revoke session ID`); it is no credential
    return { token, accountId: account.accountId, expiresAt: session.expiresAt, sessionId: id }
  }

  /** End a session (log out); unknown tokens are ignored. */
  async logout (token: string): Promise<void> {
    const id = hashToken(token)
    this.#sessions.delete(id)
    await this.#store.deleteSession(id)
  }

  /** Why a token's session is refused although it exists: it or its account was revoked (for a precise 403). */
  async revokedReason (token: string): Promise<ApiError | undefined> {
    const id = hashToken(token)
    if (this.revoked.session(id)) return new ApiError(403, 'session_revoked', 'this session has been revoked; log in again')
    const s = this.#sessions.get(id) ?? await this.#store.getSession(id)
    if (s !== undefined && this.revoked.account(s.accountId)) return new ApiError(403, 'account_revoked', 'this account has been revoked')
    return undefined
  }

  /** The live session of a bearer token, or undefined (also when it or its account was revoked). */
  async session (token: string): Promise<SessionRecord | undefined> {
    const id = hashToken(token)
    if (this.revoked.session(id)) { this.#sessions.delete(id); return undefined }
    let s = this.#sessions.get(id)
    if (s === undefined) {
      s = await this.#store.getSession(id)
      if (s === undefined) return undefined
      this.#sessions.set(id, s)
    }
    if (s.expiresAt <= this.#now()) {
      this.#sessions.delete(id)
      await this.#store.deleteSession(id)
      return undefined
    }
    if (this.revoked.account(s.accountId)) return undefined
    return s
  }

  /** A stored session by its id (sha256 of the token), for revoking it. */
  async sessionById (id: string): Promise<SessionRecord | undefined> {
    return this.#sessions.get(id) ?? await this.#store.getSession(id)
  }
}

/** One fixed-window limit over the store's counters (in memory on level, shared by every main on PostgreSQL). */
class StoredLimit {
  readonly #c: LimiterCounters
  readonly #scope: string
  readonly limit: number
  readonly windowMs: number

  constructor (counters: LimiterCounters, scope: string, limit: number, windowMs: number) {
    this.#c = counters
    this.#scope = scope
    this.limit = limit
    this.windowMs = windowMs
  }

  /** Milliseconds until `key` may try again, or 0 if it may try now. */
  async retryAfterMs (key: string, now: number): Promise<number> {
    const e = await this.#c.get(this.#scope, key, now, this.windowMs)
    return e !== undefined && e.failures >= this.limit ? e.windowStart + this.windowMs - now : 0
  }

  async failures (key: string, now: number): Promise<number> {
    return (await this.#c.get(this.#scope, key, now, this.windowMs))?.failures ?? 0
  }

  async fail (key: string, now: number): Promise<void> {
    await this.#c.fail(this.#scope, key, now, this.windowMs)
  }

  async clear (key: string): Promise<void> {
    await this.#c.clear(this.#scope, key)
  }
}
