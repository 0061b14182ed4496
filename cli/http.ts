/**
 * The CLI's one way to talk to main: fetch with a deadline, JSON in and
 * out, and every failure turned into a one-line CommandError the user can
 * act on ("main unreachable at URL", "login refused: …").
 */
import { CommandError } from './command.ts'

/** Where `reelnet main` listens by default, and where the clients look unless told. */
export const DEFAULT_MAIN_URL = 'http://127.0.0.1:8640'
/** A JSON call to main that takes longer than this has failed (main answers in milliseconds; login hashing takes well under a second). */
export const HTTP_TIMEOUT_MS = 30_000
/**
 * Sign-up and log-in wait for a password hash: main runs two at a time (128 MiB each), so on a busy main a
 * request may queue behind others for longer than an ordinary call should take.
 */
export const PASSWORD_CALL_TIMEOUT_MS = 120_000
/** An answer larger than this is not one of main's JSON answers. */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024

export interface CallOptions {
  json?: unknown
  body?: RequestInit['body']
  token?: string
  headers?: Record<string, string>
  timeoutMs?: number
  signal?: AbortSignal
  /** What the call does, for error messages ("log in", "rent x"). */
  what?: string
}

/** Check and normalise a main URL given by the user. */
export function mainUrlOf (url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new CommandError(`'${url}' is not a URL (expected e.g. ${DEFAULT_MAIN_URL})`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CommandError(`main URL must be http(s), got '${url}'`)
  return u.origin + u.pathname.replace(/\/+$/, '')
}

function networkError (err: unknown, mainUrl: string, timeoutMs: number): CommandError {
  const e = err as Error & { cause?: { code?: string } }
  if (e.name === 'TimeoutError') return new CommandError(`main at ${mainUrl} did not answer within ${Math.round(timeoutMs / 1000)} s`)
  if (e.name === 'AbortError') return new CommandError('cancelled')
  const code = e.cause?.code
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ECONNRESET' || code === 'EAI_AGAIN') {
    return new CommandError(`main unreachable at ${mainUrl} (${code})`)
  }
  return new CommandError(`main unreachable at ${mainUrl}: ${e.cause !== undefined ? String((e.cause as Error).message ?? e.cause) : e.message}`)
}

/** Call main and return its parsed JSON answer; any refusal becomes a CommandError with main's own message. */
export async function callMain<T = unknown> (mainUrl: string, method: string, path: string, o: CallOptions = {}): Promise<T> {
  const timeoutMs = o.timeoutMs ?? HTTP_TIMEOUT_MS
  const headers: Record<string, string> = { accept: 'application/json', ...o.headers }
  let body = o.body
  if (o.json !== undefined) {
    body = JSON.stringify(o.json)
    headers['content-type'] = 'application/json'
  }
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`
  const signals = [AbortSignal.timeout(timeoutMs)]
  if (o.signal !== undefined) signals.push(o.signal)
  const init: RequestInit & { duplex?: 'half' } = { method, headers, body, signal: AbortSignal.any(signals) }
  if (body instanceof ReadableStream) init.duplex = 'half'
  let res: Response
  let text: string
  try {
    res = await fetch(mainUrl + path, init)
    const len = Number(res.headers.get('content-length') ?? NaN)
    if (len > MAX_ANSWER_BYTES) {
      await res.body?.cancel()
      throw new CommandError(`main's answer is ${len} bytes, more than expected`)
    }
    text = await res.text()
  } catch (err) {
    if (err instanceof CommandError) throw err
    throw networkError(err, mainUrl, timeoutMs)
  }
  let parsed: unknown
  try {
    parsed = text === '' ? undefined : JSON.parse(text)
  } catch {
    throw new CommandError(`${o.what ?? `${method} ${path}`}: main answered HTTP ${res.status} with something that is not JSON — is ${mainUrl} a reelnet main?`)
  }
  if (!res.ok) {
    const msg = (parsed as { error?: { message?: unknown } } | undefined)?.error?.message
    const detail = typeof msg === 'string' ? msg.slice(0, 300) : `HTTP ${res.status}`
    throw new CommandError(`${o.what ?? `${method} ${path}`} refused: ${detail} (HTTP ${res.status})`)
  }
  return parsed as T
}
