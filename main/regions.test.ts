import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { newKit, nodeKey, customer, ingest, OPERATOR, type Kit } from './test-kit.ts'

let kit: Kit
test.before.each(async () => { kit = await newKit() })
test.after.each(async () => { await kit.close() })

const PW = 'correct horse battery'

async function node (role: 'parent' | 'edge', region: string): Promise<string> {
  const k = nodeKey()
  const res = await kit.req('POST', '/v1/nodes', { token: OPERATOR, json: { peerId: k.peerId, role, region, addrs: ['/ip4/127.0.0.1/tcp/4001'], capacityBytes: 1e9 } })
  assert.is(res.status, 201)
  return k.peerId
}

async function signUp (username: string, region: string): Promise<Response> {
  return await kit.req('POST', '/v1/accounts', { json: { username, password: PW, region } })
}

test('sign-up for a region with no parent is refused with the list of regions that have one', async () => {
  await node('parent', 'us')
  await node('parent', 'eu')
  await node('edge', 'asia') // an edge alone cannot serve an item it does not hold
  const refused = await signUp('marvin', 'mars')
  assert.is(refused.status, 422)
  assert.equal(await refused.json(), { error: { code: 'invalid', message: "region 'mars' has no parent node; choose one of: eu, us" } })
  assert.is((await signUp('ash', 'asia')).status, 422)
  assert.is((await signUp('erin', 'eu')).status, 201)
  assert.is((await kit.req('POST', '/v1/accounts', { json: { username: 'nora', password: PW } })).status, 201, 'no region at all is still allowed')
  assert.equal(await (await kit.req('GET', '/v1/regions')).json(), { regions: ['eu', 'us'] })
})

test('while no parent is registered anywhere (main started before its nodes), any well-formed region is accepted', async () => {
  await node('edge', 'eu')
  assert.equal(await (await kit.req('GET', '/v1/regions')).json(), { regions: [] })
  assert.is((await signUp('early', 'eu')).status, 201)
  assert.is((await signUp('earlier', 'anywhere')).status, 201)
})

test('a region whose only parent was removed is no longer offered', async () => {
  const p = await node('parent', 'eu')
  await node('parent', 'us')
  assert.is((await kit.req('DELETE', `/v1/nodes/${p}`, { token: OPERATOR })).status, 200)
  const res = await signUp('late', 'eu')
  assert.is(res.status, 422)
  assert.match((await res.json() as { error: { message: string } }).error.message, /choose one of: us$/)
})

test('a directive that names nobody says why beside it: every node down or drained, or none registered', async () => {
  const itemId = await ingest(kit, new Uint8Array(50_000).fill(1))
  await node('parent', 'eu')
  const edge = await node('edge', 'eu')
  assert.is((await kit.req('POST', `/v1/nodes/${edge}/drain`, { token: OPERATOR, json: { drained: true } })).status, 200)
  const { token } = await customer(kit, 'dora', 'eu')
  const { licenseId } = await (await kit.req('POST', '/v1/rentals', { token, json: { itemId } })).json() as { licenseId: string }
  const ask = async (region?: string): Promise<{ unserved?: string }> => {
    const res = await kit.req('POST', '/v1/directives', { token, json: { licenseId, clientPeerId: nodeKey().peerId, ...(region === undefined ? {} : { region }) } })
    assert.is(res.status, 201)
    return await res.json() as { unserved?: string }
  }
  assert.is((await ask()).unserved, undefined, 'the parent is up')
  kit.clock.now += 10 * 60_000
  assert.is((await ask()).unserved, "every node of region 'eu' is down or drained (1 parent down, 1 edge drained; last heartbeat 600 s ago)")
  assert.is((await ask('nowhere')).unserved, "region 'nowhere' has no parent or edge registered")
})

test.run()
