/**
 * Noise's crypto with one change: ChaCha20-Poly1305 reuses a node:crypto
 * KeyObject per session key instead of building one from the raw key for
 * every Noise frame (at most 64 KiB each). @libp2p/noise's default passes
 * the raw key to createCipheriv, and node then prepares a new secret key
 * object per call: 8–12% of a chunk transfer's CPU on each side, measured
 * with --cpu-prof (getKeyObjectSlots, getSlots, createCipherBase).
 *
 * Same cipher, same nonces, same bytes on the wire: everything else,
 * including the small-payload path, is @libp2p/noise's own defaultCrypto.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto'
import type { ICryptoInterface } from '@libp2p/noise'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'

const CHACHA_POLY1305 = 'chacha20-poly1305'
const TAG_BYTES = 16
/** Below this, defaultCrypto uses its WebAssembly implementation, faster than node for small frames: keep that. */
export const NODE_CIPHER_MIN_BYTES = 1200

/**
 * KeyObjects by key array. Noise keeps one key array per direction for a
 * session's life; the copy of the bytes makes a reused or altered array
 * miss instead of encrypting under a stale key.
 */
const keys = new WeakMap<Uint8Array, { raw: Buffer, key: KeyObject }>()

function keyObject (k: Uint8Array): KeyObject {
  const hit = keys.get(k)
  if (hit !== undefined && hit.raw.equals(k)) return hit.key
  const raw = Buffer.from(k)
  const key = createSecretKey(raw)
  keys.set(k, { raw, key })
  return key
}

function encrypt (plaintext: Uint8Array | Uint8ArrayList, nonce: Uint8Array, ad: Uint8Array, k: Uint8Array): Uint8Array | Uint8ArrayList {
  if (plaintext.byteLength < NODE_CIPHER_MIN_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
  const cipher = createCipheriv(CHACHA_POLY1305, keyObject(k), nonce, { authTagLength: TAG_BYTES })
  cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
  if (plaintext instanceof Uint8Array) {
    const updated = cipher.update(plaintext)
    const final = cipher.final()
    const tag = cipher.getAuthTag()
    return Buffer.concat([updated, final, tag], updated.byteLength + final.byteLength + tag.byteLength)
  }
  const output = new Uint8ArrayList()
  for (const buf of plaintext) output.append(cipher.update(buf))
  const final = cipher.final()
  if (final.byteLength > 0) output.append(final)
  output.append(cipher.getAuthTag())
  return output
}

function decrypt (ciphertext: Uint8Array | Uint8ArrayList, nonce: Uint8Array, ad: Uint8Array, k: Uint8Array, dst?: Uint8Array): Uint8Array | Uint8ArrayList {
  if (ciphertext.byteLength < NODE_CIPHER_MIN_BYTES) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
  const tag = ciphertext.subarray(ciphertext.byteLength - TAG_BYTES)
  const decipher = createDecipheriv(CHACHA_POLY1305, keyObject(k), nonce, { authTagLength: TAG_BYTES })
  const text = ciphertext instanceof Uint8Array
    ? ciphertext.subarray(0, ciphertext.byteLength - TAG_BYTES)
    : ciphertext.sublist(0, ciphertext.byteLength - TAG_BYTES)
  decipher.setAAD(ad, { plaintextLength: text.byteLength })
  decipher.setAuthTag(tag)
  if (text instanceof Uint8Array) {
    const output = decipher.update(text)
    // final() checks the tag and throws on a forged or damaged frame
    const final = decipher.final()
    return final.byteLength > 0 ? Buffer.concat([output, final], output.byteLength + final.byteLength) : output
  }
  const output = new Uint8ArrayList()
  for (const buf of text) output.append(decipher.update(buf))
  const final = decipher.final()
  if (final.byteLength > 0) output.append(final)
  return output
}

export const noiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt: encrypt,
  chaCha20Poly1305Decrypt: decrypt
}
