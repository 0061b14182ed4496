/**
 * Password hashing: scrypt at OWASP's parameters (N=2^17, r=8, p=1), a
 * random 16-byte salt per password, parameters stored with the hash so they
 * can be raised later, constant-time comparison. At most
 * MAX_CONCURRENT_HASHES run at once: each needs 128 MiB.
 */
import { scrypt, randomBytes, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { MAX_CONCURRENT_HASHES, MAX_QUEUED_HASHES, SCRYPT_PARAMS } from './limits.ts'

/** Too many password hashes are already waiting; the caller answers 503. */
export class HasherBusyError extends Error {
  name = 'HasherBusyError'
}

export interface ScryptParams { N: number, r: number, p: number }

export interface PasswordHash {
  alg: 'scrypt'
  N: number
  r: number
  p: number
  /** base64url */
  salt: string
  /** base64url, HASH_BYTES long */
  hash: string
}

const HASH_BYTES = 32
const SALT_BYTES = 16

function scryptAsync (password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; node's default maxmem (32 MiB) is below OWASP's 128 MiB.
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 128 * params.N * params.r + 16 * 1024 * 1024 }
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, HASH_BYTES, options, (err, key) => { err === null ? resolve(key) : reject(err) })
  })
}

/** A counting semaphore: bounds memory when many logins arrive together. */
class Gate {
  #free: number
  #waiting: Array<() => void> = []
  constructor (n: number) { this.#free = n }
  async run<T> (fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--
    else if (this.#waiting.length >= MAX_QUEUED_HASHES) throw new HasherBusyError('too many logins at once; try again in a moment')
    else await new Promise<void>(resolve => this.#waiting.push(resolve))
    try { return await fn() } finally {
      const next = this.#waiting.shift()
      if (next !== undefined) next()
      else this.#free++
    }
  }
}

export class PasswordHasher {
  readonly params: ScryptParams
  #gate = new Gate(MAX_CONCURRENT_HASHES)
  /** Compared against when the username is unknown, so timing does not reveal which usernames exist. */
  #dummy: Promise<PasswordHash> | undefined

  constructor (params: ScryptParams = SCRYPT_PARAMS) {
    this.params = params
  }

  async hash (password: string): Promise<PasswordHash> {
    const salt = randomBytes(SALT_BYTES)
    const key = await this.#gate.run(async () => await scryptAsync(password, salt, this.params))
    return { alg: 'scrypt', ...this.params, salt: salt.toString('base64url'), hash: key.toString('base64url') }
  }

  async verify (password: string, stored: PasswordHash | undefined): Promise<boolean> {
    const target = stored ?? await (this.#dummy ??= this.hash('reelnet-dummy-password'))
    const expected = Buffer.from(target.hash, 'base64url')
    const key = await this.#gate.run(async () => await scryptAsync(password, Buffer.from(target.salt, 'base64url'), target))
    return key.length === expected.length && timingSafeEqual(key, expected) && stored !== undefined
  }
}
