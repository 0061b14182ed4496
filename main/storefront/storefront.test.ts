import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { newKit, customer, ingest, ADMIN, T0, type Kit } from '../test-kit.ts'
import { STOREFRONT_CSP } from './routes.tsx'
import { DEFAULT_RENTAL_MS, MAX_POSTER_BYTES } from '../limits.ts'

let kit: Kit
test.before.each(async () => { kit = await newKit() })
test.after.each(async () => { await kit.close() })

const PASSWORD = 'correct horse battery'
const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...randomBytes(64)])

/** A browser's view of the storefront: cookies kept between requests, forms sent with their CSRF token. */
class Browser {
  readonly cookies = new Map<string, string>()
  lastSetCookie: string[] = []

  async get (path: string, headers: Record<string, string> = {}): Promise<Response> {
    return await this.#send('GET', path, undefined, headers)
  }

  async post (path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return await this.#send('POST', path, new URLSearchParams(form).toString(), { 'content-type': 'application/x-www-form-urlencoded', ...headers })
  }

  /** The CSRF token of the forms on a page. */
  async csrf (path = '/store'): Promise<string> {
    const html = await (await this.get(path)).text()
    const m = /name="csrf" value="([^"]+)"/.exec(html)
    if (m === null) throw new Error(`no CSRF field on ${path}`)
    return m[1]!
  }

  async #send (method: string, path: string, body: string | undefined, headers: Record<string, string>): Promise<Response> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    const res = await kit.main.app.request(`http://127.0.0.1:8640${path}`, { method, body, headers: { ...headers, ...(cookie !== '' ? { cookie } : {}) } })
    this.lastSetCookie = res.headers.getSetCookie()
    for (const c of this.lastSetCookie) {
      const [pair] = c.split(';')
      const [k, v] = (pair ?? '').split('=')
      if (k === undefined || v === undefined) continue
      if (v === '' || /max-age=0/i.test(c)) this.cookies.delete(k)
      else this.cookies.set(k, v)
    }
    return res
  }
}

async function loggedIn (username = 'erin'): Promise<Browser> {
  const b = new Browser()
  const signup = await b.post('/store/signup', { csrf: await b.csrf('/store/signup'), username, password: PASSWORD })
  assert.is(signup.status, 303, 'sign up redirects to log in')
  assert.is(signup.headers.get('location'), '/store/login?created=1')
  const login = await b.post('/store/login', { csrf: await b.csrf('/store/login'), username, password: PASSWORD })
  assert.is(login.status, 303)
  return b
}

async function rent (b: Browser, itemId: string): Promise<string> {
  const res = await b.post(`/store/items/${itemId}/rent`, { csrf: await b.csrf(`/store/items/${itemId}`) })
  assert.is(res.status, 303)
  const m = /^\/store\/rentals\/([0-9a-f-]{36})$/.exec(res.headers.get('location') ?? '')
  assert.ok(m !== null, `redirected to the rental, got ${res.headers.get('location')}`)
  return m[1]!
}

function scriptsOf (html: string): string[] {
  return [...html.matchAll(/<script\b[^>]*>/g)].map(m => m[0])
}

test('the catalog escapes a <script> title and description, has the strict CSP and no inline script', async () => {
  const title = '<script>alert(1)</script> & "quotes"'
  const id = await ingest(kit, randomBytes(100_000), title)
  const res = await kit.req('POST', `/v1/items?title=x&description=${encodeURIComponent('<img src=x onerror=alert(2)>')}`, { body: randomBytes(1000) as any, token: ADMIN })
  assert.is(res.status, 201)
  const page = await new Browser().get('/store')
  assert.is(page.status, 200)
  assert.is(page.headers.get('content-security-policy'), STOREFRONT_CSP)
  assert.match(STOREFRONT_CSP, /script-src 'self';/)
  assert.not.match(STOREFRONT_CSP, /unsafe-inline|unsafe-eval/)
  assert.is(page.headers.get('x-frame-options'), 'DENY')
  const html = await page.text()
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;'), 'title escaped')
  assert.ok(html.includes('&lt;img src=x onerror=alert(2)&gt;'), 'description escaped')
  assert.not.ok(html.includes('<script>alert'), 'no raw script')
  assert.equal(scriptsOf(html), [], 'the catalog runs no script')
  assert.ok(html.includes(`href="/store/items/${id}"`))
  assert.match(html, />Sign up</)
  assert.match(html, />Log in</)
  const item = await new Browser().get(`/store/items/${id}`)
  assert.is(item.status, 200)
  assert.ok((await item.text()).includes('<title>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; — reelnet</title>'))
  assert.is((await new Browser().get('/store/items/0123456789abcdef0123456789abcdef')).status, 404)
})

test('sign up and log in set an HttpOnly, SameSite=Strict session cookie scoped to /store; log out ends the session', async () => {
  const b = await loggedIn()
  const session = b.lastSetCookie.find(c => c.startsWith('rn_session='))
  assert.ok(session !== undefined)
  assert.match(session, /HttpOnly/)
  assert.match(session, /SameSite=Strict/)
  assert.match(session, /Path=\/store/)
  const html = await (await b.get('/store')).text()
  assert.match(html, />My rentals</)
  assert.match(html, /<button type="submit">Log out<\/button>/)
  assert.match(html, /erin/)
  const token = b.cookies.get('rn_session')!
  assert.is((await kit.req('GET', '/v1/rentals/00000000-0000-0000-0000-000000000000', { token })).status, 404, 'the cookie is a live session')
  const out = await b.post('/store/logout', { csrf: await b.csrf() })
  assert.is(out.status, 303)
  assert.is(b.cookies.get('rn_session'), undefined, 'cookie cleared')
  assert.is((await kit.req('GET', '/v1/rentals/00000000-0000-0000-0000-000000000000', { token })).status, 401, 'the session is gone at main')
  assert.not.match(await (await b.get('/store')).text(), />Log out</)
})

test('sign-up and log-in errors are shown on the page, with the form again and the labels it needs', async () => {
  const b = new Browser()
  const form = await (await b.get('/store/signup')).text()
  assert.match(form, /<label for="f-username">User name<\/label>/)
  assert.match(form, /<label for="f-password">Password<\/label>/)
  const short = await b.post('/store/signup', { csrf: await b.csrf('/store/signup'), username: 'erin', password: 'short' })
  assert.is(short.status, 422)
  assert.match(await short.text(), /A password has 8/)
  await customer(kit, 'frank')
  const taken = await b.post('/store/signup', { csrf: await b.csrf('/store/signup'), username: 'frank', password: PASSWORD })
  assert.is(taken.status, 409)
  const wrong = await b.post('/store/login', { csrf: await b.csrf('/store/login'), username: 'frank', password: 'not the password' })
  assert.is(wrong.status, 403)
  assert.match(await wrong.text(), /Wrong user name or password/)
  assert.is(b.cookies.get('rn_session'), undefined)
})

test('the rent form refuses a missing or foreign CSRF token and a cross-site origin; with it, the rental page shows the exact end', async () => {
  const id = await ingest(kit, randomBytes(100_000), 'Region film')
  const b = await loggedIn()
  const itemPage = await (await b.get(`/store/items/${id}`)).text()
  assert.match(itemPage, /<button type="submit">Rent<\/button>/)
  assert.match(itemPage, /Rental period<\/dt><dd>2 d 0 h/)
  assert.is((await b.post(`/store/items/${id}/rent`, {})).status, 403, 'no token')
  assert.is((await b.post(`/store/items/${id}/rent`, { csrf: await new Browser().csrf('/store/login') })).status, 403, "another visitor's token")
  assert.is((await b.post(`/store/items/${id}/rent`, { csrf: await b.csrf() }, { origin: 'https://evil.example' })).status, 403, 'cross-site origin')
  assert.is((await b.post(`/store/items/${id}/rent`, { csrf: await b.csrf() }, { 'sec-fetch-site': 'cross-site' })).status, 403, 'cross-site fetch')
  assert.is((await b.get('/store/rentals')).status, 200)
  assert.match(await (await b.get('/store/rentals')).text(), /no rentals yet/, 'no refused request rented anything')
  const licenseId = await rent(b, id)
  const rented = await (await b.get(`/store/rentals/${licenseId}`)).text()
  const end = new Date(T0 + DEFAULT_RENTAL_MS).toISOString()
  assert.ok(rented.includes(`<time datetime="${end}">${end.slice(0, 19).replace('T', ' ')} UTC</time>`), 'exact expiry')
  assert.match(rented, />Watch</)
  assert.ok(rented.includes(`reelnet get ${id} --license ${licenseId} -o &#39;Region film&#39;`) || rented.includes(`reelnet get ${id} --license ${licenseId} -o 'Region film'`), 'the get command')
  assert.is((await new Browser().get(`/store/rentals/${licenseId}`)).status, 303, 'logged out → log in')
  const other = await loggedIn('gwen')
  assert.is((await other.get(`/store/rentals/${licenseId}`)).status, 404, "another account's rental")
})

test('My rentals shows time left and the command while active; once expired, the watch page says so and offers Rent, with no player', async () => {
  const id = await ingest(kit, randomBytes(100_000), 'Short film')
  const b = await loggedIn()
  const licenseId = await rent(b, id)
  kit.clock.now += 3600_000
  const list = await (await b.get('/store/rentals')).text()
  assert.match(list, /<td>1 d 23 h<\/td>/)
  assert.match(list, new RegExp(`href="/store/watch/${licenseId}">Watch<`))
  assert.match(list, /reelnet login --main http:\/\/127\.0\.0\.1:8640 --user erin/)
  const watch = await b.get(`/store/watch/${licenseId}`)
  assert.is(watch.status, 200)
  const html = await watch.text()
  assert.is((html.match(/<video\b/g) ?? []).length, 1, 'one <video>')
  assert.equal(scriptsOf(html), ['<script type="module" src="/store/player.js">'])
  assert.match(html, new RegExp(`data-license="${licenseId}"`))
  kit.clock.now += DEFAULT_RENTAL_MS
  const expiredList = await (await b.get('/store/rentals')).text()
  assert.match(expiredList, /<td>expired<\/td>/)
  assert.match(expiredList, /<button type="submit">Rent<\/button>/)
  const expired = await b.get(`/store/watch/${licenseId}`)
  assert.is(expired.status, 403)
  const eh = await expired.text()
  assert.match(eh, /expired at/)
  assert.match(eh, /<button type="submit">Rent<\/button>/)
  assert.not.match(eh, /<video|<script/, 'no player, so no chunk is asked for')
  const other = await loggedIn('gwen')
  assert.is((await other.get(`/store/watch/${licenseId}`)).status, 404, 'a foreign licence')
})

test("the player's directive endpoint needs the CSRF header and a live, own licence", async () => {
  const id = await ingest(kit, randomBytes(100_000), 'Film')
  const b = await loggedIn()
  const licenseId = await rent(b, id)
  const csrf = await b.csrf()
  const clientPeerId = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
  const ask = async (headers: Record<string, string>, who = b): Promise<Response> => {
    const cookie = [...who.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    return await kit.main.app.request('/store/api/directives', { method: 'POST', headers: { 'content-type': 'application/json', cookie, ...headers }, body: JSON.stringify({ licenseId, clientPeerId }) })
  }
  assert.is((await ask({})).status, 403, 'no CSRF header')
  const none = await ask({ 'x-csrf-token': csrf })
  assert.is(none.status, 503, 'no region has nodes')
  assert.is(((await none.json()) as { error: { code: string } }).error.code, 'no_regions')
  const gwen = await loggedIn('gwen')
  const foreign = await ask({ 'x-csrf-token': await gwen.csrf() }, gwen)
  assert.is(((await foreign.json()) as { error: { code: string } }).error.code, 'license_foreign')
  kit.clock.now += DEFAULT_RENTAL_MS + 1
  const expired = await ask({ 'x-csrf-token': csrf })
  assert.is(expired.status, 403)
  assert.is(((await expired.json()) as { error: { code: string } }).error.code, 'license_expired')
})

test('a poster is size-bounded, must be an image, and is shown on the catalog', async () => {
  const id = await ingest(kit, randomBytes(10_000), 'Posterised')
  const put = async (body: Uint8Array): Promise<Response> => await kit.req('PUT', `/v1/items/${id}/poster`, { body: body as any, token: ADMIN, headers: { 'content-type': 'application/octet-stream' } })
  assert.is((await put(new TextEncoder().encode('<svg onload=alert(1)>'))).status, 422)
  assert.is((await put(new Uint8Array(MAX_POSTER_BYTES + 1).fill(0xff))).status, 413)
  assert.is((await kit.req('PUT', `/v1/items/${id}/poster`, { body: PNG as any })).status, 401, 'admin only')
  assert.is((await put(PNG)).status, 200)
  const img = await new Browser().get(`/store/items/${id}/poster`)
  assert.is(img.headers.get('content-type'), 'image/png')
  assert.equal(new Uint8Array(await img.arrayBuffer()), PNG)
  assert.match(await (await new Browser().get('/store')).text(), new RegExp(`src="/store/items/${id}/poster"`))
})

test('a form body over the bound is refused, and a JSON body where a form belongs too', async () => {
  const b = new Browser()
  const csrf = await b.csrf('/store/login')
  assert.is((await b.post('/store/login', { csrf, username: 'x'.repeat(20_000), password: PASSWORD })).status, 413)
  const res = await kit.main.app.request('/store/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  assert.is(res.status, 415)
})

test('catalog lifecycle on the storefront: prices and terms shown, an item out of its window says from when, My rentals shows what was paid and a takedown\'s reason (issue 15)', async () => {
  const itemId = await ingest(kit, new Uint8Array(randomBytes(70_000)), 'Priced film')
  const later = await ingest(kit, new Uint8Array(randomBytes(70_000)), 'Coming soon')
  const patch = async (id: string, json: unknown): Promise<void> => { assert.is((await kit.req('PATCH', `/v1/items/${id}`, { token: ADMIN, json })).status, 200) }
  await patch(itemId, { rentalHours: 24, rentalPrice: { amount: 399, currency: 'EUR' }, purchasePrice: { amount: 1499, currency: 'EUR' } })
  await patch(later, { availableFrom: T0 + 3600_000 })
  const b = await loggedIn('priya')
  const catalog = await (await b.get('/store')).text()
  assert.match(catalog, 'Priced film')
  assert.match(catalog, '3.99 EUR')
  assert.match(catalog, 'buy 14.99 EUR')
  assert.not.match(catalog, 'Coming soon', 'not available yet: not in the catalog')
  const item = await (await b.get(`/store/items/${itemId}`)).text()
  assert.match(item, '3.99 EUR')
  assert.match(item, '1 d 0 h')
  const soon = await (await b.get(`/store/items/${later}`)).text()
  assert.match(soon, `can be rented from ${new Date(T0 + 3600_000).toISOString()}`)
  assert.not.match(soon, 'type="submit">Rent<')
  const refused = await b.post(`/store/items/${later}/rent`, { csrf: await b.csrf() })
  assert.is(refused.status, 403)
  assert.match(await refused.text(), 'can be rented from')
  const rent = await b.post(`/store/items/${itemId}/rent`, { csrf: await b.csrf() })
  assert.is(rent.status, 303)
  const mine = await (await b.get('/store/rentals')).text()
  assert.match(mine, '<td class="paid">3.99 EUR</td>')
  assert.is((await kit.req('DELETE', `/v1/items/${itemId}`, { token: ADMIN, json: { reason: 'rights ended' } })).status, 200)
  const after = await (await b.get('/store/rentals')).text()
  assert.match(after, 'rights ended')
  assert.not.match(await (await b.get('/store')).text(), 'Priced film')
})

test("the player's directive endpoint refuses a revoked licence and a third device (issue 14b)", async () => {
  const id = await ingest(kit, randomBytes(100_000), 'Guarded')
  const { nodeKey, OPERATOR } = await import('../test-kit.ts')
  const node = nodeKey()
  assert.is((await kit.req('POST', '/v1/nodes', { token: OPERATOR, json: { peerId: node.peerId, role: 'parent', region: 'eu', addrs: ['/ip4/127.0.0.1/tcp/4001'], capacityBytes: 1e12 } })).status, 201)
  const b = await loggedIn('hedy')
  const licenseId = await rent(b, id)
  const csrf = await b.csrf()
  const ask = async (lic: string, clientPeerId: string): Promise<Response> => {
    const cookie = [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    return await kit.main.app.request('/store/api/directives', { method: 'POST', headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf }, body: JSON.stringify({ licenseId: lic, clientPeerId }) })
  }
  const codeOf = async (r: Response): Promise<string> => ((await r.json()) as { error: { code: string } }).error.code
  assert.is((await ask(licenseId, nodeKey().peerId)).status, 201)
  assert.is((await ask(licenseId, nodeKey().peerId)).status, 201)
  const third = await ask(licenseId, nodeKey().peerId)
  assert.is(third.status, 409)
  assert.is(await codeOf(third), 'device_limit')
  assert.is((await kit.req('POST', '/v1/admin/revoke', { token: ADMIN, json: { kind: 'license', id: licenseId } })).status, 201)
  const revoked = await ask(licenseId, nodeKey().peerId)
  assert.is(revoked.status, 403)
  assert.is(await codeOf(revoked), 'license_revoked')
})

test.run()
