import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseTrustedProxies, MAX_TRUSTED_PROXIES } from './client-address.ts'
import { newKit, type Kit } from './test-kit.ts'

const PW = 'correct horse battery'
const PROXY = '127.0.0.1'
/** Per (account, source) failures before 429 (DEFAULT_LOGIN_LIMITS' perAccount). */
const PAIR_LIMIT = 5

test('trusted proxies: CIDRs and bare addresses, IPv4 and IPv6 (mapped too); anything else a clear error', () => {
  const t = parseTrustedProxies('127.0.0.1/32, 10.0.0.0/8,::1,fd00::/8')
  assert.ok(t.has('127.0.0.1'))
  assert.ok(t.has('::ffff:127.0.0.1'))
  assert.ok(t.has('10.200.3.4'))
  assert.ok(t.has('::1'))
  assert.ok(t.has('fd12::5'))
  assert.not.ok(t.has('127.0.0.2'))
  assert.not.ok(t.has('11.0.0.1'))
  assert.not.ok(t.has('fe80::1'))
  assert.not.ok(t.has('not-an-ip'))
  for (const bad of ['', ' , ', '10.0.0.0/33', '::/129', '10.0.0/8', 'example.com', '1.2.3.4/8/9', '1.2.3.4/x']) {
    assert.throws(() => parseTrustedProxies(bad), /--trusted-proxy/, bad)
  }
  assert.throws(() => parseTrustedProxies(Array.from({ length: MAX_TRUSTED_PROXIES + 1 }, (_, i) => `10.0.0.${i % 250}`).join(',')), /at most/)
})

async function wrongLogins (kit: Kit, n: number, address: string, forwarded?: (i: number) => string): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const headers = forwarded === undefined ? undefined : { 'x-forwarded-for': forwarded(i) }
    out.push((await kit.req('POST', '/v1/sessions', { json: { username: 'target', password: 'wrong-password' }, address, headers })).status)
  }
  return out
}

const login = async (kit: Kit, address: string, forwarded?: string): Promise<number> =>
  (await kit.req('POST', '/v1/sessions', { json: { username: 'target', password: PW }, address, headers: forwarded === undefined ? undefined : { 'x-forwarded-for': forwarded } })).status

test('without --trusted-proxy, X-Forwarded-For is ignored: customers behind one proxy share its budget', async () => {
  const kit = await newKit()
  try {
    assert.is((await kit.req('POST', '/v1/accounts', { json: { username: 'target', password: PW } })).status, 201)
    assert.equal(await wrongLogins(kit, PAIR_LIMIT + 1, PROXY, () => '203.0.113.1'), [401, 401, 401, 401, 401, 429])
    assert.is(await login(kit, PROXY, '203.0.113.2'), 429, 'another customer behind the proxy is limited too')
  } finally { await kit.close() }
})

test('with --trusted-proxy, the forwarded client counts, only when the peer is the proxy; the rightmost untrusted hop', async () => {
  const kit = await newKit({ trustedProxies: parseTrustedProxies(`${PROXY}/32,10.0.0.0/8`) })
  try {
    assert.is((await kit.req('POST', '/v1/accounts', { json: { username: 'target', password: PW } })).status, 201)
    // client 203.0.113.1 behind the proxy, prepending whatever it likes: the proxy-appended address counts
    assert.equal(await wrongLogins(kit, PAIR_LIMIT + 1, PROXY, i => `198.51.100.${i}, 203.0.113.1`), [401, 401, 401, 401, 401, 429])
    assert.is(await login(kit, PROXY, '203.0.113.2'), 201, 'another customer behind the same proxy logs in')
    assert.is(await login(kit, PROXY, '203.0.113.1, 10.1.2.3'), 429, 'through a second trusted hop, still the same client')
    // a peer that is not a trusted proxy cannot choose its address with the header
    assert.equal(await wrongLogins(kit, PAIR_LIMIT + 1, '192.0.2.50', i => `203.0.113.${100 + i}`), [401, 401, 401, 401, 401, 429])
    assert.is(await login(kit, '192.0.2.50', '203.0.113.77'), 429, 'the untrusted peer itself is counted')
    // a malformed entry stops the walk at the proxy: it shares the proxy's budget, never takes another's
    assert.is(await login(kit, PROXY, 'garbage'), 201)
    assert.is(await login(kit, PROXY, ''), 201, 'no header: the proxy itself')
  } finally { await kit.close() }
})

test.run()
