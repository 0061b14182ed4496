import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { newKit, nodeKey, customer, ingest, OPERATOR, type Kit } from './test-kit.ts'
import { verifyDirective, verifyRules, signHeartbeat } from '../protocol/documents.ts'
import type { HeartbeatServing } from '../protocol/types.ts'
import { fromText, toText } from '../protocol/signing.ts'
import { servingLoad } from './serving-load.ts'

let kit: Kit
let itemId: string
test.before.each(async () => {
  kit = await newKit({ heartbeatTimeoutMs: 15_000 })
  itemId = await ingest(kit, new Uint8Array(200_000).fill(3))
})
test.after.each(async () => { await kit.close() })

async function register (role: 'edge' | 'parent', fastLane?: string): Promise<ReturnType<typeof nodeKey>> {
  const k = nodeKey()
  const res = await kit.req('POST', '/v1/nodes', { token: OPERATOR, json: { peerId: k.peerId, role, region: 'eu', addrs: ['/ip4/127.0.0.1/tcp/4001'], capacityBytes: 1e9, ...(fastLane !== undefined ? { fastLane } : {}) } })
  assert.is(res.status, 201)
  return k
}

let seq = 0
async function heartbeat (k: ReturnType<typeof nodeKey>, serving: HeartbeatServing): Promise<void> {
  kit.clock.now += 1
  const hb = toText(signHeartbeat({ peerId: k.peerId, seq: ++seq, sentAt: kit.clock.now, load: 0, freeBytes: 0, bytesServed: { edge: 0, parent: 0, peer: 0, client: 0 }, heldItems: [], serving }, k.signer))
  assert.is((await kit.req('POST', `/v1/nodes/${k.peerId}/heartbeat`, { json: { heartbeat: hb } })).status, 200)
}

async function directivePeers (): Promise<Array<{ peerId: string, fastLane?: string }>> {
  const { token } = await customer(kit, `user${++seq}`, 'eu')
  const rent = await (await kit.req('POST', '/v1/rentals', { token, json: { itemId } })).json() as { licenseId: string }
  const res = await (await kit.req('POST', '/v1/directives', { token, json: { licenseId: rent.licenseId, clientPeerId: nodeKey().peerId } })).json() as { directive: string }
  return verifyDirective(fromText(res.directive), { publicKey: await kit.publicKey(), now: kit.clock.now }).peers
}

const idle: HeartbeatServing = { bytesPerSecond: 0, uplinkBytesPerSecond: 100e6, streams: 0, fillQueue: 0 }
const atUplink: HeartbeatServing = { bytesPerSecond: 100e6, uplinkBytesPerSecond: 100e6, streams: 12, fillQueue: 0 }

test('a registered fast lane travels in the rules and in directives', async () => {
  const edge = await register('edge', '/ip4/127.0.0.1/tcp/4443')
  const parent = await register('parent')
  const rules = verifyRules(fromText((await (await kit.req('GET', '/v1/rules')).json() as { rules: string }).rules), { publicKey: await kit.publicKey(), now: kit.clock.now })
  const eu = rules.regions.find(r => r.name === 'eu')!
  assert.is(eu.edges.find(e => e.peerId === edge.peerId)?.fastLane, '/ip4/127.0.0.1/tcp/4443')
  assert.is(eu.parents.find(e => e.peerId === parent.peerId)?.fastLane, undefined)
  const peers = await directivePeers()
  assert.is(peers.find(p => p.peerId === edge.peerId)?.fastLane, '/ip4/127.0.0.1/tcp/4443')
  assert.not.ok('fastLane' in peers.find(p => p.peerId === parent.peerId)!)
})

test('a seeding customer\'s reported fast lane is named in other customers\' directives', async () => {
  await register('edge')
  const alice = await customer(kit, 'alicelane', 'eu')
  const rent = await (await kit.req('POST', '/v1/rentals', { token: alice.token, json: { itemId } })).json() as { licenseId: string }
  const alicePeer = nodeKey().peerId
  const hold = await kit.req('POST', '/v1/holdings', { token: alice.token, json: { licenseId: rent.licenseId, peerId: alicePeer, addrs: ['/ip4/127.0.0.1/tcp/5001'], region: 'eu', complete: true, fastLane: '/ip4/127.0.0.1/tcp/5002' } })
  assert.is(hold.status, 200)
  const peers = await directivePeers()
  assert.is(peers.find(p => p.peerId === alicePeer)?.fastLane, '/ip4/127.0.0.1/tcp/5002')
  const bad = await kit.req('POST', '/v1/holdings', { token: alice.token, json: { licenseId: rent.licenseId, peerId: alicePeer, addrs: ['/ip4/127.0.0.1/tcp/5001'], region: 'eu', complete: true, fastLane: 'nope' } })
  assert.is(bad.status, 422)
})

test('a fast lane that is not a multiaddr is refused at registration', async () => {
  const k = nodeKey()
  const res = await kit.req('POST', '/v1/nodes', { token: OPERATOR, json: { peerId: k.peerId, role: 'edge', region: 'eu', addrs: ['/ip4/127.0.0.1/tcp/1'], capacityBytes: 1, fastLane: 'tls://x' } })
  assert.is(res.status, 422)
})

test('an edge at its uplink is ranked below an idle one; when the load moves, the order follows', async () => {
  const a = await register('edge')
  const b = await register('edge')
  await heartbeat(a, idle)
  await heartbeat(b, atUplink)
  assert.equal((await directivePeers()).map(p => p.peerId), [a.peerId, b.peerId])
  await heartbeat(a, atUplink)
  await heartbeat(b, idle)
  assert.equal((await directivePeers()).map(p => p.peerId), [b.peerId, a.peerId])
})

test('servingLoad: the larger of the reported load, uplink use and streams; capped at 1', () => {
  assert.is(servingLoad({ load: 0.2 }), 0.2)
  assert.is(servingLoad({ load: 0, serving: { bytesPerSecond: 50, uplinkBytesPerSecond: 100, streams: 0, fillQueue: 3 } }), 0.5)
  assert.is(servingLoad({ load: 0.7, serving: { bytesPerSecond: 50, uplinkBytesPerSecond: 100, streams: 0, fillQueue: 0 } }), 0.7)
  assert.is(servingLoad({ load: 0, serving: { bytesPerSecond: 500, uplinkBytesPerSecond: 0, streams: 128, fillQueue: 0 } }), 0.5)
  assert.is(servingLoad({ load: 0, serving: { bytesPerSecond: 500, uplinkBytesPerSecond: 100, streams: 0, fillQueue: 0 } }), 1)
})

test.run()
