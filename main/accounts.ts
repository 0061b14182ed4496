/**
 * Accounts and sessions: creation with a hashed password, login with
 * rate limiting, session tokens that are random, stored only as their
 * SHA-256, and expire. Sessions are cached in memory because every rental
 * and directive resolves one.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import type { MainStore, AccountRecord, SessionRecord } from './store.ts'
import type { PasswordHasher } from './passwords.ts'
import { LoginLimiter, loginSourceOf } from './login-limiter.ts'
import { Lru } from './lru.ts'
import { conflict, unauthorized, tooManyRequests } from './errors.ts'
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
  readonly #byPair: LoginLimiter
  /** Failures per account from every source. */
  readonly #byAccount: LoginLimiter
  /** Failures per source against every account. */
  readonly #byAddress: LoginLimiter
  readonly #signups: LoginLimiter
  readonly #sessions = new Lru<string, SessionRecord>(SESSION_CACHE_ENTRIES)
  readonly #accounts = new Lru<string, AccountRecord>(SESSION_CACHE_ENTRIES)
  /** Usernames being created right now: main is one process, so this closes the check-then-write race. */
  readonly #creating = new Set<string>()
  onLoginFailed: () => void = () => {}

  constructor (store: MainStore, hasher: PasswordHasher, now: () => number, limits: LoginLimits = DEFAULT_LOGIN_LIMITS) {
    this.#store = store
    this.#hasher = hasher
    this.#now = now
    this.#byPair = new LoginLimiter(limits.perAccount, limits.windowMs)
    this.#byAccount = new LoginLimiter(limits.perAccountAllSources ?? LOGIN_FAILURES_PER_ACCOUNT_ALL_SOURCES, limits.windowMs)
    this.#byAddress = new LoginLimiter(limits.perAddress, limits.windowMs)
    this.#signups = new LoginLimiter(limits.signupsPerAddressPerHour ?? ACCOUNTS_PER_ADDRESS_PER_HOUR, 3600_000)
  }

  async create (username: string, password: string, region: string | undefined, address: string): Promise<AccountRecord> {
    const wait = this.#signups.retryAfterMs(address, this.#now())
    if (wait > 0) throw tooManyRequests('too many accounts created from this address; try again later', wait / 1000)
    const key = username.toLowerCase()
    if (this.#creating.has(key) || await this.#store.usernames.get(key) !== undefined) throw conflict(`username '${username}' is taken`)
    this.#creating.add(key)
    try {
      const hash = await this.#hasher.hash(password)
      const record: AccountRecord = { accountId: randomUUID(), username, password: hash, createdAt: this.#now() }
      if (region !== undefined) record.region = region
      await this.#store.db.batch([
        { type: 'put', sublevel: this.#store.accounts, key: record.accountId, value: record },
        { type: 'put', sublevel: this.#store.usernames, key, value: record.accountId }
      ])
      this.#signups.fail(address, this.#now())
      return record
    } finally {
      this.#creating.delete(key)
    }
  }

  async get (accountId: string): Promise<AccountRecord | undefined> {
    let a = this.#accounts.get(accountId)
    if (a === undefined) {
      a = await this.#store.accounts.get(accountId)
      if (a !== undefined) this.#accounts.set(accountId, a)
    }
    return a
  }

  /** Check the password and open a session; 401 for a wrong pair, 429 while locked out. */
  async login (username: string, password: string, address: string): Promise<{ token: string, accountId: string, expiresAt: number }> {
    const now = this.#now()
    const source = loginSourceOf(address)
    const accountKey = 'u:' + username.toLowerCase()
    const addressKey = 'a:' + source
    const pairKey = 'p:' + username.toLowerCase() + '\n' + source
    let wait = Math.max(this.#byPair.retryAfterMs(pairKey, now), this.#byAddress.retryAfterMs(addressKey, now))
    // an account under a spread-out attack stays open to sources that have not failed against it
    const accountWait = this.#byAccount.retryAfterMs(accountKey, now)
    if (accountWait > 0 && this.#byPair.failures(pairKey, now) > 0) wait = Math.max(wait, accountWait)
    if (wait > 0) throw tooManyRequests('too many failed logins from this address; try again later', wait / 1000)
    const accountId = await this.#store.usernames.get(username.toLowerCase())
    const account = accountId === undefined ? undefined : await this.get(accountId)
    const ok = await this.#hasher.verify(password, account?.password)
    if (!ok || account === undefined) {
      this.#byPair.fail(pairKey, this.#now())
      this.#byAccount.fail(accountKey, this.#now())
      this.#byAddress.fail(addressKey, this.#now())
      this.onLoginFailed()
      throw unauthorized('wrong username or password')
    }
    this.#byPair.clear(pairKey)
    const token = randomBytes(32).toString('base64url')
    const session: SessionRecord = { accountId: account.accountId, expiresAt: this.#now() + SESSION_TTL_MS }
    const id = hashToken(token)
    await this.#store.sessions.put(id, session)
    this.#sessions.set(id, session)
    return { token, accountId: account.accountId, expiresAt: session.expiresAt }
  }

  /** End a session (log out); unknown tokens are ignored. */
  async logout (token: string): Promise<void> {
    const id = hashToken(token)
    this.#sessions.delete(id)
    await this.#store.sessions.del(id)
  }

  /** The live session of a bearer token, or undefined. */
  async session (token: string): Promise<SessionRecord | undefined> {
    const id = hashToken(token)
    let s = this.#sessions.get(id)
    if (s === undefined) {
      s = await this.#store.sessions.get(id)
      if (s === undefined) return undefined
      this.#sessions.set(id, s)
    }
    if (s.expiresAt <= this.#now()) {
      this.#sessions.delete(id)
      await this.#store.sessions.del(id)
      return undefined
    }
    return s
  }
}
