import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { newKit, nodeKey, OPERATOR, type Kit } from './test-kit.ts'

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

test.run()
