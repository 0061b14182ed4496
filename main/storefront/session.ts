/**
 * The storefront's cookies: the customer's session token (the same token
 * `POST /v1/sessions` returns, kept in an HttpOnly, SameSite=Strict cookie so
 * page scripts never see it) and a visitor cookie that CSRF tokens are bound
 * to. A form's token is HMAC(key, visitor cookie): a page of another site can
 * neither read the cookie nor compute the token, and SameSite=Strict keeps
 * the browser from sending the cookies with its requests anyway. POSTs must
 * also come from this origin (Origin and Sec-Fetch-Site, when sent).
 */
import { createHmac, randomBytes } from 'node:crypto'
import type { Context } from 'hono'
import { getCookie, setCookie, deleteCookie } from 'hono/cookie'
import { secretEquals } from '../auth.ts'
import { forbidden } from '../errors.ts'
import { SESSION_TTL_MS } from '../limits.ts'

export const SESSION_COOKIE = 'rn_session'
export const VISITOR_COOKIE = 'rn_visitor'
/** Cookies are sent only to the storefront's own paths (the operator page and the API use bearer tokens). */
export const COOKIE_PATH = '/store'
/** A cookie value longer than this is not one main set: ignored before hashing. */
export const MAX_COOKIE_LENGTH = 128
/** The visitor cookie lives as long as a session: a form stays valid while its page is open. */
const VISITOR_TTL_S = SESSION_TTL_MS / 1000

function secure (c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:'
}

function cookie (c: Context, name: string): string | undefined {
  const v = getCookie(c, name)
  return v !== undefined && v.length > 0 && v.length <= MAX_COOKIE_LENGTH && /^[A-Za-z0-9_-]+$/.test(v) ? v : undefined
}

export function sessionTokenOf (c: Context): string | undefined {
  return cookie(c, SESSION_COOKIE)
}

export function setSessionCookie (c: Context, token: string, expiresAt: number, now: number): void {
  setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: COOKIE_PATH, secure: secure(c), maxAge: Math.max(1, Math.floor((expiresAt - now) / 1000)) })
}

export function clearSessionCookie (c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: COOKIE_PATH, secure: secure(c) })
}

export class CsrfTokens {
  readonly #key: Buffer
  /** The visitor id set during this request (a page asks for its token more than once). */
  readonly #issued = new WeakMap<Context, string>()

  /** `secret` is main's own (the admin token): tokens survive a restart and no one outside can mint them. */
  constructor (secret: string) {
    this.#key = createHmac('sha256', secret).update('reelnet storefront csrf v1').digest()
  }

  #tokenFor (visitor: string): string {
    return createHmac('sha256', this.#key).update(visitor).digest('base64url')
  }

  /** The token for this visitor's forms; sets the visitor cookie on first sight. */
  token (c: Context): string {
    let visitor = cookie(c, VISITOR_COOKIE) ?? this.#issued.get(c)
    if (visitor === undefined) {
      visitor = randomBytes(24).toString('base64url')
      this.#issued.set(c, visitor)
      setCookie(c, VISITOR_COOKIE, visitor, { httpOnly: true, sameSite: 'Strict', path: COOKIE_PATH, secure: secure(c), maxAge: VISITOR_TTL_S })
    }
    return this.#tokenFor(visitor)
  }

  /** Refuse (403) a state-changing request that is cross-origin or lacks this visitor's token. */
  check (c: Context, given: string | undefined): void {
    const origin = c.req.header('origin')
    if (origin !== undefined && origin !== new URL(c.req.url).origin) throw forbidden('this form was sent from another site')
    const site = c.req.header('sec-fetch-site')
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw forbidden('this form was sent from another site')
    const visitor = cookie(c, VISITOR_COOKIE)
    if (visitor === undefined || given === undefined || given.length > MAX_COOKIE_LENGTH || !secretEquals(given, this.#tokenFor(visitor))) {
      throw forbidden('the form has expired or did not come from this site; reload the page and try again')
    }
  }
}
