/**
 * Who is calling: the admin or operator (bearer tokens from the config),
 * a customer (a session token), or a registered node (a ReelnetNode
 * signature by its libp2p key). Each check is a middleware factory; a
 * missing or unknown credential is 401, a valid one of the wrong kind 403.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import { parseNodeAuth, verifyNodeAuth } from '../protocol/node-auth.ts'
import { unauthorized, forbidden } from './errors.ts'
import type { Accounts } from './accounts.ts'
import type { Registry } from './registry.ts'
import { MAX_CLOCK_SKEW_MS } from './limits.ts'

export interface MainEnv {
  Variables: {
    accountId: string
    nodePeerId: string
  }
}

/** A bearer token longer than this is not one main issued: refuse before hashing. */
export const MAX_BEARER_LENGTH = 256

export function bearerOf (header: string | undefined): string | undefined {
  if (header === undefined || header.length > MAX_BEARER_LENGTH + 7) return undefined
  const m = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header)
  return m?.[1]
}

function digest (s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

/** Constant-time equality of two secrets of any length (compared as SHA-256 digests). */
export function secretEquals (a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b))
}

export interface Credentials {
  adminToken: string
  operatorToken: string
  accounts: Accounts
}

/** Admin routes: the admin token; operator token or a session → 403; anything else 401. */
export function requireAdmin (creds: Credentials): MiddlewareHandler<MainEnv> {
  return async function requireAdminToken (c, next) {
    const token = bearerOf(c.req.header('authorization'))
    if (token === undefined) throw unauthorized('admin token required (Authorization: Bearer …)')
    if (secretEquals(token, creds.adminToken)) return await next()
    if (secretEquals(token, creds.operatorToken) || await creds.accounts.session(token) !== undefined) throw forbidden('this needs the admin token')
    throw unauthorized('invalid admin token')
  }
}

/** Operator routes: the operator token (or the admin token, which may do everything); a session → 403. */
export function requireOperator (creds: Credentials): MiddlewareHandler<MainEnv> {
  return async function requireOperatorToken (c, next) {
    const token = bearerOf(c.req.header('authorization'))
    if (token === undefined) throw unauthorized('operator token required (Authorization: Bearer …)')
    if (secretEquals(token, creds.operatorToken) || secretEquals(token, creds.adminToken)) return await next()
    if (await creds.accounts.session(token) !== undefined) throw forbidden('this needs the operator token')
    throw unauthorized('invalid operator token')
  }
}

/** Customer routes: a live session; sets `accountId`. */
export function requireSession (creds: Credentials): MiddlewareHandler<MainEnv> {
  return async function requireCustomerSession (c, next) {
    const token = bearerOf(c.req.header('authorization'))
    if (token === undefined) throw unauthorized('log in first (Authorization: Bearer <session token>)')
    const session = await creds.accounts.session(token)
    if (session === undefined) {
      if (secretEquals(token, creds.adminToken) || secretEquals(token, creds.operatorToken)) throw forbidden('this needs a customer session, not an admin or operator token')
      const revoked = await creds.accounts.revokedReason(token)
      if (revoked !== undefined) throw revoked
      throw unauthorized('session unknown or expired; log in again')
    }
    c.set('accountId', session.accountId)
    await next()
  }
}

/** Node routes: a ReelnetNode signature by a registered parent or edge; sets `nodePeerId`. */
export function requireNode (registry: Registry, now: () => number): MiddlewareHandler<MainEnv> {
  return async function requireRegisteredNode (c, next) {
    const header = c.req.header('authorization')
    if (header === undefined || !header.startsWith('ReelnetNode ')) throw unauthorized('node authorization required (Authorization: ReelnetNode peerId=…,ts=…,sig=…)')
    let peerId: string
    try {
      const url = new URL(c.req.url)
      peerId = verifyNodeAuth(parseNodeAuth(header), { method: c.req.method, pathWithQuery: url.pathname + url.search, now: now(), maxSkewMs: MAX_CLOCK_SKEW_MS })
    } catch (err) {
      throw unauthorized(`node authorization refused: ${(err as Error).message}`)
    }
    if (registry.get(peerId) === undefined) throw forbidden(`node ${peerId} is not registered`)
    c.set('nodePeerId', peerId)
    await next()
  }
}
