/**
 * The signed envelope every document travels in (protocol/README.md):
 * the dag-cbor map `{ t: DocType, k: keyId, b: body bytes, s: signature }`,
 * where s is Ed25519 over `"reelnet:" + t + ":v1\0"` followed by exactly the
 * bytes b. Verification checks the signature over the bytes received and only
 * then decodes them; the body must itself be canonical dag-cbor.
 */
import type { DocType } from './types.ts'
import { MalformedError, InvalidSignatureError, UnknownKeyError, WrongTypeError } from './errors.ts'
import { decode, encode, fromBase64url, toBase64url } from './encoding.ts'
import { fingerprint, verifySignature, type Ed25519Impl, type Signer } from './keys.ts'
import { MAX_DOCUMENT_BYTES, MAX_KEY_ID_LENGTH, SIGNATURE_BYTES } from './limits.ts'

export const DOC_TYPES: readonly DocType[] = ['rules', 'manifest', 'license', 'directive', 'heartbeat', 'revocations']

/** Which public key(s) may have signed: one pinned key, or a ring keyed by key id. */
export type TrustedKeys = Uint8Array | ReadonlyMap<string, Uint8Array>

export interface OpenOptions {
  /** Ed25519 implementation used to verify (default 'node'; both accept exactly the same inputs). */
  impl?: Ed25519Impl
}

export interface OpenedDocument {
  /** The decoded body, not yet checked against its schema (protocol/documents.ts does that). */
  body: unknown
  /** The key id that signed it. */
  keyId: string
  /** The exact body bytes the signature covers. */
  bodyBytes: Uint8Array
}

const encoder = new TextEncoder()
const tags = new Map<DocType, Uint8Array>(DOC_TYPES.map(t => [t, encoder.encode(`reelnet:${t}:v1\0`)]))

/** The domain-separation prefix of a type: a signature for one type never verifies as another. */
export function domainTag (type: DocType): Uint8Array {
  const tag = tags.get(type)
  if (tag === undefined) throw new TypeError(`unknown document type '${String(type)}'`)
  return tag
}

function signedMessage (type: DocType, body: Uint8Array): Uint8Array {
  const tag = domainTag(type)
  const msg = new Uint8Array(tag.length + body.length)
  msg.set(tag, 0)
  msg.set(body, tag.length)
  return msg
}

/** Encode body canonically, sign it under type's domain tag, and return the envelope bytes. */
export function signDocument (type: DocType, body: object, signer: Signer): Uint8Array {
  domainTag(type)
  const max = MAX_DOCUMENT_BYTES[type]
  const b = encode(body, max)
  const s = signer.sign(signedMessage(type, b))
  return encode({ t: type, k: signer.keyId, b, s }, max)
}

interface Envelope { t: DocType, k: string, b: Uint8Array, s: Uint8Array }

function isDocType (t: unknown): t is DocType {
  return typeof t === 'string' && (DOC_TYPES as readonly string[]).includes(t)
}

/** Decode and shape-check an envelope without verifying it (any type, size bound of the largest). */
export function readEnvelope (bytes: Uint8Array, maxBytes: number = MAX_DOCUMENT_BYTES.manifest): Envelope {
  const env = decode(bytes, { maxBytes })
  if (env === null || typeof env !== 'object' || Array.isArray(env) || env instanceof Uint8Array) {
    throw new MalformedError('envelope is not a map')
  }
  const keys = Object.keys(env).sort().join(',')
  if (keys !== 'b,k,s,t') throw new MalformedError(`envelope must have exactly the fields b, k, s, t (has ${keys.slice(0, 64)})`)
  const { t, k, b, s } = env as Record<string, unknown>
  if (!isDocType(t)) throw new MalformedError('envelope type is not a known document type')
  if (typeof k !== 'string' || k.length === 0 || k.length > MAX_KEY_ID_LENGTH) throw new MalformedError('envelope key id is not a short string')
  if (!(b instanceof Uint8Array)) throw new MalformedError('envelope body is not bytes')
  if (!(s instanceof Uint8Array) || s.length !== SIGNATURE_BYTES) throw new MalformedError(`envelope signature is not ${SIGNATURE_BYTES} bytes`)
  return { t, k, b, s }
}

function keyFor (keys: TrustedKeys, keyId: string): Uint8Array {
  if (keys instanceof Uint8Array) {
    if (fingerprint(keys) !== keyId) throw new UnknownKeyError(`signed by ${keyId}, expected ${fingerprint(keys)}`)
    return keys
  }
  const key = keys.get(keyId)
  if (key === undefined) throw new UnknownKeyError(`signed by unknown key ${keyId}`)
  return key
}

/**
 * Open an envelope of the expected type: bounded decode, type check
 * (WrongTypeError), key lookup (UnknownKeyError), signature over the exact
 * received body bytes (InvalidSignatureError), then a canonical decode of the
 * body (MalformedError). Returns the body unchecked against its schema.
 */
export function openDocument (type: DocType, bytes: Uint8Array, keys: TrustedKeys, opts: OpenOptions = {}): OpenedDocument {
  domainTag(type)
  const env = readEnvelope(bytes, MAX_DOCUMENT_BYTES[type])
  if (env.t !== type) throw new WrongTypeError(`expected a ${type} document, got ${env.t}`)
  const publicKey = keyFor(keys, env.k)
  if (!verifySignature(publicKey, signedMessage(type, env.b), env.s, opts.impl ?? 'node')) {
    throw new InvalidSignatureError(`bad signature on ${type} document by ${env.k}`)
  }
  const body = decode(env.b, { maxBytes: MAX_DOCUMENT_BYTES[type] })
  return { body, keyId: env.k, bodyBytes: env.b }
}

/** An envelope as text (unpadded base64url), for HTTP bodies and files. */
export function toText (bytes: Uint8Array): string {
  return toBase64url(bytes)
}

/** Envelope bytes from base64url text; strict, bounded by the largest document. */
export function fromText (text: string, maxBytes: number = MAX_DOCUMENT_BYTES.manifest): Uint8Array {
  return fromBase64url(text, maxBytes)
}
