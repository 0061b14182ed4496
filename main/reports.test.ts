import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash } from 'node:crypto'
import { newKit, nodeKey, customer, ingest, OPERATOR, type Kit } from './test-kit.ts'
import { verifyDirective } from '../protocol/documents.ts'
import { fromText } from '../protocol/signing.ts'
import { signNodeAuth } from '../protocol/node-auth.ts'
import type { Signer } from '../protocol/keys.ts'
import { QUARANTINE_WINDOW_MS, REPORTS_PER_REPORTER_PER_MINUTE } from './reports.ts'

let kit: Kit
let itemId: string
let edge: string
let parent: string
test.before.each(async () => {
  kit = await newKit({ heartbeatTimeoutMs: 3600_000 })
  itemId = await ingest(kit, new Uint8Array(100_000).fill(9))
  edge = await node('edge')
  parent = await node('parent')
})
test.after.each(async () => { await kit.close() })

type Key = { signer: Signer, peerId: string }

async function node (role: 'parent' | 'edge', region = 'eu'): Promise<string> {
  const k = nodeKey()
  assert.is((await kit.req('POST', '/v1/nodes', { token: OPERATOR, json: { peerId: k.peerId, role, region, addrs: ['/ip4/127.0.0.1/tcp/4001'], capacityBytes: 1e9 } })).status, 201)
  return k.peerId
}

/** A customer with a rental and a directive bound to a key of its own: a licensed reporter. */
async function licensedClient (name: string): Promise<{ key: Key, token: string, licenseId: string, named: () => Promise<string[]> }> {
  const { token } = await customer(kit, name, 'eu')
  const { licenseId } = await (await kit.req('POST', '/v1/rentals', { token, json: { itemId } })).json() as { licenseId: string }
  const key = nodeKey()
  const named = async (): Promise<string[]> => {
    const res = await kit.req('POST', '/v1/directives', { token, json: { licenseId, clientPeerId: key.peerId } })
    assert.is(res.status, 201)
    return verifyDirective(fromText((await res.json() as { directive: string }).directive), { publicKey: await kit.publicKey(), now: kit.clock.now }).peers.map(p => p.peerId)
  }
  await named()
  return { key, token, licenseId, named }
}

async function report (key: Key, source: string, over: Record<string, unknown> = {}, tamper?: (body: string) => string): Promise<Response> {
  const body = JSON.stringify({ itemId, source, region: 'eu', chunkIndex: 0, ...over })
  const path = `/v1/reports?sha256=${createHash('sha256').update(body).digest('hex')}`
  const auth = signNodeAuth(key.peerId, 'POST', path, kit.clock.now, m => key.signer.sign(m))
  return await kit.req('POST', path, { body: tamper === undefined ? body : tamper(body), headers: { authorization: auth, 'content-type': 'application/json' } })
}

async function quarantined (): Promise<string[]> {
  const body = await (await kit.req('GET', '/v1/quarantine', { token: OPERATOR })).json() as { quarantined: Array<{ peerId: string }> }
  return body.quarantined.map(q => q.peerId)
}

test('two licensed reporters name a corrupt edge: it is quarantined, directives stop naming it, the operator page shows it, an operator clears it', async () => {
  const a = await licensedClient('alice')
  const b = await licensedClient('bob')
  assert.equal((await a.named()).sort(), [edge, parent].sort())
  const first = await report(a.key, edge)
  assert.is(first.status, 202)
  assert.equal(await first.json(), { quarantined: false, reporters: 1 })
  assert.equal(await quarantined(), [])
  const second = await report(b.key, edge, { chunkIndex: 1 })
  assert.equal(await second.json(), { quarantined: true, reporters: 2 })
  assert.equal(await quarantined(), [edge])
  assert.equal(await a.named(), [parent], 'directives stop naming it')
  const overview = await (await kit.req('GET', '/v1/operator/overview', { token: OPERATOR })).json() as { quarantined: Array<{ peerId: string, role: string, reporters: string[] }>, regions: Array<{ nodes: Array<{ peerId: string, quarantined: boolean }> }> }
  assert.equal(overview.quarantined.map(q => [q.peerId, q.role, q.reporters.length]), [[edge, 'edge', 2]])
  assert.ok(overview.regions[0]!.nodes.find(n => n.peerId === edge)!.quarantined)
  const metrics = await (await kit.req('GET', '/metrics', { token: OPERATOR })).text()
  assert.match(metrics, /reelnet_sources_quarantined 1/)
  assert.match(metrics, /reelnet_source_reports_total\{outcome="accepted"\} 2/)

  assert.is((await kit.req('DELETE', `/v1/quarantine/${edge}`)).status, 401)
  assert.is((await kit.req('DELETE', `/v1/quarantine/${edge}`, { token: OPERATOR })).status, 200)
  assert.equal(await quarantined(), [])
  assert.equal((await a.named()).sort(), [edge, parent].sort(), 'named again once cleared')
  assert.is((await kit.req('DELETE', `/v1/quarantine/${edge}`, { token: OPERATOR })).status, 404)
  // cleared means its old reports are forgotten: one new report is one reporter again
  assert.equal(await (await report(a.key, edge)).json(), { quarantined: false, reporters: 1 })
})

test('one lying reporter cannot quarantine an honest edge: not by repeating, not under a second key of its account', async () => {
  const liar = await licensedClient('mallory')
  for (let i = 0; i < 5; i++) assert.is((await report(liar.key, edge, { chunkIndex: i })).status, 202)
  // a second client key on the same account, with its own directive
  const key2 = nodeKey()
  assert.is((await kit.req('POST', '/v1/directives', { token: liar.token, json: { licenseId: liar.licenseId, clientPeerId: key2.peerId } })).status, 201)
  const again = await report(key2, edge)
  assert.equal(await again.json(), { quarantined: false, reporters: 1 })
  assert.equal(await quarantined(), [])
  assert.ok((await liar.named()).includes(edge))
})

test('reports from the same reporter are rate-limited; reports older than the window no longer count', async () => {
  const a = await licensedClient('carol')
  for (let i = 0; i < REPORTS_PER_REPORTER_PER_MINUTE; i++) assert.is((await report(a.key, edge, { chunkIndex: i })).status, 202)
  const limited = await report(a.key, edge)
  assert.is(limited.status, 429)
  assert.ok(limited.headers.get('retry-after') !== null)
  kit.clock.now += QUARANTINE_WINDOW_MS + 1
  const b = await licensedClient('dan')
  assert.equal(await (await report(b.key, edge)).json(), { quarantined: false, reporters: 1 }, 'carol\'s report has aged out')
})

test('a node of the region counts as a reporter; strangers, forged and tampered reports are refused', async () => {
  const a = await licensedClient('erin')
  // the parent's own key is not at hand here: a second edge registered with a key we hold reports
  const reporterEdge = nodeKey()
  assert.is((await kit.req('POST', '/v1/nodes', { token: OPERATOR, json: { peerId: reporterEdge.peerId, role: 'edge', region: 'eu', addrs: ['/ip4/127.0.0.1/tcp/4002'], capacityBytes: 1e9 } })).status, 201)
  assert.equal(await (await report(reporterEdge, parent)).json(), { quarantined: false, reporters: 1 })
  assert.equal(await (await report(a.key, parent)).json(), { quarantined: true, reporters: 2 })

  const stranger = nodeKey() // no directive, not a node
  const refused = await report(stranger, edge)
  assert.is(refused.status, 403)
  assert.match((await refused.json() as { error: { message: string } }).error.message, /only a node of region eu or a client holding an unexpired directive/)
  assert.is((await report(a.key, edge, { region: 'us' })).status, 403, 'licensed for eu, not us')
  const tampered = await report(a.key, edge, {}, body => body.replace('"chunkIndex":0', '"chunkIndex":7'))
  assert.is(tampered.status, 401)
  const forged = await kit.req('POST', `/v1/reports?sha256=${'0'.repeat(64)}`, { body: '{}', headers: { authorization: `ReelnetNode peerId=${a.key.peerId},ts=${kit.clock.now},sig=${'A'.repeat(86)}` } })
  assert.is(forged.status, 401)
  assert.is((await report(a.key, a.key.peerId)).status, 422, 'not itself')
  assert.is((await report(a.key, edge, { chunkIndex: -1 })).status, 422)
  assert.is((await report(a.key, edge, { extra: 'x'.repeat(3000) })).status, 413)
  assert.equal(await quarantined(), [parent])
})

test('a quarantine survives a restart of main', async () => {
  const a = await licensedClient('fay')
  const b = await licensedClient('gus')
  await report(a.key, edge)
  await report(b.key, edge)
  const dir = kit.dir
  await kit.main.close()
  const { createMain } = await import('./app.ts')
  const again = await createMain({ dataDir: dir, adminToken: 'admin-token-0123456789abcdef', operatorToken: OPERATOR, now: () => kit.clock.now })
  try {
    assert.ok(again.services.reports.isQuarantined(edge))
  } finally {
    await again.close()
  }
  kit = await newKit({}, dir) // the after-each hook closes this one, and removes the folder
  const { rm } = await import('node:fs/promises')
  const close = kit.close
  kit.close = async () => { await close(); await rm(dir, { recursive: true, force: true }) }
})

test.run()
