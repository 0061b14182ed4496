import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes, createHash } from 'node:crypto'
import { newKit, customer, ingest, nodeKey, streamOf, ADMIN, OPERATOR, T0, type Kit } from './test-kit.ts'
import { verifyManifest } from '../protocol/documents.ts'
import { fromText } from '../protocol/signing.ts'
import { signNodeAuth } from '../protocol/node-auth.ts'

let kit: Kit
test.before.each(async () => { kit = await newKit({ maxItemBytes: 1024 * 1024 }) })
test.after.each(async () => { await kit.close() })

const CHUNK = 64 * 1024
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

async function originFiles (): Promise<string[]> {
  return (await readdir(join(kit.dir, 'origin'))).sort()
}

test('ingest streams the body into chunk files and a manifest that verifies against /v1/keys', async () => {
  const bytes = new Uint8Array(randomBytes(3 * CHUNK + 123))
  const res = await kit.req('POST', `/v1/items?title=Big%20Buck&chunkSize=${CHUNK}`, { body: streamOf(bytes), token: ADMIN })
  assert.is(res.status, 201)
  const { itemId, manifest } = await res.json() as { itemId: string, manifest: string }
  const m = verifyManifest(fromText(manifest), { publicKey: await kit.publicKey(), itemId })
  assert.is(m.size, bytes.length)
  assert.is(m.chunkCount, 4)
  assert.is(m.title, 'Big Buck')
  assert.is(itemId, Buffer.from(m.merkleRoot.subarray(0, 16)).toString('hex'))
  const expected = [0, 1, 2, 3].map(i => sha(bytes.subarray(i * CHUNK, (i + 1) * CHUNK)))
  assert.equal(m.chunkHashes.map(h => Buffer.from(h).toString('hex')), expected)
  assert.equal(await originFiles(), [...expected].sort())
  const got = await kit.req('GET', `/v1/items/${itemId}`)
  assert.is(got.status, 200)
  assert.is((await got.json() as { manifest: string }).manifest, manifest)
  const catalog = await (await kit.req('GET', '/v1/catalog')).json() as { items: unknown[] }
  assert.equal(catalog.items, [{
    itemId, title: 'Big Buck', size: bytes.length, chunkSize: CHUNK, chunkCount: 4, version: 1,
    rental: { hours: 48, price: null }, purchase: null, maxDevices: null, availableFrom: null, availableUntil: null, regions: null
  }])
})

test('re-ingesting the same bytes is idempotent', async () => {
  const bytes = new Uint8Array(randomBytes(2 * CHUNK))
  const a = await ingest(kit, bytes, 'one')
  const res = await kit.req('POST', `/v1/items?title=two&chunkSize=${CHUNK}`, { body: bytes as RequestInit['body'], token: ADMIN })
  assert.is(res.status, 200)
  assert.is((await res.json() as { itemId: string }).itemId, a)
  assert.is(((await (await kit.req('GET', '/v1/catalog')).json()) as { items: unknown[] }).items.length, 1)
})

test('ingest needs the admin token: 401 without, 403 with the operator token or a session', async () => {
  const body = (): RequestInit['body'] => new Uint8Array(100) as RequestInit['body']
  assert.is((await kit.req('POST', '/v1/items?title=x', { body: body() })).status, 401)
  assert.is((await kit.req('POST', '/v1/items?title=x', { body: body(), token: 'wrong-token-xxxxxxxx' })).status, 401)
  assert.is((await kit.req('POST', '/v1/items?title=x', { body: body(), token: OPERATOR })).status, 403)
  const { token } = await customer(kit, 'mallory')
  assert.is((await kit.req('POST', '/v1/items?title=x', { body: body(), token })).status, 403)
})

test('ingest refuses bad queries (422), an empty body (422) and no body (400)', async () => {
  for (const q of ['', '?title=', `?title=x&chunkSize=12`, `?title=x&chunkSize=${1024 ** 3}`, '?title=x&chunkSize=abc', '?title=x&other=1']) {
    const res = await kit.req('POST', `/v1/items${q}`, { body: new Uint8Array(10) as RequestInit['body'], token: ADMIN })
    assert.is(res.status, 422, q)
  }
  assert.is((await kit.req('POST', '/v1/items?title=x', { body: new Uint8Array(0) as RequestInit['body'], token: ADMIN })).status, 422)
  assert.is((await kit.req('POST', '/v1/items?title=x', { token: ADMIN })).status, 400)
})

test('an item over the limit is 413, with Content-Length up front and without it while streaming, leaving no chunk files', async () => {
  const declared = await kit.req('POST', '/v1/items?title=x', { body: new Uint8Array(10) as RequestInit['body'], token: ADMIN, headers: { 'content-length': String(2 * 1024 * 1024) } })
  assert.is(declared.status, 413)
  const streamed = await kit.req('POST', `/v1/items?title=x&chunkSize=${CHUNK}`, { body: streamOf(new Uint8Array(randomBytes(1024 * 1024 + 1))), token: ADMIN })
  assert.is(streamed.status, 413)
  assert.is(((await streamed.json()) as { error: { code: string } }).error.code, 'too_large')
  assert.equal(await originFiles(), [])
  assert.is(((await (await kit.req('GET', '/v1/catalog')).json()) as { items: unknown[] }).items.length, 0)
})

test('unknown or malformed item ids: 404 and 422', async () => {
  assert.is((await kit.req('GET', `/v1/items/${'a'.repeat(32)}`)).status, 404)
  assert.is((await kit.req('GET', '/v1/items/not-an-id')).status, 422)
  assert.is((await kit.req('GET', '/v1/nowhere')).status, 404)
})

test('origin chunks are served to registered nodes only, signed by their own key', async () => {
  const bytes = new Uint8Array(randomBytes(2 * CHUNK + 5))
  const itemId = await ingest(kit, bytes)
  const parent = nodeKey()
  const path = `/v1/items/${itemId}/chunks/2`
  const auth = (k = parent, p = path, ts = T0): Record<string, string> => ({ authorization: signNodeAuth(k.peerId, 'GET', p, ts, m => k.signer.sign(m)) })

  assert.is((await kit.req('GET', path)).status, 401)
  assert.is((await kit.req('GET', path, { headers: auth() })).status, 403) // not registered yet
  const reg = await kit.req('POST', '/v1/nodes', { token: OPERATOR, json: { peerId: parent.peerId, role: 'parent', region: 'eu', addrs: ['/ip4/127.0.0.1/tcp/4001'], capacityBytes: 1e9 } })
  assert.is(reg.status, 201)
  const ok = await kit.req('GET', path, { headers: auth() })
  assert.is(ok.status, 200)
  assert.is(ok.headers.get('content-type'), 'application/octet-stream')
  assert.equal(new Uint8Array(await ok.arrayBuffer()), bytes.subarray(2 * CHUNK))
  assert.is((await kit.req('GET', path, { headers: auth(parent, `/v1/items/${itemId}/chunks/1`) })).status, 401) // signed another path
  assert.is((await kit.req('GET', path, { headers: auth(parent, path, T0 - 120_000) })).status, 401) // stale
  const stranger = nodeKey()
  const forged = signNodeAuth(parent.peerId, 'GET', path, T0, m => stranger.signer.sign(m))
  assert.is((await kit.req('GET', path, { headers: { authorization: forged } })).status, 401)
  const missing = `/v1/items/${itemId}/chunks/3`
  assert.is((await kit.req('GET', missing, { headers: auth(parent, missing) })).status, 404)
})

test.run()
