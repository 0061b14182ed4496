/**
 * The one place that turns errors into HTTP answers: every refusal main
 * makes is an ApiError with a status and a stable code, sent as
 * `{error: {code, message}}`; protocol/ errors map by their `name`.
 */
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

export class ApiError extends Error {
  name = 'ApiError'
  readonly status: ContentfulStatusCode
  readonly code: string
  readonly headers: Record<string, string>
  constructor (status: ContentfulStatusCode, code: string, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.status = status
    this.code = code
    this.headers = headers
  }
}

export const badRequest = (message: string): ApiError => new ApiError(400, 'bad_request', message)
export const invalid = (message: string): ApiError => new ApiError(422, 'invalid', message)
export const unauthorized = (message: string): ApiError => new ApiError(401, 'unauthorized', message, { 'WWW-Authenticate': 'Bearer' })
export const forbidden = (message: string): ApiError => new ApiError(403, 'forbidden', message)
export const notFound = (message: string): ApiError => new ApiError(404, 'not_found', message)
export const conflict = (message: string): ApiError => new ApiError(409, 'conflict', message)
export const tooLarge = (message: string): ApiError => new ApiError(413, 'too_large', message)
export const tooManyRequests = (message: string, retryAfterS: number): ApiError =>
  new ApiError(429, 'rate_limited', message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterS))) })

/** protocol/ error name → HTTP status: a bad document from a caller is its fault (4xx), never a 500. */
const PROTOCOL_STATUS: Record<string, ContentfulStatusCode> = {
  MalformedError: 400,
  TooLargeError: 413,
  InvalidSignatureError: 401,
  WrongTypeError: 400,
  ExpiredError: 401,
  NotYetValidError: 401,
  OlderVersionError: 409,
  UnknownKeyError: 401,
  MismatchError: 403,
  ChunkHashMismatchError: 400,
  HasherBusyError: 503
}

export interface ErrorBody { error: { code: string, message: string } }

/** Map any thrown value to status, headers and body. Unknown errors are 500 with a generic message (details go to the log, not the caller). */
export function toErrorResponse (err: unknown): { status: ContentfulStatusCode, headers: Record<string, string>, body: ErrorBody, internal: boolean } {
  if (err instanceof ApiError) {
    return { status: err.status, headers: err.headers, body: { error: { code: err.code, message: err.message } }, internal: false }
  }
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode
    const code = status === 413 ? 'too_large' : status === 400 ? 'bad_request' : status === 401 ? 'unauthorized' : 'http_error'
    return { status, headers: {}, body: { error: { code, message: err.message || 'request refused' } }, internal: false }
  }
  const e = err as { name?: string, code?: unknown, message?: string }
  const status = e?.name !== undefined ? PROTOCOL_STATUS[e.name] : undefined
  if (status !== undefined) {
    const code = typeof e.code === 'string' ? e.code : status === 503 ? 'busy' : 'protocol_error'
    return { status, headers: {}, body: { error: { code, message: e.message ?? code } }, internal: false }
  }
  return { status: 500, headers: {}, body: { error: { code: 'internal', message: 'internal error' } }, internal: true }
}
