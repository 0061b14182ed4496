/**
 * Accounts and sessions: creation with a hashed password, login with
 * rate limiting, session tokens that are random, stored only as their
 * SHA-256, and expire. Sessions are cached in memory because every rental
 * and directive resolves one.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import type { MainStore, AccountRecord, SessionRecord } from './store.ts'
import type { PasswordHasher } from './passwords.ts'
import { LoginLimiter } from './login-limiter.ts'
import { Lru } from './lru.ts'
import { conflict, unauthorized, tooManyRequests } from './errors.ts'
import { SESSION_TTL_MS, SESSION_CACHE_ENTRIES, LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURES_PER_ADDRESS, LOGIN_WINDOW_MS, ACCOUNTS_PER_ADDRESS_PER_HOUR } from './limits.ts'

export interface LoginLimits { perAccount: number, perAddress: number, windowMs: number, signupsPerAddressPerHour?: number }

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  perAccount: LOGIN_FAILURES_PER_ACCOUNT, perAddress: LOGIN_FAILURES_PER_ADDRESS, windowMs: LOGIN_WINDOW_MS, signupsPerAddressPerHour: ACCOUNTS_PER_ADDRESS_PER_HOUR
}

export function hashToken (token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

export class Accounts {
  readonly #store: MainStore
  readonly #hasher: PasswordHasher
  readonly #now: () => number
  readonly #byAccount: LoginLimiter
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
    this.#byAccount = new LoginLimiter(limits.perAccount, limits.windowMs)
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
    const accountKey = 'u:' + username.toLowerCase()
    const addressKey = 'a:' + address
    const wait = Math.max(this.#byAccount.retryAfterMs(accountKey, now), this.#byAddress.retryAfterMs(addressKey, now))
    if (wait > 0) throw tooManyRequests('too many failed logins; try again later', wait / 1000)
    const accountId = await this.#store.usernames.get(username.toLowerCase())
    const account = accountId === undefined ? undefined : await this.get(accountId)
    const ok = await this.#hasher.verify(password, account?.password)
    if (!ok || account === undefined) {
      this.#byAccount.fail(accountKey, this.#now())
      this.#byAddress.fail(addressKey, this.#now())
      this.onLoginFailed()
      throw unauthorized('wrong username or password')
    }
    this.#byAccount.clear(accountKey)
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
