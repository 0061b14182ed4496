import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { newKit, nodeKey, customer, ingest, OPERATOR, ADMIN, T0, type Kit } from './test-kit.ts'
import { verifyLicense, verifyDirective, verifyRules, signHeartbeat } from '../protocol/documents.ts'
import { fromText, toText } from '../protocol/signing.ts'
import { rm } from 'node:fs/promises'
import { replanPreposition } from './app.ts'
import { DEFAULT_RENTAL_MS, DEFAULT_DIRECTIVE_TTL_MS, HOLDING_TTL_MS } from './limits.ts'

let kit: Kit
let itemId: string
test.before.each(async () => {
  kit = await newKit({ heartbeatTimeoutMs: 15_000 })
  itemId = await ingest(kit, new Uint8Array(200_000).fill(3))
})
test.after.each(async () => { await kit.close() })

const ADDR = '/ip4/127.0.0.1/tcp/4001'

async function register (role: 'edge' | 'parent', region: string): Promise<ReturnType<typeof nodeKey>> {
  const k = nodeKey()
  const res = await kit.req('POST', '/v1/nodes', { token: OPERATOR, json: { peerId: k.peerId, role, region, addrs: [ADDR], capacityBytes: 1e9 } })
  assert.is(res.status, 201)
  return k
}

async function rent (token: string, id = itemId): Promise<{ licenseId: string, license: string, expiresAt: number }> {
  const res = await kit.req('POST', '/v1/rentals', { token, json: { itemId: id } })
  assert.is(res.status, 201)
  return await res.json() as { licenseId: string, license: string, expiresAt: number }
}

async function directive (token: string, licenseId: string, clientPeerId: string, region?: string): Promise<Response> {
  return await kit.req('POST', '/v1/directives', { token, json: { licenseId, clientPeerId, ...(region === undefined ? {} : { region }) } })
}

test('a rental returns a license signed by main for this account and item, for 48 h', async () => {
  const { token, accountId } = await customer(kit, 'alice')
  const l = await rent(token)
  const license = verifyLicense(fromText(l.license), { publicKey: await kit.publicKey(), now: kit.clock.now, itemId, accountId, licenseId: l.licenseId })
  assert.is(license.expiresAt, T0 + DEFAULT_RENTAL_MS)
  assert.is(l.expiresAt, license.expiresAt)
})

test('rentals refuse unknown items (404), bad bodies (422) and no session (401)', async () => {
  const { token } = await customer(kit, 'bob')
  assert.is((await kit.req('POST', '/v1/rentals', { token, json: { itemId: 'f'.repeat(32) } })).status, 404)
  assert.is((await kit.req('POST', '/v1/rentals', { token, json: { item: itemId } })).status, 422)
  assert.is((await kit.req('POST', '/v1/rentals', { json: { itemId } })).status, 401)
})

test('a directive lists the region\'s live, undrained edges before parents, is signed, bound to the client and the rules version', async () => {
  const edge = await register('edge', 'eu')
  const parent = await register('parent', 'eu')
  const elsewhere = await register('edge', 'us')
  const drained = await register('edge', 'eu')
  assert.is((await kit.req('POST', `/v1/nodes/${drained.peerId}/drain`, { token: OPERATOR, json: { drained: true } })).status, 200)
  const { token, accountId } = await customer(kit, 'carol', 'eu')
  const l = await rent(token)
  const client = nodeKey()
  const res = await directive(token, l.licenseId, client.peerId)
  assert.is(res.status, 201)
  const body = await res.json() as { directive: string, expiresAt: number }
  const rules = await (await kit.req('GET', '/v1/rules')).json() as { version: number }
  const d = verifyDirective(fromText(body.directive), { publicKey: await kit.publicKey(), now: kit.clock.now, clientPeerId: client.peerId, itemId, rulesVersion: rules.version, licenseId: l.licenseId })
  assert.is(d.region, 'eu')
  assert.equal(d.peers.map(p => [p.peerId, p.role]), [[edge.peerId, 'edge'], [parent.peerId, 'parent']])
  assert.not.ok(d.peers.some(p => p.peerId === elsewhere.peerId || p.peerId === drained.peerId))
  assert.is(d.expiresAt, T0 + DEFAULT_DIRECTIVE_TTL_MS)
  assert.is(body.expiresAt, d.expiresAt)
  void accountId
  // the asked region wins over the account's
  const us = await (await directive(token, l.licenseId, client.peerId, 'us')).json() as { directive: string }
  const dUs = verifyDirective(fromText(us.directive), { publicKey: await kit.publicKey(), now: kit.clock.now })
  assert.equal(dUs.peers.map(p => p.peerId), [elsewhere.peerId])
  // a fresh directiveId each time
  assert.is.not(dUs.directiveId, d.directiveId)
})

test('nodes whose heartbeats stopped are left out', async () => {
  const a = await register('edge', 'eu')
  kit.clock.now += 10_000
  const b = await register('edge', 'eu')
  kit.clock.now += 10_000 // a: 20 s silent (down); b: 10 s (up)
  const { token } = await customer(kit, 'dan', 'eu')
  const l = await rent(token)
  const res = await (await directive(token, l.licenseId, nodeKey().peerId)).json() as { directive: string }
  const d = verifyDirective(fromText(res.directive), { publicKey: await kit.publicKey(), now: kit.clock.now })
  assert.equal(d.peers.map(p => p.peerId), [b.peerId])
  void a
})

test('directives are refused for a foreign, expired or unknown license (403) and malformed requests (422)', async () => {
  await register('edge', 'eu')
  const alice = await customer(kit, 'alice', 'eu')
  const bob = await customer(kit, 'bob', 'eu')
  const l = await rent(alice.token)
  const peer = nodeKey().peerId
  const foreign = await directive(bob.token, l.licenseId, peer)
  assert.is(foreign.status, 403)
  assert.is(((await foreign.json()) as { error: { code: string } }).error.code, 'license_foreign')
  assert.is((await directive(alice.token, '00000000-0000-0000-0000-000000000000', peer)).status, 403)
  assert.is((await directive(alice.token, l.licenseId, 'not-a-peer-id')).status, 422)
  assert.is((await directive(alice.token, 'nope', peer)).status, 422)
  assert.is((await kit.req('POST', '/v1/directives', { json: { licenseId: l.licenseId, clientPeerId: peer } })).status, 401)
  assert.is((await kit.req('POST', '/v1/directives', { token: ADMIN, json: { licenseId: l.licenseId, clientPeerId: peer } })).status, 403)
  kit.clock.now += DEFAULT_RENTAL_MS + 1
  // re-login (sessions last a week; the license does not)
  const expired = await directive(alice.token, l.licenseId, peer)
  assert.is(expired.status, 403)
  assert.is(((await expired.json()) as { error: { code: string } }).error.code, 'license_expired')
})

test('a directive never outlives its license', async () => {
  await register('edge', 'eu')
  const { token } = await customer(kit, 'erin', 'eu')
  const l = await rent(token)
  kit.clock.now = l.expiresAt - 60_000
  // keep the edge alive
  const res = await (await directive(token, l.licenseId, nodeKey().peerId)).json() as { expiresAt: number }
  assert.is(res.expiresAt, l.expiresAt)
})

test('customer peers that report holding the item are listed for others of their region, and nodes learn who is admitted', async () => {
  const edge = await register('edge', 'eu')
  const alice = await customer(kit, 'alice', 'eu')
  const bob = await customer(kit, 'bob', 'eu')
  const la = await rent(alice.token)
  const lb = await rent(bob.token)
  const alicePeer = nodeKey().peerId
  const bobPeer = nodeKey().peerId
  assert.is((await directive(alice.token, la.licenseId, alicePeer)).status, 201)
  const hold = await kit.req('POST', '/v1/holdings', { token: alice.token, json: { licenseId: la.licenseId, peerId: alicePeer, addrs: ['/ip4/127.0.0.1/tcp/5001'], region: 'eu', complete: true } })
  assert.is(hold.status, 200)
  assert.is(((await hold.json()) as { ok: boolean }).ok, true)
  // bob cannot report under alice's license
  assert.is((await kit.req('POST', '/v1/holdings', { token: bob.token, json: { licenseId: la.licenseId, peerId: bobPeer, addrs: [ADDR], region: 'eu', complete: true } })).status, 403)
  const res = await (await directive(bob.token, lb.licenseId, bobPeer)).json() as { directive: string }
  const d = verifyDirective(fromText(res.directive), { publicKey: await kit.publicKey(), now: kit.clock.now })
  assert.equal(d.peers.map(p => [p.peerId, p.role]), [[edge.peerId, 'edge'], [alicePeer, 'peer']])
  // alice is not told to fetch from herself
  const own = await (await directive(alice.token, la.licenseId, alicePeer)).json() as { directive: string }
  assert.not.ok(verifyDirective(fromText(own.directive), { publicKey: await kit.publicKey(), now: kit.clock.now }).peers.some(p => p.peerId === alicePeer))
  // the edge's heartbeat answer admits both clients
  const hb = toText(signHeartbeat({ peerId: edge.peerId, seq: 1, sentAt: kit.clock.now, load: 0, freeBytes: 0, bytesServed: { edge: 0, parent: 0, peer: 0, client: 0 }, heldItems: [] }, edge.signer))
  const answer = await (await kit.req('POST', `/v1/nodes/${edge.peerId}/heartbeat`, { json: { heartbeat: hb } })).json() as { admittedPeers: string[] }
  assert.equal(answer.admittedPeers.sort(), [alicePeer, bobPeer].sort())
  // holdings lapse unless refreshed
  kit.clock.now += HOLDING_TTL_MS + 1
  const hb2 = toText(signHeartbeat({ peerId: edge.peerId, seq: 2, sentAt: kit.clock.now, load: 0, freeBytes: 0, bytesServed: { edge: 0, parent: 0, peer: 0, client: 0 }, heldItems: [] }, edge.signer))
  assert.is((await kit.req('POST', `/v1/nodes/${edge.peerId}/heartbeat`, { json: { heartbeat: hb2 } })).status, 200)
  const later = await (await directive(bob.token, lb.licenseId, bobPeer)).json() as { directive: string }
  assert.equal(verifyDirective(fromText(later.directive), { publicKey: await kit.publicKey(), now: kit.clock.now }).peers.map(p => p.role), ['edge'])
})

test('without any region, a directive is 503; the first region of the rules is the default', async () => {
  const { token } = await customer(kit, 'fay')
  const l = await rent(token)
  assert.is((await directive(token, l.licenseId, nodeKey().peerId)).status, 503)
  await register('parent', 'ap')
  const res = await (await directive(token, l.licenseId, nodeKey().peerId)).json() as { directive: string }
  assert.is(verifyDirective(fromText(res.directive), { publicKey: await kit.publicKey(), now: kit.clock.now }).region, 'ap')
  const rules = await (await kit.req('GET', '/v1/rules')).json() as { rules: string }
  assert.is(verifyRules(fromText(rules.rules), { publicKey: await kit.publicKey(), now: kit.clock.now }).regions[0]!.name, 'ap')
})

test('items in demand in a region are prepositioned there automatically (a new rules version only on change)', async () => {
  await register('edge', 'eu')
  const other = await ingest(kit, new Uint8Array(100_000).fill(9), 'B-side')
  const { token } = await customer(kit, 'hal', 'eu')
  const l = await rent(token)
  const lo = await rent(token, other)
  // one device asking three times (a licence allows DEFAULT_MAX_DEVICES distinct ones at once)
  const device = nodeKey().peerId
  for (let i = 0; i < 3; i++) assert.is((await directive(token, l.licenseId, device)).status, 201)
  assert.is((await directive(token, lo.licenseId, nodeKey().peerId)).status, 201)
  const before = ((await (await kit.req('GET', '/v1/rules')).json()) as { version: number }).version
  assert.is(await replanPreposition(kit.main.services), true)
  assert.is(await replanPreposition(kit.main.services), false)
  const res = await (await kit.req('GET', '/v1/rules')).json() as { version: number, rules: string }
  assert.is(res.version, before + 1)
  const r = verifyRules(fromText(res.rules), { publicKey: await kit.publicKey(), now: kit.clock.now })
  assert.equal(r.regions.find(x => x.name === 'eu')?.preposition, [itemId])
  // the operator's own list comes first
  assert.is((await kit.req('PUT', '/v1/regions/eu/preposition', { token: OPERATOR, json: { itemIds: [other] } })).status, 200)
  const again = await (await kit.req('GET', '/v1/rules')).json() as { rules: string }
  assert.equal(verifyRules(fromText(again.rules), { publicKey: await kit.publicKey(), now: kit.clock.now }).regions.find(x => x.name === 'eu')?.preposition, [other, itemId])
})

test('admissions survive a restart of main', async () => {
  const edge = await register('edge', 'eu')
  const { token } = await customer(kit, 'ivy', 'eu')
  const l = await rent(token)
  const client = nodeKey().peerId
  assert.is((await directive(token, l.licenseId, client)).status, 201)
  const dir = kit.dir
  await kit.main.close()
  const again = await newKit({ heartbeatTimeoutMs: 15_000 }, dir)
  again.clock.now = kit.clock.now
  const hb = toText(signHeartbeat({ peerId: edge.peerId, seq: 1, sentAt: again.clock.now, load: 0, freeBytes: 0, bytesServed: { edge: 0, parent: 0, peer: 0, client: 0 }, heldItems: [] }, edge.signer))
  const answer = await (await again.req('POST', `/v1/nodes/${edge.peerId}/heartbeat`, { json: { heartbeat: hb } })).json() as { admittedPeers: string[] }
  assert.equal(answer.admittedPeers, [client])
  await again.main.close()
  kit = { ...kit, close: async () => { await rm(dir, { recursive: true, force: true }) } }
})

test('after a restart of main, nodes get one heartbeat timeout to check in before directives leave them out', async () => {
  const edge = await register('edge', 'eu')
  const { token } = await customer(kit, 'kim', 'eu')
  const l = await rent(token)
  const dir = kit.dir
  await kit.main.close()
  // main was down for a minute: the edge's last heartbeat is far older than the 15 s timeout, through no fault of its own
  const restartedAt = kit.clock.now + 60_000
  const clock = { now: restartedAt }
  const again = await newKit({ heartbeatTimeoutMs: 15_000, now: () => clock.now }, dir)
  const listed = async (): Promise<string[]> => {
    const res = await again.req('POST', '/v1/directives', { token, json: { licenseId: l.licenseId, clientPeerId: nodeKey().peerId } })
    assert.is(res.status, 201)
    const { directive: d } = await res.json() as { directive: string }
    return verifyDirective(fromText(d), { publicKey: await again.publicKey(), now: clock.now }).peers.map(p => p.peerId)
  }
  assert.equal(await listed(), [edge.peerId], 'listed right after the restart')
  clock.now = restartedAt + 16_000
  assert.equal(await listed(), [], 'a node still silent one timeout after the restart is left out')
  await again.main.close()
  kit = { ...kit, close: async () => { await rm(dir, { recursive: true, force: true }) } }
})

test('metrics count directives; healthz and the operator page answer', async () => {
  await register('edge', 'eu')
  const { token } = await customer(kit, 'gus', 'eu')
  const l = await rent(token)
  // one device asking three times (a licence allows DEFAULT_MAX_DEVICES distinct ones at once)
  const device = nodeKey().peerId
  for (let i = 0; i < 3; i++) assert.is((await directive(token, l.licenseId, device)).status, 201)
  const metrics = await (await kit.req('GET', '/metrics', { token: ADMIN })).text()
  assert.match(metrics, 'reelnet_directives_issued_total 3')
  assert.match(metrics, /reelnet_http_requests_total\{method="POST",route="\/v1\/directives",status="201"\} 3/)
  assert.match(metrics, /reelnet_http_request_duration_seconds_bucket\{le="[^"]+",method="POST",route="\/v1\/directives"\}/)
  const health = await (await kit.req('GET', '/healthz')).json() as { ok: boolean, rulesVersion: number }
  assert.is(health.ok, true)
  assert.ok(health.rulesVersion >= 2)
  const page = await kit.req('GET', '/')
  assert.is(page.status, 200)
  assert.match(await page.text(), '<title>reelnet main — operator</title>')
})

test.run()
