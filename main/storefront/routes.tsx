/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
/**
 * The customers' storefront under /store, rendered on the server:
 *
 * | path | what |
 * |---|---|
 * | `GET /store` | catalog |
 * | `GET /store/items/:id` | an item, its rental period and the Rent button |
 * | `GET,POST /store/signup`, `/store/login`; `POST /store/logout` | accounts and the session cookie |
 * | `POST /store/items/:id/rent` | rent; answers with the rental's exact end (`/store/rentals/:licenseId`) |
 * | `GET /store/rentals` | My rentals: active and expired, time left, the `reelnet get` command |
 * | `GET /store/watch/:licenseId` | the web player (or, for an expired rental, Rent again) |
 * | `POST /store/api/directives` | the player's directive, by session cookie and CSRF header |
 * | `GET /store/player.js`, `/store/sw.js` | the browser bundle (built by esbuild on first request) |
 *
 * Every page has a strict CSP (scripts and styles from this origin only) and
 * every form a CSRF token (session.ts).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../project-root.ts'
import { Hono, type Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { clientAddress } from '../client-address.ts'
import { z } from 'zod'
import type { MainEnv } from '../auth.ts'
import type { MainServices } from '../services.ts'
import { ApiError, tooLarge, toErrorResponse } from '../errors.ts'
import { formatPrice, inWindow, issueChecked, offeredIn, rentChecked, rentRefusal, rentalView } from '../lifecycle.ts'
import { checkLicenseUse } from '../directives.ts'
import { refuseRevoked } from '../routes/revocations.ts'
import { peerIdSchema, licenseIdSchema, itemIdSchema, regionSchema } from '../validate.ts'
import { toBase64url } from '../../protocol/encoding.ts'
import { USERNAME_RE, MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH } from '../limits.ts'
import type { ItemRecord, LicenseRecord } from '../store.ts'
import { CsrfTokens, sessionTokenOf, setSessionCookie, clearSessionCookie } from './session.ts'
import { PlayerBundle } from './bundle.ts'
import { sealedKeyField } from '../content-keys.ts'
import {
  Layout, Catalog, Item, SignUp, LogIn, Rentals, Rented, Watch, Expired, Problem, getCommand, formatSpan, type Viewer
} from './pages.tsx'

/** Scripts, styles, images and the player's fetches only from here; the player's libp2p dials nodes over ws:/wss:. */
export const STOREFRONT_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self' blob:; " +
  "connect-src 'self' ws: wss:; worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/** A storefront form body larger than this is refused (413): a user name and a password fit many times over. */
export const MAX_FORM_BODY_BYTES = 16 * 1024
/** "My rentals" shows at most this many, newest first. */
export const MAX_RENTALS_SHOWN = 200

const STORE_CSS = readFileSync(join(PROJECT_ROOT, 'main', 'storefront', 'store.css'), 'utf8')

interface Customer { accountId: string, username: string, token: string }

const directiveBody = z.strictObject({ licenseId: licenseIdSchema, clientPeerId: peerIdSchema })
const itemParam = z.strictObject({ id: itemIdSchema })
const licenseParam = z.strictObject({ licenseId: licenseIdSchema })

function field (body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name]
  return typeof v === 'string' ? v : undefined
}

export function storefrontRoutes (s: MainServices, opts: { bundle?: PlayerBundle } = {}): Hono<MainEnv> {
  const app = new Hono<MainEnv>()
  const csrf = new CsrfTokens(s.adminToken)
  const bundle = opts.bundle ?? new PlayerBundle()

  app.use('*', async function storefrontHeaders (c, next) {
    await next()
    c.header('Content-Security-Policy', STOREFRONT_CSP)
    c.header('X-Frame-Options', 'DENY')
    c.header('X-Content-Type-Options', 'nosniff')
    c.header('Referrer-Policy', 'same-origin')
  })
  app.use('*', async function limitForm (c, next) {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return await next()
    return await bodyLimit({ maxSize: MAX_FORM_BODY_BYTES, onError: () => { throw tooLarge(`a form is at most ${MAX_FORM_BODY_BYTES} bytes`) } })(c, next)
  })

  const customerOf = async (c: Context): Promise<Customer | undefined> => {
    const token = sessionTokenOf(c)
    if (token === undefined) return undefined
    const session = await s.accounts.session(token)
    if (session === undefined) return undefined
    const account = await s.accounts.get(session.accountId)
    return account === undefined ? undefined : { accountId: account.accountId, username: account.username, token }
  }
  const viewer = (cu: Customer | undefined): Viewer | undefined => cu === undefined ? undefined : { username: cu.username }

  const page = (c: Context, title: string, cu: Customer | undefined, body: unknown, status: 200 | 201 | 400 | 403 | 404 | 409 | 410 | 422 | 429 | 503 = 200): Response | Promise<Response> => {
    const token = csrf.token(c)
    return c.html(<Layout title={title} viewer={viewer(cu)} csrf={token}>{body as any}</Layout>, status)
  }
  const problem = (c: Context, cu: Customer | undefined, status: 400 | 403 | 404 | 409 | 410 | 422 | 429 | 503, message: string): Response | Promise<Response> =>
    page(c, status === 404 ? 'Not found' : 'Something is wrong', cu, <Problem message={message} />, status)

  const formOf = async (c: Context): Promise<Record<string, unknown>> => {
    const type = c.req.header('content-type') ?? ''
    if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) throw new ApiError(415, 'unsupported_media_type', 'send the form as application/x-www-form-urlencoded')
    const body = await c.req.parseBody() as Record<string, unknown>
    csrf.check(c, field(body, 'csrf'))
    return body
  }

  app.onError((err, c) => {
    const r = toErrorResponse(err)
    if (c.req.path.startsWith('/store/api/')) return c.json(r.body, r.status, r.headers)
    const status = ([400, 403, 404, 409, 413, 415, 422, 429, 503] as const).find(x => x === r.status) ?? 500
    for (const [k, v] of Object.entries(r.headers)) c.header(k, v)
    const token = csrf.token(c)
    return c.html(<Layout title="Something is wrong" viewer={undefined} csrf={token}><Problem message={r.internal ? 'main could not do that just now; try again' : r.body.error.message} /></Layout>, status)
  })

  app.get('/store.css', (c) => {
    c.header('Content-Type', 'text/css; charset=utf-8')
    c.header('Cache-Control', 'no-cache')
    return c.body(STORE_CSS)
  })
  for (const name of ['player.js', 'sw.js'] as const) {
    app.get(`/${name}`, async (c) => {
      const code = await bundle.get(name)
      c.header('Content-Type', 'text/javascript; charset=utf-8')
      c.header('Cache-Control', 'no-cache')
      return c.body(code)
    })
  }

  app.get('/', async (c) => {
    const cu = await customerOf(c)
    // what is available now in the customer's region (issue 15), with its price
    const region = cu === undefined ? undefined : (await s.accounts.get(cu.accountId))?.region
    const now = s.now()
    const items = s.catalog.list().filter(i => inWindow(s.catalog.terms(i.itemId), now) && offeredIn(s.catalog.terms(i.itemId), region))
    return page(c, 'Catalog', cu, <Catalog items={items} offers={offersOf(items)} />)
  })

  const offersOf = (items: ItemRecord[]): Record<string, string> => Object.fromEntries(items.map(i => {
    const t = s.catalog.terms(i.itemId)
    return [i.itemId, `${formatSpan(t?.rental !== undefined ? t.rental.hours * 3600_000 : s.licenses.rentalMs)} · ${formatPrice(t?.rental?.price)}${t?.purchase !== undefined ? ` · buy ${formatPrice(t.purchase.price)}` : ''}`]
  }))

  app.get('/items/:id', async (c) => {
    const cu = await customerOf(c)
    const p = itemParam.safeParse(c.req.param())
    const item = p.success ? s.catalog.get(p.data.id) : undefined
    if (item === undefined) return problem(c, cu, 404, 'There is no such item in the catalog.')
    let active: LicenseRecord | undefined
    if (cu !== undefined) active = (await s.licenses.forAccount(cu.accountId, MAX_RENTALS_SHOWN)).find(l => l.itemId === item.itemId && l.expiresAt > s.now())
    const terms = s.catalog.terms(item.itemId)
    const refusal = rentRefusal(item, terms, cu === undefined ? undefined : (await s.accounts.get(cu.accountId))?.region, s.now())
    return page(c, item.title, cu, <Item item={item} viewer={viewer(cu)} csrf={csrf.token(c)} rentalMs={terms?.rental !== undefined ? terms.rental.hours * 3600_000 : s.licenses.rentalMs} active={active} terms={terms} unavailable={refusal?.message} />)
  })

  app.get('/items/:id/poster', async (c) => {
    const p = itemParam.safeParse(c.req.param())
    const poster = p.success ? await s.catalog.poster(p.data.id) : undefined
    if (poster === undefined) return c.body(null, 404)
    return c.body(new Uint8Array(poster.bytes), 200, { 'Content-Type': poster.type, 'Cache-Control': 'public, max-age=3600' })
  })

  app.get('/signup', async (c) => page(c, 'Sign up', await customerOf(c), <SignUp csrf={csrf.token(c)} regions={s.registry.regions()} />))
  app.post('/signup', async (c) => {
    const body = await formOf(c)
    const username = field(body, 'username') ?? ''
    const password = field(body, 'password') ?? ''
    const regionText = field(body, 'region') ?? ''
    const again = (status: 409 | 422 | 429, error: string): Response | Promise<Response> => page(c, 'Sign up', undefined, <SignUp csrf={csrf.token(c)} regions={s.registry.regions()} error={error} username={username.slice(0, 32)} />, status)
    if (!USERNAME_RE.test(username)) return again(422, 'A user name is 3–32 of A-Z, a-z, 0-9, _ . -')
    if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) return again(422, `A password has ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters.`)
    const region = regionText === '' ? undefined : regionSchema.safeParse(regionText)
    if (region !== undefined && !region.success) return again(422, 'That is not a region.')
    try {
      await s.accounts.create(username, password, region?.data, clientAddress(c, s.trustedProxies))
    } catch (err) {
      if (err instanceof ApiError && (err.status === 409 || err.status === 429)) return again(err.status, err.message)
      throw err
    }
    return c.redirect('/store/login?created=1', 303)
  })

  app.get('/login', async (c) => {
    const notice = c.req.query('created') === '1' ? 'Your account is ready: log in.' : undefined
    return page(c, 'Log in', await customerOf(c), <LogIn csrf={csrf.token(c)} notice={notice} />)
  })
  app.post('/login', async (c) => {
    const body = await formOf(c)
    const username = (field(body, 'username') ?? '').slice(0, 64)
    const password = field(body, 'password') ?? ''
    if (username === '' || password === '' || password.length > MAX_PASSWORD_LENGTH) {
      return page(c, 'Log in', undefined, <LogIn csrf={csrf.token(c)} error="Give your user name and password." username={username} />, 422)
    }
    try {
      const session = await s.accounts.login(username, password, clientAddress(c, s.trustedProxies))
      setSessionCookie(c, session.token, session.expiresAt, s.now())
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 429 || err.code === 'account_revoked')) {
        return page(c, 'Log in', undefined, <LogIn csrf={csrf.token(c)} error={err.status === 401 ? 'Wrong user name or password.' : err.message} username={username} />, err.status === 429 ? 429 : 403)
      }
      throw err
    }
    return c.redirect('/store', 303)
  })
  app.post('/logout', async (c) => {
    await formOf(c)
    const token = sessionTokenOf(c)
    if (token !== undefined) await s.accounts.logout(token)
    clearSessionCookie(c)
    return c.redirect('/store', 303)
  })

  app.post('/items/:id/rent', async (c) => {
    await formOf(c)
    const cu = await customerOf(c)
    if (cu === undefined) return c.redirect('/store/login', 303)
    const p = itemParam.safeParse(c.req.param())
    const item = p.success ? s.catalog.get(p.data.id) : undefined
    if (item === undefined) return problem(c, cu, 404, 'There is no such item in the catalog.')
    let l: LicenseRecord
    try {
      l = await rentChecked(s, cu.accountId, item)
    } catch (err) {
      // the item's window, region or takedown (issue 15): the page says which
      if (err instanceof ApiError && (err.status === 403 || err.status === 410)) return problem(c, cu, err.status, err.message)
      throw err
    }
    return c.redirect(`/store/rentals/${l.licenseId}`, 303)
  })

  const ownRental = async (c: Context, cu: Customer): Promise<LicenseRecord | undefined> => {
    const p = licenseParam.safeParse(c.req.param())
    const l = p.success ? await s.licenses.get(p.data.licenseId) : undefined
    return l !== undefined && l.accountId === cu.accountId ? l : undefined
  }
  const mainUrlOf = (c: Context): string => new URL(c.req.url).origin

  app.get('/rentals', async (c) => {
    const cu = await customerOf(c)
    if (cu === undefined) return c.redirect('/store/login', 303)
    const now = s.now()
    const rentals = (await s.licenses.forAccount(cu.accountId, MAX_RENTALS_SHOWN)).map(license => {
      const item = s.catalog.get(license.itemId)
      return { license, item, command: item === undefined ? undefined : getCommand(mainUrlOf(c), cu.username, item, license), ended: rentalView(s, license).status === 'removed' ? rentalView(s, license).endedReason ?? undefined : undefined }
    })
    return page(c, 'My rentals', cu, <Rentals rentals={rentals} now={now} csrf={csrf.token(c)} />)
  })

  app.get('/rentals/:licenseId', async (c) => {
    const cu = await customerOf(c)
    if (cu === undefined) return c.redirect('/store/login', 303)
    const l = await ownRental(c, cu)
    const item = l === undefined ? undefined : s.catalog.get(l.itemId)
    if (l === undefined || item === undefined) return problem(c, cu, 404, 'You have no such rental.')
    return page(c, `Rented: ${item.title}`, cu, <Rented item={item} license={l} now={s.now()} command={getCommand(mainUrlOf(c), cu.username, item, l)} />)
  })

  app.get('/watch/:licenseId', async (c) => {
    const cu = await customerOf(c)
    if (cu === undefined) return c.redirect('/store/login', 303)
    const l = await ownRental(c, cu)
    const item = l === undefined ? undefined : s.catalog.get(l.itemId)
    if (l === undefined) return problem(c, cu, 404, 'You have no such rental: it belongs to another account or does not exist.')
    if (l.expiresAt <= s.now()) return page(c, 'Rental expired', cu, <Expired item={item} license={l} csrf={csrf.token(c)} />, 403)
    if (item === undefined) return problem(c, cu, 404, 'This item is no longer in the catalog.')
    return page(c, item.title, cu, <Watch data={{ licenseId: l.licenseId, itemId: item.itemId, title: item.title, mainKey: toBase64url(s.signer.publicKey), csrf: csrf.token(c), expiresAt: l.expiresAt }} />)
  })

  app.post('/api/directives', async (c) => {
    csrf.check(c, c.req.header('x-csrf-token'))
    const cu = await customerOf(c)
    if (cu === undefined) throw new ApiError(401, 'unauthorized', 'your session has ended; log in again')
    let json: unknown
    try { json = await c.req.json() } catch { throw new ApiError(400, 'bad_request', 'send JSON') }
    const parsed = directiveBody.safeParse(json)
    if (!parsed.success) throw new ApiError(422, 'invalid', 'send {licenseId, clientPeerId}')
    const license = checkLicenseUse(await s.licenses.get(parsed.data.licenseId), cu.accountId, s.now())
    refuseRevoked(s, license)
    const account = await s.accounts.get(cu.accountId)
    const region = s.directives.regionFor(undefined, account?.region)
    if (region === undefined) throw new ApiError(503, 'no_regions', 'no region has any node yet; try again later')
    refuseRevoked(s, license)
    const { directive, expiresAt, itemVersion } = await issueChecked(s, { license, accountId: cu.accountId, clientPeerId: parsed.data.clientPeerId, region })
    // an encrypted item's key, sealed to the browser's own key (its IndexedDB libp2p key)
    return c.json({ directive, expiresAt, ...await sealedKeyField(s.catalog, license, parsed.data.clientPeerId, itemVersion) }, 201)
  })
  return app
}

