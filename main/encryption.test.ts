import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes, createHash } from 'node:crypto'
import { newKit, customer, streamOf, ADMIN, type Kit } from './test-kit.ts'
import { verifyLicense, verifyManifest } from '../protocol/documents.ts'
import { fromText } from '../protocol/signing.ts'
import { createSigner, peerIdOf } from '../protocol/keys.ts'
import { openContentKey, type SealedBox } from '../protocol/seal.ts'
import { cryptAt } from '../protocol/content-crypto.ts'
import { nodeAesCtr } from '../protocol/aes-ctr-node.ts'
import { MismatchError } from '../protocol/errors.ts'
import { PURCHASE_EXPIRES_AT } from '../protocol/limits.ts'
import type { Manifest } from '../protocol/types.ts'

const CHUNK = 64 * 1024
const MARKER = 'REELNET-PLAINTEXT-MARKER-14a'
let kit: Kit
let logs: string[]
test.before.each(async () => {
  logs = []
  kit = await newKit({ log: (level, msg, extra) => { logs.push(JSON.stringify({ level, msg, ...extra })) } })
})
test.after.each(async () => { await kit.close() })

function film (size: number): Uint8Array {
  const bytes = new Uint8Array(randomBytes(size))
  const marker = new TextEncoder().encode(MARKER)
  for (let at = 100; at + marker.length < size; at += 20_000) bytes.set(marker, at)
  return bytes
}

/** Ingest encrypted, the body streamed in 1000-byte pieces (neither chunk- nor block-aligned). */
async function ingestEncrypted (bytes: Uint8Array, q = 'encrypt=true'): Promise<{ itemId: string, manifest: Manifest }> {
  const res = await kit.req('POST', `/v1/items?title=Secret&chunkSize=${CHUNK}&${q}`, { body: streamOf(bytes, 1000), token: ADMIN })
  assert.is(res.status, 201)
  const body = await res.json() as { itemId: string, manifest: string, encrypted: boolean }
  return { itemId: body.itemId, manifest: verifyManifest(fromText(body.manifest), { publicKey: await kit.publicKey(), itemId: body.itemId }) }
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

test('an encrypted ingest: the origin holds ciphertext (no plaintext marker), the manifest hashes it and names a keyId, the stored key decrypts it', async () => {
  const bytes = film(3 * CHUNK + 777)
  const { itemId, manifest } = await ingestEncrypted(bytes)
  assert.ok(manifest.encryption !== undefined)
  assert.is(manifest.encryption.alg, 'aes-256-ctr')
  assert.is.not(itemId, Buffer.from(manifest.merkleRoot.subarray(0, 16)).toString('hex'), 'a random itemId, not the root')
  const files = (await readdir(join(kit.dir, 'origin'))).sort()
  assert.equal(files, manifest.chunkHashes.map(h => Buffer.from(h).toString('hex')).sort())
  const origin = Buffer.concat(await Promise.all(manifest.chunkHashes.map(async h => await readFile(join(kit.dir, 'origin', Buffer.from(h).toString('hex'))))))
  assert.is(origin.indexOf(MARKER), -1, 'no plaintext marker in the origin chunks')
  manifest.chunkHashes.forEach((h, i) => { assert.is(sha(origin.subarray(i * CHUNK, (i + 1) * CHUNK)), Buffer.from(h).toString('hex')) })
  const key = await kit.main.services.catalog.contentKey(manifest)
  assert.ok(key !== undefined && key.length === 32)
  const plain = await cryptAt(nodeAesCtr, key, { itemId, version: manifest.version, chunkSize: CHUNK }, 0, origin)
  assert.ok(Buffer.from(plain).equals(Buffer.from(bytes)), 'the stored key decrypts the origin to the film')
  // the same film again is another item with another key (no deduplication of encrypted ingests)
  const again = await ingestEncrypted(bytes)
  assert.is.not(again.itemId, itemId)
  assert.is.not(again.manifest.encryption?.keyId, manifest.encryption.keyId)
})

test('a plaintext ingest (encrypt=false, or main\'s default) has no encryption field and hashes the bytes themselves', async () => {
  const bytes = film(CHUNK + 5)
  for (const q of ['encrypt=false', 'x=']) {
    const res = await kit.req('POST', `/v1/items?title=Plain&chunkSize=${CHUNK}${q === 'x=' ? '' : '&' + q}`, { body: bytes as RequestInit['body'], token: ADMIN })
    assert.ok(res.status === 201 || res.status === 200)
    const { itemId, manifest } = await res.json() as { itemId: string, manifest: string }
    const m = verifyManifest(fromText(manifest), { publicKey: await kit.publicKey(), itemId })
    assert.is(m.encryption, undefined)
    assert.is(Buffer.from(m.chunkHashes[0]!).toString('hex'), sha(bytes.subarray(0, CHUNK)))
  }
})

async function directiveFor (token: string, licenseId: string, seed: Uint8Array): Promise<Response> {
  return await kit.req('POST', '/v1/directives', { token, json: { licenseId, clientPeerId: peerIdOf(createSigner(seed).publicKey), region: 'eu' } })
}

test('POST /v1/directives carries the key sealed to the directive\'s client: A opens it, B cannot, B gets no directive on A\'s licence, and no log line holds the key', async () => {
  const { itemId, manifest } = await ingestEncrypted(film(2 * CHUNK))
  const a = await customer(kit, 'alice')
  const b = await customer(kit, 'bob')
  const rent = await kit.req('POST', '/v1/rentals', { token: a.token, json: { itemId } })
  assert.is(rent.status, 201)
  const { licenseId } = await rent.json() as { licenseId: string }
  const seedA = new Uint8Array(randomBytes(32))
  const seedB = new Uint8Array(randomBytes(32))
  const resA = await directiveFor(a.token, licenseId, seedA)
  assert.is(resA.status, 201)
  const bodyA = await resA.json() as { contentKey?: SealedBox }
  assert.ok(bodyA.contentKey !== undefined, 'the directive answer carries contentKey')
  const pidA = peerIdOf(createSigner(seedA).publicKey)
  const key = openContentKey(bodyA.contentKey, { seed: seedA, clientPeerId: pidA, licenseId })
  assert.equal(key, await kit.main.services.catalog.contentKey(manifest))
  assert.throws(() => openContentKey(bodyA.contentKey, { seed: seedB, clientPeerId: pidA, licenseId }), (e: Error) => e instanceof MismatchError)
  // B presents A's licence: refused, and the refusal carries no key
  const resB = await directiveFor(b.token, licenseId, seedB)
  assert.is(resB.status, 403)
  const textB = await resB.text()
  assert.not.match(textB, /contentKey|epk|box/)
  // B's own rental of the same item gets a box only B opens
  const rentB = await (await kit.req('POST', '/v1/rentals', { token: b.token, json: { itemId } })).json() as { licenseId: string }
  const boxB = (await (await directiveFor(b.token, rentB.licenseId, seedB)).json() as { contentKey: SealedBox }).contentKey
  assert.throws(() => openContentKey(boxB, { seed: seedA, clientPeerId: pidA, licenseId: rentB.licenseId }), (e: Error) => e instanceof MismatchError)
  // a renewal by the same client gets a box that still opens
  const again = await (await directiveFor(a.token, licenseId, seedA)).json() as { contentKey: SealedBox }
  assert.equal(openContentKey(again.contentKey, { seed: seedA, clientPeerId: pidA, licenseId }), key)
  const keyText = [Buffer.from(key!).toString('base64url'), Buffer.from(key!).toString('hex'), Buffer.from(key!).toString('base64')]
  assert.ok(logs.some(l => l.includes('directive issued')), 'main logged the directives')
  for (const line of logs) for (const k of keyText) assert.not.ok(line.includes(k), `a log line holds the key: ${line}`)
  for (const line of logs) assert.not.ok(line.includes(bodyA.contentKey.box), 'a log line holds the sealed box')
})

test('a plaintext item\'s directive has no contentKey', async () => {
  const res = await kit.req('POST', `/v1/items?title=Plain&chunkSize=${CHUNK}&encrypt=false`, { body: film(CHUNK) as RequestInit['body'], token: ADMIN })
  const { itemId } = await res.json() as { itemId: string }
  const a = await customer(kit, 'carol')
  const { licenseId } = await (await kit.req('POST', '/v1/rentals', { token: a.token, json: { itemId } })).json() as { licenseId: string }
  const d = await directiveFor(a.token, licenseId, new Uint8Array(randomBytes(32)))
  assert.is(d.status, 201)
  assert.is((await d.json() as { contentKey?: unknown }).contentKey, undefined)
})

test('licences state their kind and offline grace: a rental by default (its period starts at rent), a purchase never ends', async () => {
  const { itemId } = await ingestEncrypted(film(CHUNK))
  const a = await customer(kit, 'dave')
  const publicKey = await kit.publicKey()
  const rental = await (await kit.req('POST', '/v1/rentals', { token: a.token, json: { itemId } })).json() as { license: string, kind: string, expiresAt: number }
  const l = verifyLicense(fromText(rental.license), { publicKey, now: kit.clock.now })
  assert.is(l.kind, 'rental')
  assert.is(rental.kind, 'rental')
  assert.is(l.notBefore, kit.clock.now, 'the rental period starts at rent')
  assert.ok(l.expiresAt > l.notBefore && l.expiresAt < PURCHASE_EXPIRES_AT)
  assert.ok((l.offlineGraceMs ?? 0) > 0)
  const bought = await kit.req('POST', '/v1/rentals', { token: a.token, json: { itemId, kind: 'purchase' } })
  assert.is(bought.status, 201)
  const p = verifyLicense(fromText((await bought.json() as { license: string }).license), { publicKey, now: kit.clock.now + 100 * 365 * 86400_000 })
  assert.is(p.kind, 'purchase')
  assert.is(p.expiresAt, PURCHASE_EXPIRES_AT)
  assert.is(new Date(p.expiresAt).getUTCFullYear(), 275760)
  assert.is((await kit.req('POST', '/v1/rentals', { token: a.token, json: { itemId, kind: 'forever' } })).status, 422)
})

test('ingest refuses a bad encrypt flag', async () => {
  const res = await kit.req('POST', `/v1/items?title=x&encrypt=yes`, { body: new Uint8Array(10) as RequestInit['body'], token: ADMIN })
  assert.is(res.status, 422)
})

test.run()
