import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { newKit, nodeKey, customer, OPERATOR, ADMIN, T0, type Kit } from './test-kit.ts'
import { signHeartbeat, verifyRules } from '../protocol/documents.ts'
import { fromText, toText, signDocument } from '../protocol/signing.ts'
import type { Heartbeat } from '../protocol/types.ts'
import type { Signer } from '../protocol/keys.ts'

let kit: Kit
test.before.each(async () => { kit = await newKit({ heartbeatTimeoutMs: 15_000 }) })
test.after.each(async () => { await kit.close() })

const ADDR = '/ip4/127.0.0.1/tcp/4001'

async function register (k: { peerId: string }, role = 'edge', region = 'eu', token = OPERATOR): Promise<Response> {
  return await kit.req('POST', '/v1/nodes', { token, json: { peerId: k.peerId, role, region, addrs: [ADDR], capacityBytes: 1_000_000 } })
}

function heartbeat (k: { peerId: string, signer: Signer }, over: Partial<Heartbeat> = {}): string {
  const hb: Heartbeat = {
    peerId: k.peerId, seq: 1, sentAt: kit.clock.now, load: 0.25, freeBytes: 500_000,
    bytesServed: { edge: 1, parent: 2, peer: 3, client: 4 }, heldItems: [], ...over
  }
  return toText(signHeartbeat(hb, k.signer))
}

async function rulesVersion (): Promise<number> {
  return ((await (await kit.req('GET', '/v1/rules')).json()) as { version: number }).version
}

test('an operator registers a node (201), re-registers it (200), and the rules name it', async () => {
  const edge = nodeKey()
  const v0 = await rulesVersion()
  const res = await register(edge)
  assert.is(res.status, 201)
  const body = await res.json() as { node: { peerId: string, status: string }, rulesVersion: number }
  assert.is(body.node.peerId, edge.peerId)
  assert.is(body.node.status, 'up')
  assert.ok(body.rulesVersion > v0)
  const again = await kit.req('POST', '/v1/nodes', { token: OPERATOR, json: { peerId: edge.peerId, role: 'edge', region: 'eu', addrs: ['/ip4/10.0.0.1/tcp/4002'], capacityBytes: 2_000_000 } })
  assert.is(again.status, 200)
  const rules = await (await kit.req('GET', '/v1/rules')).json() as { version: number, rules: string }
  const r = verifyRules(fromText(rules.rules), { publicKey: await kit.publicKey(), now: kit.clock.now })
  assert.is(r.version, rules.version)
  assert.equal(r.regions.map(x => x.name), ['eu'])
  assert.equal(r.regions[0]!.edges, [{ peerId: edge.peerId, role: 'edge', addrs: ['/ip4/10.0.0.1/tcp/4002'], capacityBytes: 2_000_000 }])
})

test('registration needs the operator (or admin) token: 401 without, 403 with a session', async () => {
  const n = nodeKey()
  assert.is((await kit.req('POST', '/v1/nodes', { json: { peerId: n.peerId } })).status, 401)
  assert.is((await register(n, 'edge', 'eu', 'bogus-token-xxxxxxxxx')).status, 401)
  const { token } = await customer(kit, 'eve')
  assert.is((await register(n, 'edge', 'eu', token)).status, 403)
  assert.is((await kit.req('GET', '/v1/nodes', { token })).status, 403)
  assert.is((await register(n, 'parent', 'eu', ADMIN)).status, 201)
})

test('bad registrations are 422', async () => {
  const n = nodeKey()
  for (const json of [
    { peerId: 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', role: 'edge', region: 'eu', addrs: [ADDR], capacityBytes: 1 },
    { peerId: n.peerId, role: 'peer', region: 'eu', addrs: [ADDR], capacityBytes: 1 },
    { peerId: n.peerId, role: 'edge', region: 'EU West', addrs: [ADDR], capacityBytes: 1 },
    { peerId: n.peerId, role: 'edge', region: 'eu', addrs: [], capacityBytes: 1 },
    { peerId: n.peerId, role: 'edge', region: 'eu', addrs: ['not a multiaddr'], capacityBytes: 1 },
    { peerId: n.peerId, role: 'edge', region: 'eu', addrs: Array(17).fill(ADDR), capacityBytes: 1 },
    { peerId: n.peerId, role: 'edge', region: 'eu', addrs: [ADDR], capacityBytes: -1 }
  ]) {
    const res = await kit.req('POST', '/v1/nodes', { token: OPERATOR, json })
    assert.is(res.status, 422, JSON.stringify(json))
  }
})

test('a heartbeat signed by the node is accepted; replays, forgeries, strangers and stale ones are not', async () => {
  const edge = nodeKey()
  assert.is((await register(edge)).status, 201)
  const hb = heartbeat(edge)
  const ok = await kit.req('POST', `/v1/nodes/${edge.peerId}/heartbeat`, { json: { heartbeat: hb } })
  assert.is(ok.status, 200)
  const body = await ok.json() as { ok: boolean, rulesVersion: number, admittedPeers: string[] }
  assert.is(body.ok, true)
  assert.is(body.rulesVersion, await rulesVersion())
  assert.equal(body.admittedPeers, [])
  assert.is((await kit.req('POST', `/v1/nodes/${edge.peerId}/heartbeat`, { json: { heartbeat: hb } })).status, 409) // replay

  const other = nodeKey()
  const forged = toText(signDocument('heartbeat', { peerId: edge.peerId, seq: 5, sentAt: kit.clock.now, load: 0, freeBytes: 0, bytesServed: { edge: 0, parent: 0, peer: 0, client: 0 }, heldItems: [] }, other.signer))
  assert.is((await kit.req('POST', `/v1/nodes/${edge.peerId}/heartbeat`, { json: { heartbeat: forged } })).status, 401)
  // signed by `other` for itself but posted under edge's URL
  assert.is((await kit.req('POST', `/v1/nodes/${edge.peerId}/heartbeat`, { json: { heartbeat: heartbeat(other) } })).status, 401)
  assert.is((await kit.req('POST', `/v1/nodes/${other.peerId}/heartbeat`, { json: { heartbeat: heartbeat(other) } })).status, 404)
  const stale = heartbeat(edge, { seq: 9, sentAt: kit.clock.now - 10 * 60_000 })
  assert.is((await kit.req('POST', `/v1/nodes/${edge.peerId}/heartbeat`, { json: { heartbeat: stale } })).status, 401)
  assert.is((await kit.req('POST', `/v1/nodes/${edge.peerId}/heartbeat`, { json: { heartbeat: 'bm90IGFuIGVudmVsb3Bl' } })).status, 400)
  assert.is((await kit.req('POST', `/v1/nodes/${edge.peerId}/heartbeat`, { json: {} })).status, 422)
})

test('a node whose heartbeats stop is down; drained nodes are marked', async () => {
  const a = nodeKey()
  const b = nodeKey()
  await register(a, 'edge')
  await register(b, 'parent')
  kit.clock.now += 10_000
  assert.is((await kit.req('POST', `/v1/nodes/${a.peerId}/heartbeat`, { json: { heartbeat: heartbeat(a, { heldItems: ['x'] }) } })).status, 200)
  kit.clock.now += 10_000
  const drain = await kit.req('POST', `/v1/nodes/${b.peerId}/drain`, { token: OPERATOR, json: { drained: true } })
  assert.is(drain.status, 200)
  const list = await (await kit.req('GET', '/v1/nodes', { token: OPERATOR })).json() as { nodes: Array<{ peerId: string, status: string, drained: boolean, load: number, heldItems: string[], lastSeen: number }> }
  const byId = new Map(list.nodes.map(n => [n.peerId, n]))
  assert.is(byId.get(a.peerId)!.status, 'up')
  assert.is(byId.get(a.peerId)!.load, 0.25)
  assert.equal(byId.get(a.peerId)!.heldItems, ['x'])
  assert.is(byId.get(b.peerId)!.status, 'down')
  assert.is(byId.get(b.peerId)!.drained, true)
  assert.is((await kit.req('POST', `/v1/nodes/${nodeKey().peerId}/drain`, { token: OPERATOR, json: { drained: true } })).status, 404)
  const metrics = await (await kit.req('GET', '/metrics', { token: ADMIN })).text()
  assert.match(metrics, 'reelnet_nodes_up{region="eu"} 1')
})

test('rules carry an ETag (304 when unchanged) and a new version on every registry change', async () => {
  const first = await kit.req('GET', '/v1/rules')
  const etag = first.headers.get('etag')!
  const v1 = ((await first.json()) as { version: number }).version
  assert.is(etag, `"v${v1}"`)
  assert.is((await kit.req('GET', '/v1/rules', { headers: { 'if-none-match': etag } })).status, 304)
  await register(nodeKey())
  const next = await kit.req('GET', '/v1/rules', { headers: { 'if-none-match': etag } })
  assert.is(next.status, 200)
  assert.ok(((await next.json()) as { version: number }).version > v1)
})

test('rules are re-signed with a new version before they expire', async () => {
  const v1 = await rulesVersion()
  kit.clock.now += 13 * 3600_000
  const res = await (await kit.req('GET', '/v1/rules')).json() as { version: number, rules: string }
  assert.ok(res.version > v1)
  const r = verifyRules(fromText(res.rules), { publicKey: await kit.publicKey(), now: kit.clock.now })
  assert.ok(r.expiresAt > kit.clock.now + 12 * 3600_000)
  assert.is(r.issuedAt, T0 + 13 * 3600_000)
})

test('preposition lists go into the rules; unknown items are 422; it needs the operator', async () => {
  const itemId = await (await import('./test-kit.ts')).ingest(kit, new Uint8Array(70_000).fill(7))
  const put = await kit.req('PUT', '/v1/regions/eu/preposition', { token: OPERATOR, json: { itemIds: [itemId] } })
  assert.is(put.status, 200)
  const rules = await (await kit.req('GET', '/v1/rules')).json() as { rules: string }
  const r = verifyRules(fromText(rules.rules), { publicKey: await kit.publicKey(), now: kit.clock.now })
  assert.equal(r.regions.find(x => x.name === 'eu')?.preposition, [itemId])
  assert.is((await kit.req('PUT', '/v1/regions/eu/preposition', { token: OPERATOR, json: { itemIds: ['f'.repeat(32)] } })).status, 422)
  assert.is((await kit.req('PUT', '/v1/regions/eu/preposition', { json: { itemIds: [] } })).status, 401)
  assert.is((await kit.req('PUT', '/v1/regions/EU!/preposition', { token: OPERATOR, json: { itemIds: [] } })).status, 422)
})

test.run()
