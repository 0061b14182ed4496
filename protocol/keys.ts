/**
 * Ed25519 keys, signers and verification. `@noble/ed25519` is the reference
 * implementation; `node:crypto` (OpenSSL) gives byte-identical signatures
 * about ten times faster and is the default. Both paths apply the same strict
 * checks before any curve arithmetic, so they accept exactly the same inputs:
 * public keys must be canonical, on the curve and not of small order, and
 * the signature's S must be reduced (S < L), which rules out malleable twins.
 *
 * Randomness never comes from here: callers pass the 32-byte secret in.
 */
import { Buffer } from 'node:buffer'
import * as ed from '@noble/ed25519'
import { createHash, createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { base32 } from 'multiformats/bases/base32'
import { base58btc } from 'multiformats/bases/base58'
import { MalformedError } from './errors.ts'
import { PUBLIC_KEY_BYTES, SECRET_KEY_BYTES, SIGNATURE_BYTES } from './limits.ts'

// noble's synchronous API needs a SHA-512; node's is native and fast.
ed.hashes.sha512 = (msg: Uint8Array) => new Uint8Array(createHash('sha512').update(msg).digest())

export type Ed25519Impl = 'noble' | 'node'

export interface Signer {
  /** The key id carried in envelopes: `fingerprint(publicKey)`. */
  readonly keyId: string
  readonly publicKey: Uint8Array
  /** Ed25519 signature (64 bytes) over msg. */
  sign (msg: Uint8Array): Uint8Array
}

/** The prime order of the Ed25519 base point (RFC 8032's L); a signature's S must be below it. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n
/** L as 32 little-endian bytes, for a cheap comparison with S. */
const L_BYTES = Uint8Array.from({ length: 32 }, (_, i) => Number((L >> BigInt(8 * i)) & 0xffn))

/** ASN.1 prefixes that wrap a raw 32-byte key as PKCS#8 (private) or SPKI (public) DER for node:crypto. */
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])

/** A libp2p Ed25519 PeerId is an identity multihash (0x00, 36) of the protobuf PublicKey {Type: Ed25519, Data: 32 bytes}. */
const PEER_ID_PREFIX = Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])

/** Validated public keys turned into node KeyObjects; bounded so hostile key churn cannot grow it. */
const KEY_CACHE_MAX = 1024
const keyCache = new Map<string, KeyObject>()

function checkBytes (value: unknown, length: number, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`)
  if (value.length !== length) throw new RangeError(`${what} must be ${length} bytes, got ${value.length}`)
  return value
}

function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

function hex (bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s
}

/** The public key of a 32-byte seed through OpenSSL (RFC 8032's derivation, the same bytes as noble's). */
function derivePublicKey (seed: Uint8Array): Uint8Array {
  const key = createPrivateKey({ key: Buffer.from(concat(PKCS8_PREFIX, seed)), format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' })
  return new Uint8Array(spki.subarray(spki.length - PUBLIC_KEY_BYTES))
}

/**
 * Accept a 32-byte secret (the RFC 8032 seed), or libp2p's 64-byte form
 * (seed followed by its public key, which must match).
 */
function seedOf (secretKey: Uint8Array): Uint8Array {
  if (!(secretKey instanceof Uint8Array)) throw new TypeError('secretKey must be a Uint8Array')
  if (secretKey.length === SECRET_KEY_BYTES) return secretKey
  if (secretKey.length === 2 * SECRET_KEY_BYTES) {
    const seed = secretKey.subarray(0, SECRET_KEY_BYTES)
    const pub = derivePublicKey(seed)
    if (hex(pub) !== hex(secretKey.subarray(SECRET_KEY_BYTES))) throw new RangeError('64-byte secretKey: its second half is not the public key of its first')
    return seed
  }
  throw new RangeError(`secretKey must be ${SECRET_KEY_BYTES} bytes (or 64 in libp2p's seed+public form), got ${secretKey.length}`)
}

/** The 32-byte public key of a secret key. */
export function publicKeyOf (secretKey: Uint8Array): Uint8Array {
  return derivePublicKey(seedOf(secretKey))
}

/**
 * The key id: `ed25519:` + base32 (RFC 4648, lower case, unpadded) of the
 * first 16 bytes of SHA-256(publicKey). Short enough to print and compare by
 * eye, long enough (128 bits) that no one finds a second key with the same id.
 */
export function fingerprint (publicKey: Uint8Array): string {
  checkBytes(publicKey, PUBLIC_KEY_BYTES, 'publicKey')
  const digest = createHash('sha256').update(publicKey).digest()
  return 'ed25519:' + base32.baseEncode(new Uint8Array(digest.subarray(0, 16)))
}

/**
 * A signer over a 32-byte secret key, with noble or node:crypto underneath (same bytes either way). The node
 * path also derives the public key through OpenSSL: noble's first base-point multiplication builds its
 * precomputed table, which cost a node or main 3.3 s of start-up on these VMs (CPU profile of `reelnet node`).
 */
export function createSigner (secretKey: Uint8Array, impl: Ed25519Impl = 'node'): Signer {
  const seed = new Uint8Array(seedOf(secretKey))
  if (impl === 'noble') {
    const publicKey = ed.getPublicKey(seed)
    return { keyId: fingerprint(publicKey), publicKey, sign: (msg: Uint8Array) => ed.sign(msg, seed) }
  }
  if (impl !== 'node') throw new TypeError(`unknown ed25519 implementation '${String(impl)}'`)
  const key = createPrivateKey({ key: Buffer.from(concat(PKCS8_PREFIX, seed)), format: 'der', type: 'pkcs8' })
  const publicKey = derivePublicKey(seed)
  const keyId = fingerprint(publicKey)
  return {
    keyId,
    publicKey,
    sign: (msg: Uint8Array) => new Uint8Array(cryptoSign(null, msg, key))
  }
}

/**
 * True when the public key is acceptable at all: a canonical encoding
 * (y < p, no sign bit on x = 0) of a curve point outside the small-order
 * torsion subgroup. The eight small-order points include the identity, with
 * which one signature "verifies" for every message.
 */
export function isValidPublicKey (publicKey: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) return false
  if (keyCache.has(hex(publicKey))) return true
  try {
    // zip215 = false: RFC 8032 strict decoding, rejects y >= p and x = 0 with the sign bit set.
    return !ed.Point.fromBytes(publicKey, false).isSmallOrder()
  } catch {
    return false
  }
}

/** True when S (the signature's second half, little-endian) is reduced mod L. */
export function isCanonicalSignature (signature: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) return false
  // Compare S with L from the most significant byte down.
  for (let i = 31; i >= 0; i--) {
    const s = signature[32 + i]!
    const l = L_BYTES[i]!
    if (s !== l) return s < l
  }
  return false
}

function nodeKeyOf (publicKey: Uint8Array): KeyObject {
  const id = hex(publicKey)
  let key = keyCache.get(id)
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.from(concat(SPKI_PREFIX, publicKey)), format: 'der', type: 'spki' })
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear()
    keyCache.set(id, key)
  }
  return key
}

/**
 * Verify an Ed25519 signature. Returns false (never throws) for a bad
 * signature, a non-canonical S, or an unacceptable public key; throws only
 * TypeError for arguments that are not bytes.
 */
export function verifySignature (publicKey: Uint8Array, msg: Uint8Array, signature: Uint8Array, impl: Ed25519Impl = 'node'): boolean {
  if (!(publicKey instanceof Uint8Array) || !(msg instanceof Uint8Array) || !(signature instanceof Uint8Array)) {
    throw new TypeError('verifySignature expects Uint8Array arguments')
  }
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false
  if (!isCanonicalSignature(signature)) return false
  if (!isValidPublicKey(publicKey)) return false
  if (impl === 'noble') {
    try {
      return ed.verify(signature, msg, publicKey, { zip215: false })
    } catch {
      return false
    }
  }
  if (impl !== 'node') throw new TypeError(`unknown ed25519 implementation '${String(impl)}'`)
  return cryptoVerify(null, msg, nodeKeyOf(publicKey), signature)
}

/** The libp2p PeerId string (`12D3KooW…`) of an Ed25519 public key. */
export function peerIdOf (publicKey: Uint8Array): string {
  checkBytes(publicKey, PUBLIC_KEY_BYTES, 'publicKey')
  return base58btc.baseEncode(concat(PEER_ID_PREFIX, publicKey))
}

/** The Ed25519 public key inside a libp2p PeerId string; MalformedError for any other kind of PeerId. */
export function publicKeyOfPeerId (peerId: string): Uint8Array {
  if (typeof peerId !== 'string' || peerId.length === 0 || peerId.length > 64) throw new MalformedError('not an Ed25519 PeerId')
  let bytes: Uint8Array
  try {
    bytes = base58btc.baseDecode(peerId)
  } catch {
    throw new MalformedError('not an Ed25519 PeerId (bad base58)')
  }
  if (bytes.length !== PEER_ID_PREFIX.length + PUBLIC_KEY_BYTES || !PEER_ID_PREFIX.every((b, i) => bytes[i] === b)) {
    throw new MalformedError('not an Ed25519 PeerId')
  }
  return bytes.slice(PEER_ID_PREFIX.length)
}
