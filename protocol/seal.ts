/**
 * Sealing an item's content key to one client: the client's libp2p PeerId
 * embeds its Ed25519 public key, which converts to an X25519 key (RFC 7748's
 * birational map, as libsodium's crypto_sign_ed25519_pk_to_curve25519). main
 * makes an ephemeral X25519 key, derives
 *   k = HKDF-SHA256(ikm = X25519(esk, recipientX), salt = epk || recipientX,
 *                   info = utf8("reelnet/seal/1") || 0x00 || utf8(licenseId) || 0x00 || utf8(clientPeerId), 32)
 * and encrypts the content key with AES-256-GCM(k, nonce). The info binds
 * the box to its licence and its client (the NUL separators keep the
 * concatenation unambiguous: ids are printable ASCII), the salt to both
 * public keys. Only the holder of the client's Ed25519 secret opens it.
 *
 * Pure: the ephemeral secret and the nonce are handed in (main draws them
 * from its CSPRNG); nothing here reads a clock or randomness.
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { gcm } from '@noble/ciphers/aes.js'
import { z } from 'zod'
import { MalformedError, MismatchError } from './errors.ts'
import { fromBase64url, toBase64url } from './encoding.ts'
import { publicKeyOfPeerId } from './keys.ts'
import { CONTENT_KEY_BYTES } from './content-crypto.ts'
import { MAX_ID_LENGTH, MAX_PEER_ID_LENGTH } from './limits.ts'

export const SEAL_ALG = 'x25519-hkdf-sha256-aes256gcm'
/** X25519 keys and shared secrets. */
export const X25519_BYTES = 32
/** AES-GCM's standard nonce. */
export const SEAL_NONCE_BYTES = 12
/** AES-GCM's full tag: a forged box is refused with certainty 1 - 2^-128. */
export const SEAL_TAG_BYTES = 16
/** A sealed box holds one content key: its box is the key plus the tag. */
export const SEALED_BOX_BYTES = CONTENT_KEY_BYTES + SEAL_TAG_BYTES
const INFO_DOMAIN = 'reelnet/seal/1'

export interface SealedBox {
  alg: typeof SEAL_ALG
  /** The ephemeral X25519 public key, base64url. */
  epk: string
  nonce: string
  /** AES-256-GCM ciphertext || tag, base64url. */
  box: string
}

const b64 = (bytes: number) => z.string().length(Math.ceil(bytes * 4 / 3)).regex(/^[A-Za-z0-9_-]+$/)

/** What a sealed box must look like on the wire (checked before any decoding). */
export const SealedBoxSchema = z.strictObject({
  alg: z.literal(SEAL_ALG),
  epk: b64(X25519_BYTES),
  nonce: b64(SEAL_NONCE_BYTES),
  box: b64(SEALED_BOX_BYTES)
})

export interface SealBinding {
  licenseId: string
  clientPeerId: string
}

function infoOf ({ licenseId, clientPeerId }: SealBinding): Uint8Array {
  if (typeof licenseId !== 'string' || licenseId.length === 0 || licenseId.length > MAX_ID_LENGTH || /[^\x21-\x7e]/.test(licenseId)) throw new TypeError('licenseId must be a printable id')
  if (typeof clientPeerId !== 'string' || clientPeerId.length === 0 || clientPeerId.length > MAX_PEER_ID_LENGTH || /[^\x21-\x7e]/.test(clientPeerId)) throw new TypeError('clientPeerId must be a PeerId')
  return new TextEncoder().encode(`${INFO_DOMAIN}\0${licenseId}\0${clientPeerId}`)
}

function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

function exact (bytes: Uint8Array, n: number, what: string): void {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`)
  if (bytes.length !== n) throw new RangeError(`${what} must be ${n} bytes, got ${bytes.length}`)
}

/** The X25519 public key of an Ed25519 public key (MalformedError when it is not a valid point). */
export function x25519PublicOfEd25519 (publicKey: Uint8Array): Uint8Array {
  exact(publicKey, 32, 'Ed25519 public key')
  try {
    return ed25519.utils.toMontgomery(publicKey)
  } catch {
    throw new MalformedError('the Ed25519 public key is not a valid point')
  }
}

/** The X25519 secret of an Ed25519 seed (SHA-512(seed)[0..32], clamped by X25519 itself). */
export function x25519SecretOfEd25519 (seed: Uint8Array): Uint8Array {
  exact(seed, 32, 'Ed25519 seed')
  return ed25519.utils.toMontgomerySecret(seed)
}

function boxKey (shared: Uint8Array, epk: Uint8Array, recipientX: Uint8Array, binding: SealBinding): Uint8Array {
  return hkdf(sha256, shared, concat(epk, recipientX), infoOf(binding), 32)
}

export interface SealInput extends SealBinding {
  contentKey: Uint8Array
  /** 32 random bytes: the ephemeral X25519 secret, used for this box only. */
  ephemeralSecret: Uint8Array
  /** 12 random bytes. */
  nonce: Uint8Array
}

/** Seal `contentKey` to the client `clientPeerId` names (its Ed25519 key), for licence `licenseId`. */
export function sealContentKey (input: SealInput): SealedBox {
  exact(input.contentKey, CONTENT_KEY_BYTES, 'contentKey')
  exact(input.ephemeralSecret, X25519_BYTES, 'ephemeralSecret')
  exact(input.nonce, SEAL_NONCE_BYTES, 'nonce')
  const recipientX = x25519PublicOfEd25519(publicKeyOfPeerId(input.clientPeerId))
  const epk = x25519.getPublicKey(input.ephemeralSecret)
  let shared: Uint8Array
  try {
    shared = x25519.getSharedSecret(input.ephemeralSecret, recipientX)
  } catch {
    throw new MalformedError('the client key is of small order: nothing can be sealed to it')
  }
  const k = boxKey(shared, epk, recipientX, input)
  const box = gcm(k, input.nonce).encrypt(input.contentKey)
  return { alg: SEAL_ALG, epk: toBase64url(epk), nonce: toBase64url(input.nonce), box: toBase64url(box) }
}

/** Check an untrusted value is a sealed box (MalformedError otherwise). */
export function parseSealedBox (value: unknown): SealedBox {
  const r = SealedBoxSchema.safeParse(value)
  if (!r.success) throw new MalformedError(`not a sealed box: ${r.error.issues[0]?.path.join('.') ?? ''} ${r.error.issues[0]?.message ?? ''}`.trim())
  return r.data
}

export interface OpenInput extends SealBinding {
  /** The client's Ed25519 seed (32 bytes), the secret of the key its PeerId names. */
  seed: Uint8Array
}

/**
 * Open a sealed box with the client's own key: the content key, or MismatchError when the box was not sealed to
 * this key, for this licence and client (or was altered). Never returns a key the tag did not vouch for.
 */
export function openContentKey (sealed: unknown, input: OpenInput): Uint8Array {
  const s = parseSealedBox(sealed)
  const epk = fromBase64url(s.epk, X25519_BYTES)
  const nonce = fromBase64url(s.nonce, SEAL_NONCE_BYTES)
  const box = fromBase64url(s.box, SEALED_BOX_BYTES)
  if (epk.length !== X25519_BYTES || nonce.length !== SEAL_NONCE_BYTES || box.length !== SEALED_BOX_BYTES) throw new MalformedError('sealed box fields have the wrong lengths')
  const secret = x25519SecretOfEd25519(input.seed)
  const recipientX = x25519.getPublicKey(secret)
  let shared: Uint8Array
  try {
    shared = x25519.getSharedSecret(secret, epk)
  } catch {
    throw new MalformedError('the sealed box has a small-order ephemeral key')
  }
  const k = boxKey(shared, epk, recipientX, input)
  try {
    return gcm(k, nonce).decrypt(box)
  } catch {
    throw new MismatchError('the content key was not sealed to this client and licence (or the box was altered)')
  }
}
