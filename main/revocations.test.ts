/**
 * Revocation and devices on main (issue 14b), through app.request(): the signed list and its ETag, the admin
 * route and every refusal it leads to, versions that only grow across a restart, the operator's quarantine
 * entering the list, and the device bound on one licence.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { newKit, customer, ingest, nodeKey, ADMIN, OPERATOR, type Kit } from './test-kit.ts'
import { verifyDirective, verifyRevocations } from '../protocol/documents.ts'
import { fromText } from '../protocol/signing.ts'
import { DEFAULT_MAX_DEVICES } from '../protocol/limits.ts'
import { DEFAULT_DIRECTIVE_TTL_MS } from './limits.ts'
import { REVOCATIONS_TTL_MS } from './revocations.ts'

let kit: Kit
let itemId: string

test.before.each(async () => {
  kit = await newKit()
  itemId = await ingest(kit, new Uint8Array(200_000).fill(7))
})
test.after.each(async () => { await kit.close() })

async function list (): Promise<{ version: number, licenses: string[], accounts: string[], nodes: string[], etag: string | null }> {
  const res = await kit.req('GET', '/v1/revocations')
  assert.is(res.status, 200)
  const body = await res.json() as { version: number, revocations: string }
  const doc = verifyRevocations(fromText(body.revocations), { publicKey: await kit.publicKey(), now: kit.clock.now })
  assert.is(doc.version, body.version)
  return { ...doc, etag: res.headers.get('etag') }
}

async function rent (token: string): Promise<string> {
  const res = await kit.req('POST', '/v1/rentals', { token, json: { itemId } })
  assert.is(res.status, 201)
  return (await res.json() as { licenseId: string }).licenseId
}

const directive = async (token: string, licenseId: string, clientPeerId: string): Promise<Response> =>
  await kit.req('POST', '/v1/directives', { token, json: { licenseId, clientPeerId, region: 'eu' } })
const revoke = async (kind: string, id: string, token = ADMIN): Promise<Response> =>
  await kit.req('POST', '/v1/admin/revoke', { token, json: { kind, id } })
async function code (res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code
}

test('GET /v1/revocations serves the signed list with an ETag; If-None-Match answers 304', async () => {
  const l = await list()
  assert.equal([l.licenses, l.accounts, l.nodes], [[], [], []])
  assert.is(l.etag, `"r${l.version}"`)
  const again = await kit.req('GET', '/v1/revocations', { headers: { 'if-none-match': l.etag! } })
  assert.is(again.status, 304)
})

test('POST /v1/admin/revoke needs the admin token and a well-formed, known target', async () => {
  const { token } = await customer(kit, 'ann')
  const licenseId = await rent(token)
  assert.is((await kit.req('POST', '/v1/admin/revoke', { json: { kind: 'license', id: licenseId } })).status, 401)
  assert.is((await revoke('license', licenseId, OPERATOR)).status, 403)
  assert.is((await revoke('license', licenseId, token)).status, 403)
  assert.is((await revoke('licence', licenseId)).status, 422)
  assert.is((await revoke('license', 'not-a-uuid')).status, 422)
  assert.is((await revoke('session', 'abc')).status, 422)
  const unknown = await revoke('license', '00000000-0000-4000-8000-000000000000')
  assert.is(unknown.status, 404)
  assert.is((await revoke('account', 'nobody-here')).status, 404)
})

test('a revoked licence: in the next list at once, directives and holdings refuse it, the account\'s other licences still work', async () => {
  const { token } = await customer(kit, 'bob')
  const licenseId = await rent(token)
  const other = await rent(token)
  const me = nodeKey().peerId
  assert.is((await directive(token, licenseId, me)).status, 201)
  const before = await list()
  const res = await revoke('license', licenseId)
  assert.is(res.status, 201)
  const body = await res.json() as { created: boolean, revocationsVersion: number }
  assert.is(body.created, true)
  const after = await list()
  assert.ok(after.version > before.version, 'a new version')
  assert.equal(after.licenses, [licenseId])
  const refused = await directive(token, licenseId, me)
  assert.is(refused.status, 403)
  assert.is(await code(refused), 'license_revoked')
  const holding = await kit.req('POST', '/v1/holdings', { token, json: { licenseId, peerId: me, addrs: ['/ip4/127.0.0.1/tcp/1'], region: 'eu', complete: true } })
  assert.is(holding.status, 403)
  assert.is((await directive(token, other, me)).status, 201)
  // revoking again changes nothing
  const again = await revoke('license', licenseId)
  assert.is(again.status, 200)
  assert.is((await list()).version, after.version)
})

test('a directive names its account (so nodes can refuse a revoked account\'s directives)', async () => {
  const { token, accountId } = await customer(kit, 'cat')
  const licenseId = await rent(token)
  const res = await directive(token, licenseId, nodeKey().peerId)
  const d = verifyDirective(fromText((await res.json() as { directive: string }).directive), { publicKey: await kit.publicKey(), now: kit.clock.now })
  assert.is(d.accountId, accountId)
})

test('a revoked account (named by username): every session fails at once, log-in is refused, it enters the list', async () => {
  const { token, accountId } = await customer(kit, 'dan')
  const second = await kit.req('POST', '/v1/sessions', { json: { username: 'dan', password: 'correct horse battery' } })
  const token2 = (await second.json() as { token: string }).token
  const licenseId = await rent(token)
  assert.is((await revoke('account', 'dan')).status, 201)
  for (const t of [token, token2]) {
    const r = await kit.req('POST', '/v1/rentals', { token: t, json: { itemId } })
    assert.is(r.status, 403)
    assert.is(await code(r), 'account_revoked')
  }
  assert.is(await code(await directive(token, licenseId, nodeKey().peerId)), 'account_revoked')
  const login = await kit.req('POST', '/v1/sessions', { json: { username: 'dan', password: 'correct horse battery' } })
  assert.is(login.status, 403)
  assert.is(await code(login), 'account_revoked')
  assert.equal((await list()).accounts, [accountId])
})

test('a revoked session fails at once; the account\'s other sessions go on; sessions never enter the signed list', async () => {
  await customer(kit, 'eve')
  const a = await (await kit.req('POST', '/v1/sessions', { json: { username: 'eve', password: 'correct horse battery' } })).json() as { token: string, sessionId: string }
  const b = await (await kit.req('POST', '/v1/sessions', { json: { username: 'eve', password: 'correct horse battery' } })).json() as { token: string }
  assert.match(a.sessionId, /^[0-9a-f]{64}$/)
  const before = (await list()).version
  assert.is((await revoke('session', a.sessionId)).status, 201)
  const r = await kit.req('POST', '/v1/rentals', { token: a.token, json: { itemId } })
  assert.is(r.status, 403)
  assert.is(await code(r), 'session_revoked')
  assert.is((await kit.req('POST', '/v1/rentals', { token: b.token, json: { itemId } })).status, 201)
  assert.is((await list()).version, before, 'no new list for a session')
  assert.is((await revoke('session', 'f'.repeat(64))).status, 404)
})

test('revocation list versions only grow across a restart, and the revocations are kept', async () => {
  const { token } = await customer(kit, 'fay')
  const licenseId = await rent(token)
  await revoke('license', licenseId)
  const v = (await list()).version
  const dir = kit.dir
  await kit.main.close()
  const again = await newKit({}, dir)
  try {
    const res = await again.req('GET', '/v1/revocations')
    const body = await res.json() as { version: number, revocations: string }
    assert.ok(body.version > v, `${body.version} > ${v}`)
    assert.equal(verifyRevocations(fromText(body.revocations), { publicKey: await again.publicKey(), now: again.clock.now }).licenses, [licenseId])
  } finally {
    await again.main.close()
  }
  kit = await newKit({}, dir)
  kit.close = async () => { await kit.main.close() }
})

test('the list is re-signed before it expires: a poll after half its lifetime gets a newer version', async () => {
  const v = (await list()).version
  kit.clock.now += REVOCATIONS_TTL_MS / 2 + 1
  assert.ok((await list()).version > v)
})

test('an operator quarantines a node by decision: it enters the list\'s nodes; clearing takes it out', async () => {
  const peer = nodeKey().peerId
  assert.is((await kit.req('POST', '/v1/quarantine', { json: { peerId: peer } })).status, 401)
  assert.is((await kit.req('POST', '/v1/quarantine', { token: OPERATOR, json: { peerId: 'nope' } })).status, 422)
  const res = await kit.req('POST', '/v1/quarantine', { token: OPERATOR, json: { peerId: peer } })
  assert.is(res.status, 201)
  assert.equal((await list()).nodes, [peer])
  const q = await (await kit.req('GET', '/v1/quarantine', { token: OPERATOR })).json() as { quarantined: Array<{ peerId: string }> }
  assert.ok(q.quarantined.some(e => e.peerId === peer))
  assert.is((await kit.req('DELETE', `/v1/quarantine/${peer}`, { token: OPERATOR })).status, 200)
  // the list follows the clear (published from the reports' change hook, in the background): wait for it, up to
  // 10 s (50 polls of 20 ms were a second of a loaded machine's time for a level write and a signature)
  const until = Date.now() + 10_000
  while ((await list()).nodes.length > 0 && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 20))
  assert.equal((await list()).nodes, [])
})

test(`a licence serves at most ${DEFAULT_MAX_DEVICES} devices at once; a third gets 409 naming the limit, and a slot frees when a directive expires`, async () => {
  const { token } = await customer(kit, 'gil')
  const licenseId = await rent(token)
  const [a, b, c] = [nodeKey().peerId, nodeKey().peerId, nodeKey().peerId]
  assert.is((await directive(token, licenseId, a)).status, 201)
  assert.is((await directive(token, licenseId, b)).status, 201)
  assert.is((await directive(token, licenseId, a)).status, 201, 'a device holding a slot renews it')
  const third = await directive(token, licenseId, c)
  assert.is(third.status, 409)
  const err = (await third.json() as { error: { code: string, message: string } }).error
  assert.is(err.code, 'device_limit')
  assert.match(err.message, `limit of ${DEFAULT_MAX_DEVICES}`)
  assert.ok(third.headers.get('retry-after') !== null)
  // b's directive expires (a renewed its own later): c takes b's place, and b is now the one refused
  kit.clock.now += DEFAULT_DIRECTIVE_TTL_MS / 2
  assert.is((await directive(token, licenseId, a)).status, 201)
  kit.clock.now += DEFAULT_DIRECTIVE_TTL_MS / 2 + 1
  assert.is((await directive(token, licenseId, c)).status, 201)
  assert.is((await directive(token, licenseId, b)).status, 409)
})

test.run()
