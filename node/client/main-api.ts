/**
 * The customer's calls to main (a session's Bearer token): manifest, rental,
 * directive, holdings. Every answer is size-bounded, shape-checked, and
 * every signed document in it verified against the pinned main key before
 * anything uses it.
 */
import { z } from 'zod'
import { fromText } from '../../protocol/signing.ts'
import { verifyDirective, verifyLicense, verifyManifest, verifyRules } from '../../protocol/documents.ts'
import { MAX_DOCUMENT_BYTES } from '../../protocol/limits.ts'
import type { Directive, License, Manifest } from '../../protocol/types.ts'
import { MainApiError } from './errors.ts'
import { createHash } from 'node:crypto'
import { signNodeAuth } from '../../protocol/node-auth.ts'
import type { Signer } from '../../protocol/keys.ts'
import { parseSealedBox, type SealedBox } from '../../protocol/seal.ts'

/** A call to main that takes longer than this has failed. */
export const MAIN_CALL_TIMEOUT_MS = 15_000
/** Network failures (not HTTP errors) are retried this many times in all. */
export const MAIN_CALL_ATTEMPTS = 3
/** Answers carry at most one manifest (base64url, 4/3 of its bytes) plus a little JSON. */
export const MAX_ANSWER_BYTES = Math.ceil(MAX_DOCUMENT_BYTES.manifest * 4 / 3) + 64 * 1024

export interface MainApiOptions {
  url: string
  token: string
  /** The pinned main public key: every document is verified against it. */
  mainKey: Uint8Array
  now?: () => number
}

export interface Rental { licenseId: string, license: License, licenseBytes: Uint8Array, expiresAt: number }
export interface IssuedDirective {
  directive: Directive
  bytes: Uint8Array
  expiresAt: number
  /** When the directive names no peer: main's reason (unsigned; for the message only). */
  unserved?: string
  /** An encrypted item's content key, sealed to this client (protocol/seal.ts). */
  contentKey?: SealedBox
}

/** main's reason for an empty directive is one line; longer is cut. */
export const MAX_UNSERVED_REASON = 300

const ItemAnswer = z.object({ manifest: z.string().max(MAX_ANSWER_BYTES) }).loose()
const RentalAnswer = z.object({ licenseId: z.string().max(128), license: z.string().max(16 * 1024), expiresAt: z.number() }).loose()
const RulesAnswer = z.object({ rules: z.string() }).loose()
const RevocationsAnswer = z.object({ version: z.number().int().nonnegative(), revocations: z.string().max(Math.ceil(MAX_DOCUMENT_BYTES.revocations * 4 / 3) + 4) }).loose()
const DirectiveAnswer = z.object({ directive: z.string().max(Math.ceil(MAX_DOCUMENT_BYTES.directive * 4 / 3) + 8), expiresAt: z.number(), unserved: z.string().optional(), contentKey: z.unknown().optional() }).loose()
const HoldingAnswer = z.object({ ok: z.boolean() }).loose()

export class MainApi {
  readonly url: string
  private readonly opts: MainApiOptions
  private readonly now: () => number

  constructor (opts: MainApiOptions) {
    this.url = opts.url.replace(/\/+$/, '')
    this.opts = opts
    this.now = opts.now ?? Date.now
  }

  /** The newest manifest, or `o.version`'s (issue 15). */
  async manifest (itemId: string, o: { signal?: AbortSignal, version?: number } = {}): Promise<{ manifest: Manifest, bytes: Uint8Array }> {
    const q = o.version === undefined ? '' : `?version=${o.version}`
    const body = await this.call('GET', `/v1/items/${encodeURIComponent(itemId)}${q}`, undefined, ItemAnswer, `fetch the manifest of ${itemId}`, o.signal)
    const bytes = fromText(body.manifest, MAX_DOCUMENT_BYTES.manifest)
    return { manifest: verifyManifest(bytes, { publicKey: this.opts.mainKey, itemId } as Parameters<typeof verifyManifest>[1]), bytes }
  }

  async rent (itemId: string, o: { signal?: AbortSignal } = {}): Promise<Rental> {
    const body = await this.call('POST', '/v1/rentals', { itemId }, RentalAnswer, `rent ${itemId}`, o.signal)
    const licenseBytes = fromText(body.license, MAX_DOCUMENT_BYTES.license)
    const license = verifyLicense(licenseBytes, { publicKey: this.opts.mainKey, now: this.now(), itemId } as Parameters<typeof verifyLicense>[1])
    return { licenseId: license.licenseId, license, licenseBytes, expiresAt: license.expiresAt }
  }

  /** `itemVersion`: continue a download on that version (main grants it while live, else names the newest). */
  async directive (req: { licenseId: string, itemId: string, clientPeerId: string, region?: string, itemVersion?: number }, o: { signal?: AbortSignal } = {}): Promise<IssuedDirective> {
    const body = await this.call('POST', '/v1/directives', { licenseId: req.licenseId, clientPeerId: req.clientPeerId, ...(req.region !== undefined ? { region: req.region } : {}), ...(req.itemVersion !== undefined ? { itemVersion: req.itemVersion } : {}) }, DirectiveAnswer, 'ask main for a directive', o.signal)
    const bytes = fromText(body.directive, MAX_DOCUMENT_BYTES.directive)
    const directive = verifyDirective(bytes, { publicKey: this.opts.mainKey, now: this.now(), clientPeerId: req.clientPeerId, itemId: req.itemId, licenseId: req.licenseId } as Parameters<typeof verifyDirective>[1])
    const unserved = body.unserved === undefined ? undefined : body.unserved.slice(0, MAX_UNSERVED_REASON).replace(/[\x00-\x1f\x7f]/g, ' ')
    let contentKey: SealedBox | undefined
    if (body.contentKey !== undefined) {
      try { contentKey = parseSealedBox(body.contentKey) } catch (err) { throw new MainApiError(`ask main for a directive: the content key is malformed (${(err as Error).message})`, 200, 'malformed') }
    }
    return { directive, bytes, expiresAt: directive.expiresAt, ...(unserved === undefined ? {} : { unserved }), ...(contentKey === undefined ? {} : { contentKey }) }
  }

  /**
   * Tell main a source sent a bad chunk, signed with this client's own key (the one its directive names):
   * the ReelnetNode authorization over the path, which carries the body's SHA-256.
   */
  async reportBadSource (r: { itemId: string, source: string, region: string, chunkIndex: number }, signer: Signer & { peerId: string }, o: { signal?: AbortSignal } = {}): Promise<{ quarantined: boolean, reporters: number }> {
    const body = JSON.stringify(r)
    const path = `/v1/reports?sha256=${createHash('sha256').update(body).digest('hex')}`
    const authorization = signNodeAuth(signer.peerId, 'POST', path, this.now(), m => signer.sign(m))
    const deadline = AbortSignal.timeout(MAIN_CALL_TIMEOUT_MS)
    const res = await fetch(this.url + path, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body, signal: o.signal === undefined ? deadline : AbortSignal.any([o.signal, deadline]) })
    const text = await res.text()
    if (!res.ok) throw new MainApiError(`report a bad source refused: HTTP ${res.status} ${text.slice(0, 200)}`, res.status)
    return JSON.parse(text) as { quarantined: boolean, reporters: number }
  }

  /** The signed revocation list (issue 14b), with an ETag; verified by the caller (node/control/revocations.ts). */
  async revocations (etag: string | undefined, o: { signal?: AbortSignal } = {}): Promise<{ notModified: true } | { notModified: false, etag: string | undefined, bytes: Uint8Array }> {
    const deadline = AbortSignal.timeout(MAIN_CALL_TIMEOUT_MS)
    let res: Response
    try {
      res = await fetch(this.url + '/v1/revocations', { headers: etag !== undefined ? { 'if-none-match': etag } : {}, signal: o.signal === undefined ? deadline : AbortSignal.any([o.signal, deadline]) })
    } catch (err) {
      throw new MainApiError(`fetch the revocation list: main at ${this.url} is unreachable (${(err as Error).message})`, 0, 'unreachable')
    }
    if (res.status === 304) { await res.body?.cancel(); return { notModified: true } }
    const text = await readBounded(res, Math.ceil(MAX_DOCUMENT_BYTES.revocations * 4 / 3) + 1024, 'fetch the revocation list')
    if (!res.ok) throw new MainApiError(`fetch the revocation list: HTTP ${res.status}`, res.status)
    const r = RevocationsAnswer.safeParse((() => { try { return JSON.parse(text) } catch { return undefined } })())
    if (!r.success) throw new MainApiError('fetch the revocation list: unexpected answer shape', res.status, 'malformed')
    return { notModified: false, etag: res.headers.get('etag') ?? undefined, bytes: fromText(r.data.revocations, MAX_DOCUMENT_BYTES.revocations) }
  }

  async reportHolding (h: { licenseId: string, peerId: string, addrs: string[], region: string, complete: boolean, fastLane?: string }, o: { signal?: AbortSignal } = {}): Promise<void> {
    await this.call('POST', '/v1/holdings', h, HoldingAnswer, 'report holdings to main', o.signal)
  }

  /**
   * The taken-down itemIds of main's current signed rules (issue 15), verified against the pinned key; with the
   * ETag of the last answer, `undefined` when they have not changed. A seeding client asks this to stop serving an
   * item as soon as nodes do.
   */
  async removedItems (etag: string | undefined, o: { signal?: AbortSignal } = {}): Promise<{ etag: string | undefined, removed: string[] } | undefined> {
    const res = await fetch(this.url + '/v1/rules', {
      headers: etag !== undefined ? { 'if-none-match': etag } : {},
      signal: o.signal === undefined ? AbortSignal.timeout(MAIN_CALL_TIMEOUT_MS) : AbortSignal.any([o.signal, AbortSignal.timeout(MAIN_CALL_TIMEOUT_MS)])
    })
    if (res.status === 304) { await res.body?.cancel(); return undefined }
    const text = await readBounded(res, Math.ceil(MAX_DOCUMENT_BYTES.rules * 4 / 3) + 1024, 'fetch the rules')
    if (!res.ok) throw new MainApiError(`fetch the rules: HTTP ${res.status}`, res.status)
    const body = RulesAnswer.safeParse(JSON.parse(text))
    if (!body.success) throw new MainApiError('fetch the rules: unexpected answer shape', res.status, 'malformed')
    const rules = verifyRules(fromText(body.data.rules, MAX_DOCUMENT_BYTES.rules), { publicKey: this.opts.mainKey, now: this.now() })
    return { etag: res.headers.get('etag') ?? undefined, removed: rules.removed ?? [] }
  }

  private async call<T> (method: string, path: string, json: unknown, schema: z.ZodType<T>, what: string, signal?: AbortSignal): Promise<T> {
    const deadline = AbortSignal.timeout(MAIN_CALL_TIMEOUT_MS)
    let res: Response | undefined
    for (let attempt = 1; res === undefined; attempt++) {
      try {
        res = await fetch(this.url + path, {
          method,
          headers: { authorization: `Bearer ${this.opts.token}`, ...(json !== undefined ? { 'content-type': 'application/json' } : {}) },
          body: json !== undefined ? JSON.stringify(json) : undefined,
          signal: signal === undefined ? deadline : AbortSignal.any([signal, deadline])
        })
      } catch (err) {
        // a kept-alive socket that main closed meanwhile fails at once: every call here is safe to repeat
        if (attempt < MAIN_CALL_ATTEMPTS && signal?.aborted !== true && !deadline.aborted) {
          await new Promise(resolve => setTimeout(resolve, 200 * attempt))
          continue
        }
        // a main that is up but slow (300 customers starting at once) is not "unreachable": say which it was
        if (deadline.aborted && signal?.aborted !== true) throw new MainApiError(`${what}: main at ${this.url} did not answer within ${MAIN_CALL_TIMEOUT_MS / 1000} s`, 0, 'timeout')
        const cause = (err as Error & { cause?: Error }).cause
        throw new MainApiError(`${what}: main at ${this.url} is unreachable (${(err as Error).message}${cause !== undefined ? `: ${cause.message}` : ''})`, 0, 'unreachable')
      }
    }
    const text = await readBounded(res, MAX_ANSWER_BYTES, what)
    let parsed: unknown
    try { parsed = JSON.parse(text) } catch { throw new MainApiError(`${what}: HTTP ${res.status}, not JSON`, res.status) }
    if (!res.ok) {
      const e = (parsed as { error?: { code?: unknown, message?: unknown } })?.error
      const message = typeof e?.message === 'string' ? e.message : `HTTP ${res.status}`
      throw new MainApiError(`${what}: ${message}`, res.status, typeof e?.code === 'string' ? e.code : undefined)
    }
    const r = schema.safeParse(parsed)
    if (!r.success) throw new MainApiError(`${what}: unexpected answer shape`, res.status, 'malformed')
    return r.data
  }
}

async function readBounded (res: Response, max: number, what: string): Promise<string> {
  const len = Number(res.headers.get('content-length') ?? NaN)
  if (Number.isFinite(len) && len > max) { await res.body?.cancel(); throw new MainApiError(`${what}: answer too large`, res.status, 'too_large') }
  if (res.body === null) return ''
  const parts: Uint8Array[] = []
  let total = 0
  for await (const part of res.body) {
    total += part.byteLength
    if (total > max) throw new MainApiError(`${what}: answer too large`, res.status, 'too_large')
    parts.push(part)
  }
  return Buffer.concat(parts).toString('utf8')
}
