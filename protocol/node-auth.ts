/**
 * Node auth: how a registered node (parent or edge) proves itself on an
 * HTTP request to main, e.g. when fetching origin chunks. The node signs,
 * with its libp2p Ed25519 key, the method, the path with its query, and a
 * timestamp; the verifier takes the public key from the PeerId itself and
 * refuses a timestamp further than the allowed clock skew from its own
 * clock. Header form:
 *
 *   Authorization: ReelnetNode peerId=<peerId>,ts=<ms>,sig=<base64url>
 *
 * Pure: the caller passes `now` and chooses the signer.
 */
import { MalformedError, ExpiredError, InvalidSignatureError } from './errors.ts'
import { fromBase64url, toBase64url } from './encoding.ts'
import { publicKeyOfPeerId, verifySignature, type Ed25519Impl } from './keys.ts'
import { MAX_PEER_ID_LENGTH, SIGNATURE_BYTES, CLOCK_SKEW_MS } from './limits.ts'

export const NODE_AUTH_SCHEME = 'ReelnetNode'
/** Domain separation: these bytes can never be mistaken for a signed document or another protocol's message. */
export const NODE_AUTH_TAG = 'reelnet:node-auth:v1\0'
/** A header longer than this is malformed before any parsing: scheme + PeerId + 13-digit ts + 86-char signature fit in ~250. */
export const MAX_NODE_AUTH_HEADER_LENGTH = 512
/** A path (with query) longer than this is not one of main's routes. */
export const MAX_NODE_AUTH_PATH_LENGTH = 2048

export interface NodeAuth {
  peerId: string
  /** Milliseconds since the epoch when the node signed. */
  ts: number
  /** 64-byte Ed25519 signature over nodeAuthMessage(method, path, ts). */
  sig: Uint8Array
}

const encoder = new TextEncoder()

/** The exact bytes a node signs for one request. */
export function nodeAuthMessage (method: string, pathWithQuery: string, ts: number): Uint8Array {
  if (typeof method !== 'string' || !/^[A-Z]{1,16}$/.test(method)) throw new TypeError('method must be an upper-case HTTP method')
  if (typeof pathWithQuery !== 'string' || !pathWithQuery.startsWith('/') || pathWithQuery.length > MAX_NODE_AUTH_PATH_LENGTH) {
    throw new TypeError('path must start with / and be at most ' + MAX_NODE_AUTH_PATH_LENGTH + ' characters')
  }
  if (!Number.isSafeInteger(ts) || ts < 0) throw new TypeError('ts must be a non-negative integer (ms)')
  return encoder.encode(`${NODE_AUTH_TAG}${method} ${pathWithQuery}\n${ts}`)
}

export function formatNodeAuth (auth: NodeAuth): string {
  return `${NODE_AUTH_SCHEME} peerId=${auth.peerId},ts=${auth.ts},sig=${toBase64url(auth.sig)}`
}

const HEADER_RE = /^ReelnetNode peerId=([1-9A-HJ-NP-Za-km-z]+),ts=(\d{1,16}),sig=([A-Za-z0-9_-]+)$/

/** Parse the header; MalformedError for anything that is not exactly the form above. */
export function parseNodeAuth (header: string | undefined | null): NodeAuth {
  if (typeof header !== 'string' || header.length === 0) throw new MalformedError('missing node authorization')
  if (header.length > MAX_NODE_AUTH_HEADER_LENGTH) throw new MalformedError('node authorization header too long')
  const m = HEADER_RE.exec(header)
  if (m === null) throw new MalformedError(`node authorization must look like '${NODE_AUTH_SCHEME} peerId=…,ts=…,sig=…'`)
  const peerId = m[1]!
  if (peerId.length > MAX_PEER_ID_LENGTH) throw new MalformedError('peerId too long')
  const ts = Number(m[2])
  if (!Number.isSafeInteger(ts)) throw new MalformedError('ts out of range')
  const sig = fromBase64url(m[3]!, SIGNATURE_BYTES)
  if (sig.length !== SIGNATURE_BYTES) throw new MalformedError(`sig must be ${SIGNATURE_BYTES} bytes`)
  return { peerId, ts, sig }
}

/** Sign a request as a node: `sign` is the node's Ed25519 signer over raw bytes. */
export function signNodeAuth (peerId: string, method: string, pathWithQuery: string, ts: number, sign: (msg: Uint8Array) => Uint8Array): string {
  return formatNodeAuth({ peerId, ts, sig: sign(nodeAuthMessage(method, pathWithQuery, ts)) })
}

export interface VerifyNodeAuthOptions {
  method: string
  pathWithQuery: string
  now: number
  /** Default CLOCK_SKEW_MS. */
  maxSkewMs?: number
  impl?: Ed25519Impl
}

/**
 * Check a parsed header: fresh timestamp (ExpiredError otherwise), an
 * Ed25519 PeerId (MalformedError), a signature by that PeerId's key over
 * this request (InvalidSignatureError). Returns the authenticated PeerId.
 */
export function verifyNodeAuth (auth: NodeAuth, opts: VerifyNodeAuthOptions): string {
  const skew = opts.maxSkewMs ?? CLOCK_SKEW_MS
  if (Math.abs(opts.now - auth.ts) > skew) throw new ExpiredError('node authorization timestamp outside the allowed clock skew')
  const publicKey = publicKeyOfPeerId(auth.peerId)
  const msg = nodeAuthMessage(opts.method, opts.pathWithQuery, auth.ts)
  if (!verifySignature(publicKey, msg, auth.sig, opts.impl)) throw new InvalidSignatureError('node authorization signature does not verify')
  return auth.peerId
}
