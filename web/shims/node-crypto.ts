/**
 * What protocol/ takes from node:crypto, for the browser bundle (esbuild
 * aliases node:crypto here). Hashes come from @noble/hashes (protocol/ hashes
 * small things synchronously: key fingerprints, Merkle nodes); chunks are
 * hashed with WebCrypto by the player itself. Signatures are verified on
 * noble's path (`impl: 'noble'`), so the OpenSSL key functions refuse.
 */
import { Buffer } from 'buffer'
import { sha256, sha512 } from '@noble/hashes/sha2.js'

class Hash {
  readonly #parts: Uint8Array[] = []
  readonly #fn: (msg: Uint8Array) => Uint8Array
  constructor (fn: (msg: Uint8Array) => Uint8Array) { this.#fn = fn }
  update (data: Uint8Array | string): this {
    this.#parts.push(typeof data === 'string' ? new TextEncoder().encode(data) : data)
    return this
  }

  digest (encoding?: 'hex' | 'base64'): Buffer | string {
    const total = this.#parts.reduce((n, p) => n + p.length, 0)
    const all = new Uint8Array(total)
    let at = 0
    for (const p of this.#parts) { all.set(p, at); at += p.length }
    const out = Buffer.from(this.#fn(all))
    return encoding === undefined ? out : out.toString(encoding)
  }
}

export function createHash (algorithm: string): Hash {
  if (algorithm === 'sha256') return new Hash(sha256)
  if (algorithm === 'sha512') return new Hash(sha512)
  throw new Error(`hash ${algorithm} is not in the browser build`)
}

function notHere (): never {
  throw new Error("node:crypto keys are not in the browser build: verify with impl 'noble'")
}
export const createPrivateKey = notHere
export const createPublicKey = notHere
export const sign = notHere
export const verify = notHere
export const randomBytes = (n: number): Buffer => Buffer.from(crypto.getRandomValues(new Uint8Array(n)))
export default { createHash, createPrivateKey, createPublicKey, sign, verify, randomBytes }
