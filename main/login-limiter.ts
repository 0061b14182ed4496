/**
 * Counts failed logins per key (an account name, a client address) in a
 * fixed window. At the limit, further attempts are refused before any
 * password is hashed, so guessing is slow and cheap for main to refuse.
 * A success clears the account's count; the window's end clears everything.
 */
import { LOGIN_LIMITER_MAX_KEYS } from './limits.ts'

interface Entry { failures: number, windowStart: number }

export class LoginLimiter {
  readonly limit: number
  readonly windowMs: number
  #entries = new Map<string, Entry>()

  constructor (limit: number, windowMs: number) {
    this.limit = limit
    this.windowMs = windowMs
  }

  /** Milliseconds until `key` may try again, or 0 if it may try now. */
  retryAfterMs (key: string, now: number): number {
    const e = this.#entries.get(key)
    if (e === undefined) return 0
    const end = e.windowStart + this.windowMs
    if (now >= end) {
      this.#entries.delete(key)
      return 0
    }
    return e.failures >= this.limit ? end - now : 0
  }

  fail (key: string, now: number): void {
    let e = this.#entries.get(key)
    if (e === undefined || now >= e.windowStart + this.windowMs) {
      e = { failures: 0, windowStart: now }
    }
    e.failures++
    this.#entries.delete(key)
    this.#entries.set(key, e)
    if (this.#entries.size > LOGIN_LIMITER_MAX_KEYS) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
  }

  /** Failures of `key` in its current window. */
  failures (key: string, now: number): number {
    const e = this.#entries.get(key)
    if (e === undefined || now >= e.windowStart + this.windowMs) return 0
    return e.failures
  }

  clear (key: string): void {
    this.#entries.delete(key)
  }
}

/**
 * The source a login attempt is counted against: the client's address, with an IPv6 address cut to its /64 (one
 * customer line usually has a whole /64, so counting single addresses would let one host rotate freely).
 */
export function loginSourceOf (address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped !== null) return mapped[1]!
  if (!address.includes(':')) return address
  const [head = '', tail = ''] = address.toLowerCase().split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === '' ? [] : tail.split(':')
  const groups = address.includes('::') ? [...left, ...new Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left
  return groups.slice(0, 4).map(g => g.replace(/^0+(?=.)/, '')).join(':') + '::/64'
}
