/**
 * The node's HTTP client for main: registration, rules (with ETag), keys,
 * catalog, manifests, origin chunks (signed ReelnetNode auth) and
 * heartbeats. Every response is size-bounded and shape-checked; every call
 * has a deadline.
 */
import { createHash } from 'node:crypto'
import { z } from 'zod'
import { signNodeAuth } from '../../protocol/node-auth.ts'
import { fromBase64url } from '../../protocol/encoding.ts'
import { fromText } from '../../protocol/signing.ts'
import { MAX_DOCUMENT_BYTES, PUBLIC_KEY_BYTES } from '../../protocol/limits.ts'
import type { Signer } from '../../protocol/keys.ts'
import { MAX_WIRE_CHUNK_BYTES } from '../../protocol/wire/limits.ts'

/** A call to main that takes longer than this has failed (origin chunks get longer: they carry a MiB or more). */
export const MAIN_TIMEOUT_MS = 10_000
export const ORIGIN_CHUNK_TIMEOUT_MS = 30_000
/** JSON answers from main are small, except rules and manifests (base64url text, 4/3 of the bytes). */
export const MAX_JSON_RESPONSE_BYTES = Math.ceil(MAX_DOCUMENT_BYTES.manifest * 4 / 3) + 64 * 1024
/** A heartbeat's admittedPeers list: bounded so a confused main cannot blow up the gater. */
export const MAX_ADMITTED_PEERS = 100_000

export class MainHttpError extends Error {
  name = 'MainHttpError'
  constructor (message: string, readonly status: number, readonly code: string) { super(message) }
}

export interface CatalogEntry { itemId: string, title: string, size: number, chunkSize: number, chunkCount: number }
export interface MainKey { keyId: string, publicKey: Uint8Array, alg: string }
export type RulesAnswer = { notModified: true } | { notModified: false, etag: string | undefined, version: number, bytes: Uint8Array }
export interface HeartbeatAnswer { ok: boolean, rulesVersion: number, admittedPeers: string[] }

export interface MainClientOptions {
  url: string
  operatorToken?: string
  /** The node's PeerId and signer: needed for origin chunks. */
  peerId?: string
  signer?: Signer
  now?: () => number
}

interface CallOptions { signal?: AbortSignal }

const CatalogSchema = z.object({
  items: z.array(z.object({
    itemId: z.string().max(128),
    title: z.string().max(512),
    size: z.number().int().nonnegative(),
    chunkSize: z.number().int().positive(),
    chunkCount: z.number().int().nonnegative()
  }).loose()).max(1_000_000)
}).loose()
const RulesSchema = z.object({ version: z.number().int().nonnegative(), rules: z.string().max(Math.ceil(MAX_DOCUMENT_BYTES.rules * 4 / 3) + 4) }).loose()
const RevocationsSchema = z.object({ version: z.number().int().nonnegative(), revocations: z.string().max(Math.ceil(MAX_DOCUMENT_BYTES.revocations * 4 / 3) + 4) }).loose()
const KeysSchema = z.object({ keys: z.array(z.object({ keyId: z.string().max(128), publicKey: z.string().max(64), alg: z.string().max(32) }).loose()).max(64) }).loose()
const ItemSchema = z.object({ itemId: z.string(), manifest: z.string() }).loose()
const HeartbeatSchema = z.object({
  ok: z.boolean(),
  rulesVersion: z.number().int().nonnegative(),
  admittedPeers: z.array(z.string().max(128)).max(MAX_ADMITTED_PEERS).default([])
}).loose()
const ReportSchema = z.object({ quarantined: z.boolean(), reporters: z.number().int().nonnegative() }).loose()
const RegisterSchema = z.object({ node: z.unknown(), rulesVersion: z.number().int().nonnegative() }).loose()

function deadline (ms: number, signal?: AbortSignal): AbortSignal {
  return signal === undefined ? AbortSignal.timeout(ms) : AbortSignal.any([signal, AbortSignal.timeout(ms)])
}

/** Read a body up to `max` bytes; a larger body is an error, not a truncation. */
async function readBounded (res: Response, max: number): Promise<Uint8Array> {
  const len = Number(res.headers.get('content-length') ?? NaN)
  if (Number.isFinite(len) && len > max) { await res.body?.cancel(); throw new MainHttpError(`response of ${len} bytes exceeds ${max}`, res.status, 'too_large') }
  if (res.body === null) return new Uint8Array(0)
  const parts: Uint8Array[] = []
  let total = 0
  for await (const part of res.body) {
    total += part.byteLength
    if (total > max) throw new MainHttpError(`response exceeds ${max} bytes`, res.status, 'too_large')
    parts.push(part)
  }
  return Buffer.concat(parts)
}

async function errorOf (res: Response, what: string): Promise<MainHttpError> {
  let code = `http_${res.status}`
  let message = `${what}: HTTP ${res.status}`
  try {
    const body = JSON.parse(Buffer.from(await readBounded(res, 16 * 1024)).toString('utf8')) as { error?: { code?: unknown, message?: unknown } }
    if (typeof body.error?.code === 'string') code = body.error.code
    if (typeof body.error?.message === 'string') message = `${what}: ${body.error.message}`
  } catch { /* not JSON */ }
  return new MainHttpError(message, res.status, code)
}

/** Connection failures undici reports when a kept-alive socket was closed by the other side. */
const SOCKET_FAILURES = new Set(['EPIPE', 'ECONNRESET', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])
/** Sends of one call after the first, when the connection failed under it. */
const SOCKET_RETRIES = 2

/**
 * fetch, sent again when the connection failed before an answer came. fetch reuses kept-alive sockets, and
 * main closes idle ones after 5 s: a request written as main closes the socket fails with EPIPE or ECONNRESET
 * although main never read it (seen in CI on a loaded machine: an edge's origin fetch failed with "fetch
 * failed" and the chunk had no other source). Every call here can be sent twice: reads, a registration that
 * updates, a heartbeat that main judges by its sequence number.
 */
export async function fetchRetrying (url: string, init: RequestInit = {}): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetch(url, init)
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code
      if (attempt >= SOCKET_RETRIES || !(err instanceof TypeError) || !SOCKET_FAILURES.has(code ?? '') || init.signal?.aborted === true) throw err
    }
  }
}

export type MainClient = ReturnType<typeof createMainClient>

export function createMainClient (opts: MainClientOptions) {
  const base = opts.url.replace(/\/+$/, '')
  const now = opts.now ?? Date.now

  async function json<T> (path: string, schema: z.ZodType<T>, init: RequestInit & CallOptions, what: string, timeoutMs = MAIN_TIMEOUT_MS): Promise<{ res: Response, body: T | undefined }> {
    const res = await fetchRetrying(base + path, { ...init, signal: deadline(timeoutMs, init.signal ?? undefined) })
    if (res.status === 304) return { res, body: undefined }
    if (!res.ok) throw await errorOf(res, what)
    const bytes = await readBounded(res, MAX_JSON_RESPONSE_BYTES)
    let parsed: unknown
    try { parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) } catch { throw new MainHttpError(`${what}: response is not JSON`, res.status, 'malformed') }
    const r = schema.safeParse(parsed)
    if (!r.success) throw new MainHttpError(`${what}: unexpected response shape: ${r.error.issues[0]?.message ?? ''}`, res.status, 'malformed')
    return { res, body: r.data }
  }

  return {
    url: base,

    async register (node: { peerId: string, role: 'parent' | 'edge', region: string, addrs: string[], capacityBytes: number, fastLane?: string }, o: CallOptions = {}) {
      if (opts.operatorToken === undefined) throw new TypeError('register needs an operator token')
      const { body } = await json('/v1/nodes', RegisterSchema, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.operatorToken}` },
        body: JSON.stringify(node),
        signal: o.signal
      }, 'register with main')
      return body!
    },

    async getRules (etag: string | undefined, o: CallOptions = {}): Promise<RulesAnswer> {
      const headers: Record<string, string> = {}
      if (etag !== undefined) headers['if-none-match'] = etag
      const { res, body } = await json('/v1/rules', RulesSchema, { headers, signal: o.signal }, 'fetch rules')
      if (body === undefined) return { notModified: true }
      return { notModified: false, etag: res.headers.get('etag') ?? undefined, version: body.version, bytes: fromText(body.rules, MAX_DOCUMENT_BYTES.rules) }
    },

    /** The signed revocation list (issue 14b), with an ETag as the rules. */
    async getRevocations (etag: string | undefined, o: CallOptions = {}): Promise<{ notModified: true } | { notModified: false, etag: string | undefined, bytes: Uint8Array }> {
      const headers: Record<string, string> = {}
      if (etag !== undefined) headers['if-none-match'] = etag
      const { res, body } = await json('/v1/revocations', RevocationsSchema, { headers, signal: o.signal }, 'fetch the revocation list')
      if (body === undefined) return { notModified: true }
      return { notModified: false, etag: res.headers.get('etag') ?? undefined, bytes: fromText(body.revocations, MAX_DOCUMENT_BYTES.revocations) }
    },

    async getKeys (o: CallOptions = {}): Promise<MainKey[]> {
      const { body } = await json('/v1/keys', KeysSchema, { signal: o.signal }, 'fetch main keys')
      return body!.keys.map(k => {
        const publicKey = fromBase64url(k.publicKey, PUBLIC_KEY_BYTES)
        if (publicKey.length !== PUBLIC_KEY_BYTES) throw new MainHttpError('main key is not 32 bytes', 200, 'malformed')
        return { keyId: k.keyId, publicKey, alg: k.alg }
      })
    },

    async getCatalog (o: CallOptions = {}): Promise<CatalogEntry[]> {
      const { body } = await json('/v1/catalog', CatalogSchema, { signal: o.signal }, 'fetch catalog')
      return body!.items.map(i => ({ itemId: i.itemId, title: i.title, size: i.size, chunkSize: i.chunkSize, chunkCount: i.chunkCount }))
    },

    /** The manifest envelope bytes (verify with verifyManifest); `version` asks for that one (issue 15), else the newest. */
    async getManifest (itemId: string, o: CallOptions & { version?: number } = {}): Promise<Uint8Array> {
      const q = o.version === undefined ? '' : `?version=${o.version}`
      const { body } = await json(`/v1/items/${encodeURIComponent(itemId)}${q}`, ItemSchema, { signal: o.signal }, `fetch manifest of ${itemId}${q}`)
      return fromText(body!.manifest, MAX_DOCUMENT_BYTES.manifest)
    },

    /** A chunk from main's origin: raw, unverified bytes. */
    async getOriginChunk (itemId: string, index: number, o: CallOptions = {}): Promise<Uint8Array> {
      if (opts.peerId === undefined || opts.signer === undefined) throw new TypeError('origin chunks need the node key')
      const path = `/v1/items/${encodeURIComponent(itemId)}/chunks/${index}`
      const auth = signNodeAuth(opts.peerId, 'GET', path, now(), m => opts.signer!.sign(m))
      const res = await fetchRetrying(base + path, { headers: { authorization: auth }, signal: deadline(ORIGIN_CHUNK_TIMEOUT_MS, o.signal) })
      if (!res.ok) throw await errorOf(res, `origin chunk ${itemId}#${index}`)
      return await readBounded(res, MAX_WIRE_CHUNK_BYTES)
    },

    /** Report a source that sent a bad chunk, signed by this node (the path carries the body's SHA-256). */
    async reportBadSource (r: { itemId: string, source: string, region: string, chunkIndex: number }, o: CallOptions = {}): Promise<{ quarantined: boolean, reporters: number }> {
      if (opts.peerId === undefined || opts.signer === undefined) throw new TypeError('reports need the node key')
      const body = JSON.stringify(r)
      const path = `/v1/reports?sha256=${createHash('sha256').update(body).digest('hex')}`
      const auth = signNodeAuth(opts.peerId, 'POST', path, now(), m => opts.signer!.sign(m))
      const { body: answer } = await json(path, ReportSchema, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body, signal: o.signal }, 'report a bad source')
      return answer!
    },

    async heartbeat (peerId: string, envelopeText: string, o: CallOptions = {}): Promise<HeartbeatAnswer> {
      const { body } = await json(`/v1/nodes/${encodeURIComponent(peerId)}/heartbeat`, HeartbeatSchema, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ heartbeat: envelopeText }),
        signal: o.signal
      }, 'heartbeat')
      return body!
    }
  }
}
