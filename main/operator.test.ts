import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { newKit, nodeKey, customer, ingest, OPERATOR, ADMIN, type Kit } from './test-kit.ts'
import { signHeartbeat } from '../protocol/documents.ts'
import { toText } from '../protocol/signing.ts'
import { NODE_TOKEN_FIRST_USE_MS, DIRECTIVE_RATE_MINUTES } from './operator.ts'

let kit: Kit
test.before.each(async () => { kit = await newKit({ heartbeatTimeoutMs: 15_000 }) })
test.after.each(async () => { await kit.close() })

const ADDR = '/ip4/127.0.0.1/tcp/4001'

async function register (peerId: string, token: string, role = 'edge', region = 'eu'): Promise<Response> {
  return await kit.req('POST', '/v1/nodes', { token, json: { peerId, role, region, addrs: [ADDR], capacityBytes: 1_000_000 } })
}

async function mint (role: string, region: string, token = OPERATOR): Promise<Response> {
  return await kit.req('POST', '/v1/node-tokens', { token, json: { role, region } })
}

test('a minted node token registers one node of its role and region, and again after a restart of that node', async () => {
  const res = await mint('edge', 'eu')
  assert.is(res.status, 201)
  const body = await res.json() as { token: string, command: string, expiresAt: number }
  assert.match(body.command, /^reelnet node --role edge --region eu --main http:\/\/\S+ --data \S+ --operator-token rn-node-\S+ --main-key=\S+$/)
  assert.ok(body.command.includes(body.token))
  const a = nodeKey()
  const wrongRole = await register(a.peerId, body.token, 'parent')
  assert.is(wrongRole.status, 403, 'another role')
  assert.is(((await wrongRole.json()) as { error: { message: string } }).error.message, 'this node token is for an edge of region eu')
  assert.is((await register(a.peerId, body.token, 'edge', 'us')).status, 403, 'another region')
  assert.is((await register(a.peerId, body.token)).status, 201)
  assert.is((await register(a.peerId, body.token)).status, 200, 'the same node re-registers (every start does)')
  const b = nodeKey()
  const other = await register(b.peerId, body.token)
  assert.is(other.status, 403)
  assert.match(((await other.json()) as { error: { message: string } }).error.message, /another node/)
  // a node token is no operator token
  assert.is((await kit.req('GET', '/v1/nodes', { token: body.token })).status, 401)
  assert.is((await kit.req('POST', `/v1/nodes/${a.peerId}/drain`, { token: body.token, json: { drained: true } })).status, 401)
  assert.is((await mint('edge', 'eu', body.token)).status, 401)
})

test('an unused node token expires; bad requests to mint are refused with a clear error', async () => {
  const { token } = await (await mint('parent', 'eu')).json() as { token: string }
  kit.clock.now += NODE_TOKEN_FIRST_USE_MS + 1
  assert.is((await register(nodeKey().peerId, token, 'parent')).status, 401)
  assert.is((await mint('peer', 'eu')).status, 422)
  assert.is((await mint('edge', 'EU!')).status, 422)
  assert.is((await kit.req('POST', '/v1/node-tokens', { token: OPERATOR, json: { role: 'edge', region: 'eu', extra: 1 } })).status, 422)
  assert.is((await kit.req('POST', '/v1/node-tokens', { json: { role: 'edge', region: 'eu' } })).status, 401)
  const { token: session } = await customer(kit, 'carol')
  assert.is((await mint('edge', 'eu', session)).status, 403)
})

test('the overview shows regions with node status, items with holders, directives per minute and recent errors', async () => {
  const itemId = await ingest(kit, randomBytes(200_000), 'Overview film')
  const parent = nodeKey()
  const edge = nodeKey()
  assert.is((await register(parent.peerId, OPERATOR, 'parent')).status, 201)
  assert.is((await register(edge.peerId, ADMIN)).status, 201)
  const hb = toText(signHeartbeat({ peerId: parent.peerId, seq: 1, sentAt: kit.clock.now, load: 0.5, freeBytes: 10, bytesServed: { edge: 1, parent: 0, peer: 0, client: 7 }, heldItems: [itemId] }, parent.signer))
  assert.is((await kit.req('POST', `/v1/nodes/${parent.peerId}/heartbeat`, { json: { heartbeat: hb } })).status, 200)
  assert.is((await kit.req('PUT', '/v1/regions/eu/preposition', { token: OPERATOR, json: { itemIds: [itemId] } })).status, 200)
  const { token } = await customer(kit, 'dora', 'eu')
  const { licenseId } = await (await kit.req('POST', '/v1/rentals', { token, json: { itemId } })).json() as { licenseId: string }
  assert.is((await kit.req('POST', '/v1/directives', { token, json: { licenseId, clientPeerId: nodeKey().peerId } })).status, 201)
  kit.clock.now += 16_000

  assert.is((await kit.req('GET', '/v1/operator/overview')).status, 401)
  const res = await kit.req('GET', '/v1/operator/overview', { token: OPERATOR })
  assert.is(res.status, 200)
  const o = await res.json() as any
  assert.is(o.regions.length, 1)
  const eu = o.regions[0]
  assert.equal(eu.operatorPreposition, [itemId])
  const byId = new Map<string, any>(eu.nodes.map((n: any) => [n.peerId, n]))
  assert.is(byId.get(parent.peerId).status, 'down', 'no heartbeat for longer than the timeout')
  assert.is(byId.get(parent.peerId).bytesServed.client, 7)
  assert.ok(byId.get(parent.peerId).lastHeartbeatAgeMs >= 16_000)
  const item = o.items.find((i: any) => i.itemId === itemId)
  assert.is(item.parentsHolding, 1)
  assert.is(item.parents, 1)
  assert.equal(item.edgesPrepositioning, [edge.peerId])
  assert.equal(item.prepositionedIn, ['eu'])
  assert.is(o.directivesPerMinute.length, DIRECTIVE_RATE_MINUTES)
  assert.is(o.directivesPerMinute.reduce((n: number, m: any) => n + m.count, 0), 1)
  assert.ok(Array.isArray(o.recentErrors))
})

test('the page is served with a strict CSP and its script from main itself', async () => {
  const page = await kit.req('GET', '/')
  assert.is(page.status, 200)
  assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/)
  const html = await page.text()
  assert.match(html, /<script src="\/operator.js"><\/script>/)
  assert.not.match(html, /https?:\/\//, 'no outside links')
  const js = await kit.req('GET', '/operator.js')
  assert.is(js.status, 200)
  assert.match(js.headers.get('content-type') ?? '', /javascript/)
  assert.not.match(await js.text(), /innerHTML/, 'values are written as text')
})

test.run()
