import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { newKit, customer, ADMIN, T0, type Kit } from './test-kit.ts'
import { PasswordHasher } from './passwords.ts'
import { SCRYPT_PARAMS, LOGIN_WINDOW_MS, LOGIN_FAILURES_PER_ACCOUNT, MAX_JSON_BODY_BYTES, SESSION_TTL_MS } from './limits.ts'

let kit: Kit
test.before.each(async () => { kit = await newKit() })
test.after.each(async () => { await kit.close() })

const PW = 'correct horse battery'

async function errorOf (res: Response): Promise<{ code: string, message: string }> {
  const body = await res.json() as { error: { code: string, message: string } }
  assert.type(body.error.code, 'string')
  assert.type(body.error.message, 'string')
  return body.error
}

test('an account is created, then logs in with a session token', async () => {
  const res = await kit.req('POST', '/v1/accounts', { json: { username: 'alice', password: PW, region: 'eu' } })
  assert.is(res.status, 201)
  const a = await res.json() as { accountId: string, username: string, region: string }
  assert.is(a.username, 'alice')
  assert.is(a.region, 'eu')
  const login = await kit.req('POST', '/v1/sessions', { json: { username: 'alice', password: PW } })
  assert.is(login.status, 201)
  const s = await login.json() as { token: string, accountId: string, expiresAt: number }
  assert.is(s.accountId, a.accountId)
  assert.ok(s.token.length >= 40)
  assert.is(s.expiresAt, T0 + SESSION_TTL_MS)
})

test('a taken username is 409, whatever its case', async () => {
  await customer(kit, 'bob')
  const res = await kit.req('POST', '/v1/accounts', { json: { username: 'BOB', password: PW } })
  assert.is(res.status, 409)
  assert.is((await errorOf(res)).code, 'conflict')
})

test('malformed bodies: 400 for broken JSON, 422 for wrong fields', async () => {
  const broken = await kit.req('POST', '/v1/accounts', { body: '{"username": ', headers: { 'content-type': 'application/json' } })
  assert.is(broken.status, 400)
  await errorOf(broken)
  for (const json of [
    { username: 'al', password: PW },
    { username: 'alice', password: 'short' },
    { username: 'alice', password: PW, region: 'Not A Region!' },
    { username: 'alice', password: PW, admin: true },
    { username: 42, password: PW },
    []
  ]) {
    const res = await kit.req('POST', '/v1/accounts', { json })
    assert.is(res.status, 422, JSON.stringify(json))
    assert.is((await errorOf(res)).code, 'invalid')
  }
})

test('an oversized body is 413, with and without Content-Length', async () => {
  const big = JSON.stringify({ username: 'alice', password: 'x'.repeat(MAX_JSON_BODY_BYTES) })
  const withLength = await kit.req('POST', '/v1/accounts', { body: big, headers: { 'content-type': 'application/json', 'content-length': String(big.length) } })
  assert.is(withLength.status, 413)
  assert.is((await errorOf(withLength)).code, 'too_large')
  const bytes = new TextEncoder().encode(big)
  const stream = new ReadableStream<Uint8Array>({
    start (controller) {
      for (let i = 0; i < bytes.length; i += 65536) controller.enqueue(bytes.slice(i, i + 65536))
      controller.close()
    }
  })
  const chunked = await kit.req('POST', '/v1/accounts', { body: stream, headers: { 'content-type': 'application/json' } })
  assert.is(chunked.status, 413)
})

test('a wrong password or unknown user is 401 with the same message', async () => {
  await customer(kit, 'carol')
  const wrong = await kit.req('POST', '/v1/sessions', { json: { username: 'carol', password: 'wrong password' } })
  const unknown = await kit.req('POST', '/v1/sessions', { json: { username: 'nobody', password: 'wrong password' } })
  assert.is(wrong.status, 401)
  assert.is(unknown.status, 401)
  assert.is((await errorOf(wrong)).message, (await errorOf(unknown)).message)
})

test('brute force is 429, even with the right password, until the window passes; then login works', async () => {
  await customer(kit, 'dave')
  for (let i = 0; i < LOGIN_FAILURES_PER_ACCOUNT; i++) {
    const res = await kit.req('POST', '/v1/sessions', { json: { username: 'dave', password: `guess-${i}-xxxx` } })
    assert.is(res.status, 401)
  }
  const locked = await kit.req('POST', '/v1/sessions', { json: { username: 'dave', password: PW } })
  assert.is(locked.status, 429)
  assert.ok(Number(locked.headers.get('retry-after')) > 0)
  assert.is((await errorOf(locked)).code, 'rate_limited')
  kit.clock.now += LOGIN_WINDOW_MS + 1
  const ok = await kit.req('POST', '/v1/sessions', { json: { username: 'dave', password: PW } })
  assert.is(ok.status, 201)
  const metrics = await (await kit.req('GET', '/metrics', { token: ADMIN })).text()
  assert.match(metrics, `reelnet_logins_failed_total ${LOGIN_FAILURES_PER_ACCOUNT}`)
})

test("an attacker's failures do not lock the owner out: the right password from another address logs in at once", async () => {
  await customer(kit, 'erin')
  const attacker = '203.0.113.9'
  for (let i = 0; i < LOGIN_FAILURES_PER_ACCOUNT; i++) {
    assert.is((await kit.req('POST', '/v1/sessions', { json: { username: 'erin', password: `guess-${i}-xxxx` }, address: attacker })).status, 401)
  }
  // the attacker's address is refused for this account, even with the right password
  assert.is((await kit.req('POST', '/v1/sessions', { json: { username: 'erin', password: PW }, address: attacker })).status, 429)
  const owner = await kit.req('POST', '/v1/sessions', { json: { username: 'erin', password: PW }, address: '198.51.100.7' })
  assert.is(owner.status, 201)
  // the same /64 counts as one source: an IPv6 attacker cannot rotate within its line
  for (let i = 0; i < LOGIN_FAILURES_PER_ACCOUNT; i++) {
    assert.is((await kit.req('POST', '/v1/sessions', { json: { username: 'erin', password: `v6-${i}-xxxx` }, address: `2001:db8:1:2::${i + 1}` })).status, 401)
  }
  assert.is((await kit.req('POST', '/v1/sessions', { json: { username: 'erin', password: 'v6-next-xxxx' }, address: '2001:db8:1:2:ffff::9' })).status, 429)
})

test('brute force spread over many addresses is still limited, and the owner still gets in from a clean address', async () => {
  kit = await (async () => { await kit.close(); return await newKit({ loginLimits: { perAccount: 5, perAddress: 20, perAccountAllSources: 10, windowMs: 60_000 } }) })()
  await customer(kit, 'frank')
  let refused = 0
  let tried = 0
  // 10 addresses guess twice each: 10 failures reach the account-wide cap; after it a source that failed is refused
  for (let round = 0; round < 2; round++) {
    for (let a = 0; a < 10; a++) {
      const res = await kit.req('POST', '/v1/sessions', { json: { username: 'frank', password: `g-${round}-${a}-xxxx` }, address: `192.0.2.${a + 1}` })
      tried++
      if (res.status === 429) refused++
      else assert.is(res.status, 401)
    }
  }
  assert.is(refused, 10, 'every second guess, past the cap, is refused')
  assert.is(tried - refused, 10)
  // a fresh address gets one try: a wrong guess, then 429
  assert.is((await kit.req('POST', '/v1/sessions', { json: { username: 'frank', password: 'fresh-guess-xx' }, address: '192.0.2.200' })).status, 401)
  assert.is((await kit.req('POST', '/v1/sessions', { json: { username: 'frank', password: PW }, address: '192.0.2.200' })).status, 429)
  // the owner, from an address that never failed, logs in
  assert.is((await kit.req('POST', '/v1/sessions', { json: { username: 'frank', password: PW }, address: '198.51.100.50' })).status, 201)
  // and once the window has passed, every address may try again
  kit.clock.now += 60_001
  assert.is((await kit.req('POST', '/v1/sessions', { json: { username: 'frank', password: PW }, address: '192.0.2.1' })).status, 201)
})

test('one address guessing across many accounts is 429 too', async () => {
  kit = await (async () => { await kit.close(); return await newKit({ loginLimits: { perAccount: 100, perAddress: 3, windowMs: 60_000 } }) })()
  for (let i = 0; i < 3; i++) {
    assert.is((await kit.req('POST', '/v1/sessions', { json: { username: `user${i}`, password: 'whatever-guess' } })).status, 401)
  }
  assert.is((await kit.req('POST', '/v1/sessions', { json: { username: 'user9', password: 'whatever-guess' } })).status, 429)
})

test('sign-ups per address are limited (429)', async () => {
  kit = await (async () => { await kit.close(); return await newKit({ loginLimits: { perAccount: 5, perAddress: 20, windowMs: 60_000, signupsPerAddressPerHour: 2 } }) })()
  assert.is((await kit.req('POST', '/v1/accounts', { json: { username: 'one', password: PW } })).status, 201)
  assert.is((await kit.req('POST', '/v1/accounts', { json: { username: 'two', password: PW } })).status, 201)
  assert.is((await kit.req('POST', '/v1/accounts', { json: { username: 'three', password: PW } })).status, 429)
  kit.clock.now += 3600_001
  assert.is((await kit.req('POST', '/v1/accounts', { json: { username: 'three', password: PW } })).status, 201)
})

test('a session expires', async () => {
  const { token } = await customer(kit, 'erin')
  const rent = async (): Promise<number> => (await kit.req('POST', '/v1/rentals', { json: { itemId: '0'.repeat(32) }, token })).status
  assert.is(await rent(), 404) // authenticated: the item is what is missing
  kit.clock.now += SESSION_TTL_MS + 1
  assert.is(await rent(), 401)
})

test('admin tokens are not sessions, and sessions do not survive a bad token', async () => {
  assert.is((await kit.req('POST', '/v1/rentals', { json: { itemId: '0'.repeat(32) }, token: ADMIN })).status, 403)
  assert.is((await kit.req('POST', '/v1/rentals', { json: { itemId: '0'.repeat(32) }, token: 'not-a-session-token' })).status, 401)
  assert.is((await kit.req('POST', '/v1/rentals', { json: { itemId: '0'.repeat(32) } })).status, 401)
})

test('passwords are hashed with OWASP scrypt parameters and verify in constant time', async () => {
  const hasher = new PasswordHasher()
  assert.equal(hasher.params, SCRYPT_PARAMS)
  assert.is(SCRYPT_PARAMS.N, 2 ** 17)
  const h = await hasher.hash(PW)
  assert.is(h.N, 2 ** 17)
  assert.is(h.r, 8)
  assert.is(h.p, 1)
  assert.ok(await hasher.verify(PW, h))
  assert.not.ok(await hasher.verify(PW + '!', h))
})

test('an unknown user costs a hash too (no timing shortcut), and never verifies', async () => {
  const hasher = new PasswordHasher({ N: 2 ** 10, r: 8, p: 1 })
  assert.not.ok(await hasher.verify('reelnet-dummy-password', undefined))
})

test('stored passwords are never in the clear', async () => {
  await customer(kit, 'frank')
  let seen = 0
  for await (const a of kit.main.store.listAccounts()) {
    seen++
    assert.not.ok(JSON.stringify(a).includes(PW))
    assert.is(a.password.alg, 'scrypt')
  }
  assert.is(seen, 1)
  for await (const key of kit.main.store.listSessionIds()) assert.match(key, /^[0-9a-f]{64}$/)
})

test.run()
