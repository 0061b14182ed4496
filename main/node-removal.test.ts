import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { newKit, nodeKey, customer, ingest, OPERATOR, type Kit } from './test-kit.ts'
import { verifyDirective, verifyRules, signHeartbeat } from '../protocol/documents.ts'
import { fromText, toText } from '../protocol/signing.ts'
import { removeSilentNodes, nodeSweepIntervalMs, NODE_SWEEP_MAX_INTERVAL_MS } from './node-removal.ts'

let kit: Kit
test.after.each(async () => { await kit?.close() })

const ADDR = '/ip4/127.0.0.1/tcp/4001'
const DAY = 24 * 3600_000

async function mintToken (role: 'edge' | 'parent', region: string): Promise<string> {
  const res = await kit.req('POST', '/v1/node-tokens', { token: OPERATOR, json: { role, region } })
  assert.is(res.status, 201)
  return (await res.json() as { token: string }).token
}

async function register (k: { peerId: string }, role: 'edge' | 'parent', region: string, token: string): Promise<Response> {
  return await kit.req('POST', '/v1/nodes', { token, json: { peerId: k.peerId, role, region, addrs: [ADDR], capacityBytes: 1e9 } })
}

async function signedRulesPeers (): Promise<string[]> {
  const body = await (await kit.req('GET', '/v1/rules')).json() as { rules: string }
  const rules = verifyRules(fromText(body.rules), { publicKey: await kit.publicKey(), now: kit.clock.now })
  return rules.regions.flatMap(r => [...r.parents, ...r.edges].map(n => n.peerId))
}

test('remove takes a node out of the next signed rules and out of directives; its token is spent, a fresh one registers it again', async () => {
  kit = await newKit({ heartbeatTimeoutMs: 15_000 })
  const itemId = await ingest(kit, new Uint8Array(100_000).fill(7))
  const edge = nodeKey()
  const parent = nodeKey()
  const edgeToken = await mintToken('edge', 'eu')
  assert.is((await register(edge, 'edge', 'eu', edgeToken)).status, 201)
  assert.is((await register(parent, 'parent', 'eu', await mintToken('parent', 'eu'))).status, 201)
  const { token } = await customer(kit, 'carol', 'eu')
  const rental = await (await kit.req('POST', '/v1/rentals', { token, json: { itemId } })).json() as { licenseId: string }
  const client = nodeKey()
  const named = async (): Promise<string[]> => {
    const res = await kit.req('POST', '/v1/directives', { token, json: { licenseId: rental.licenseId, clientPeerId: client.peerId } })
    assert.is(res.status, 201)
    const d = verifyDirective(fromText((await res.json() as { directive: string }).directive), { publicKey: await kit.publicKey(), now: kit.clock.now })
    return d.peers.map(p => p.peerId)
  }
  assert.equal((await named()).sort(), [edge.peerId, parent.peerId].sort())
  const before = (await (await kit.req('GET', '/v1/rules')).json() as { version: number }).version

  const res = await kit.req('DELETE', `/v1/nodes/${edge.peerId}`, { token: OPERATOR })
  assert.is(res.status, 200)
  const body = await res.json() as { removed: { peerId: string, region: string }, tokensSpent: number, rulesVersion: number }
  assert.is(body.removed.peerId, edge.peerId)
  assert.is(body.tokensSpent, 1)
  assert.ok(body.rulesVersion > before, 'a new rules version')
  assert.equal(await signedRulesPeers(), [parent.peerId])
  assert.equal(await named(), [parent.peerId], 'directives stop naming it at once')
  const nodes = await (await kit.req('GET', '/v1/nodes', { token: OPERATOR })).json() as { nodes: Array<{ peerId: string }> }
  assert.equal(nodes.nodes.map(n => n.peerId), [parent.peerId])

  // the removed node's heartbeats are refused, and its old token no longer registers it
  const hb = toText(signHeartbeat({ peerId: edge.peerId, seq: 5, sentAt: kit.clock.now, load: 0, freeBytes: 1, bytesServed: { edge: 0, parent: 0, peer: 0, client: 0 }, heldItems: [] }, edge.signer))
  assert.is((await kit.req('POST', `/v1/nodes/${edge.peerId}/heartbeat`, { json: { heartbeat: hb } })).status, 404)
  const again = await register(edge, 'edge', 'eu', edgeToken)
  assert.is(again.status, 403)
  assert.match((await again.json() as { error: { message: string } }).error.message, /spent.*removed.*fresh token/)
  assert.is((await register(edge, 'edge', 'eu', await mintToken('edge', 'eu'))).status, 201)
  assert.equal((await signedRulesPeers()).sort(), [edge.peerId, parent.peerId].sort())
})

test('remove: an unknown node is 404, and it needs the operator token', async () => {
  kit = await newKit()
  const n = nodeKey()
  assert.is((await register(n, 'edge', 'eu', OPERATOR)).status, 201)
  const unknown = await kit.req('DELETE', `/v1/nodes/${nodeKey().peerId}`, { token: OPERATOR })
  assert.is(unknown.status, 404)
  assert.match((await unknown.json() as { error: { message: string } }).error.message, /not registered/)
  assert.is((await kit.req('DELETE', `/v1/nodes/${n.peerId}`)).status, 401)
  assert.is((await kit.req('DELETE', `/v1/nodes/${n.peerId}`, { token: 'wrong-token-0123456789' })).status, 401)
  const { token } = await customer(kit, 'dave')
  assert.is((await kit.req('DELETE', `/v1/nodes/${n.peerId}`, { token })).status, 403)
  assert.is((await kit.req('DELETE', '/v1/nodes/not!a!peer', { token: OPERATOR })).status, 422)
  assert.equal(await signedRulesPeers(), [n.peerId], 'still there')
})

test('a node silent for longer than the removal period leaves the rules; one that heartbeats stays', async () => {
  kit = await newKit({ heartbeatTimeoutMs: 15_000 })
  const quiet = nodeKey()
  const alive = nodeKey()
  const token = await mintToken('edge', 'eu')
  assert.is((await register(quiet, 'edge', 'eu', token)).status, 201)
  assert.is((await register(alive, 'parent', 'eu', OPERATOR)).status, 201)
  const removalMs = 7 * DAY
  for (let day = 1; day <= 7; day++) {
    kit.clock.now += DAY
    const hb = toText(signHeartbeat({ peerId: alive.peerId, seq: day, sentAt: kit.clock.now, load: 0, freeBytes: 1, bytesServed: { edge: 0, parent: 0, peer: 0, client: 0 }, heldItems: [] }, alive.signer))
    assert.is((await kit.req('POST', `/v1/nodes/${alive.peerId}/heartbeat`, { json: { heartbeat: hb } })).status, 200)
    assert.equal(await removeSilentNodes(kit.main.services, removalMs), [], `nothing removed on day ${day}`)
  }
  kit.clock.now += 1
  const gone = await removeSilentNodes(kit.main.services, removalMs)
  assert.equal(gone.map(n => n.peerId), [quiet.peerId])
  assert.equal(await signedRulesPeers(), [alive.peerId])
  assert.is((await register(quiet, 'edge', 'eu', token)).status, 403, 'its token was spent')
  const metrics = await (await kit.req('GET', '/metrics', { token: OPERATOR })).text()
  assert.match(metrics, /reelnet_nodes_removed_total\{reason="silent"\} 1/)
})

test('main removes silent nodes by itself after a short configured period', async () => {
  // main's sweep runs on its real timer (every 250 ms for this period); the silence is measured on the kit's clock,
  // which moves only here: on the real clock a registration and a rules read slower than the period (a loaded
  // machine) saw the node removed before it was ever checked as listed
  kit = await newKit({ nodeRemovalMs: 1_000, heartbeatTimeoutMs: 500 })
  const n = nodeKey()
  assert.is((await register(n, 'edge', 'eu', OPERATOR)).status, 201)
  assert.equal(await signedRulesPeers(), [n.peerId])
  // silent for longer than the period (the boundary itself is the test above's)
  kit.clock.now += 1_001
  // the registry drops the node before the new rules are signed and stored: wait for both, up to 20 s
  const until = Date.now() + 20_000
  const gone = async (): Promise<boolean> => kit.main.services.registry.get(n.peerId) === undefined && (await signedRulesPeers()).length === 0
  while (!(await gone()) && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 100))
  assert.is(kit.main.services.registry.get(n.peerId), undefined, 'removed by the sweep within 20 s of the period passing')
  assert.equal(await signedRulesPeers(), [], 'and out of the signed rules')
})

test('the sweep runs often enough for the period, never more than every 250 ms, at most a minute apart', () => {
  assert.is(nodeSweepIntervalMs(1_000), 250)
  assert.is(nodeSweepIntervalMs(100), 250)
  assert.is(nodeSweepIntervalMs(7 * DAY), NODE_SWEEP_MAX_INTERVAL_MS)
})

test.run()
