/**
 * Known-answer vectors (test/vectors/documents.json), checked both ways:
 * fixed keys and documents encode and sign to exactly the stored bytes, with
 * either Ed25519 implementation; the stored bytes verify back to the
 * documents; and a third implementation (libp2p's) accepts the signatures.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { createSigner, peerIdOf, type Ed25519Impl } from './keys.ts'
import { encode } from './encoding.ts'
import { domainTag, fromText, readEnvelope, toText } from './signing.ts'
import {
  signDirective, signHeartbeat, signLicense, signManifest, signRevocations, signRules,
  verifyDirective, verifyHeartbeat, verifyLicense, verifyManifest, verifyRevocations, verifyRules
} from './documents.ts'
import { InvalidSignatureError } from './errors.ts'
import type { DocType } from './types.ts'

interface Vector { type: DocType, signer: 'main' | 'node', doc: unknown, domainTag: string, body: string, signature: string, envelope: string, text: string }
interface KeyVector { seed: string, publicKey: string, keyId: string, peerId: string }
const file = JSON.parse(readFileSync(new URL('../test/vectors/documents.json', import.meta.url), 'utf8')) as {
  keys: { main: KeyVector, node: KeyVector }, documents: Vector[]
}

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')
/** Byte fields are written {"$hex": "..."} in the JSON. */
const revive = (v: unknown): any =>
  Array.isArray(v) ? v.map(revive)
    : v !== null && typeof v === 'object'
      ? ('$hex' in v ? hex((v as { $hex: string }).$hex) : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)])))
      : v

const SIGN = { rules: signRules, manifest: signManifest, license: signLicense, directive: signDirective, heartbeat: signHeartbeat, revocations: signRevocations } as const
const mainPub = hex(file.keys.main.publicKey)
const nodePub = hex(file.keys.node.publicKey)
/** Verify at a moment inside each document's validity window. */
function verify (v: Vector, bytes: Uint8Array, impl: Ed25519Impl): unknown {
  const d = revive(v.doc)
  switch (v.type) {
    case 'rules': return verifyRules(bytes, { publicKey: mainPub, now: d.issuedAt, impl })
    case 'manifest': return verifyManifest(bytes, { publicKey: mainPub, itemId: d.itemId, impl })
    case 'license': return verifyLicense(bytes, { publicKey: mainPub, now: d.notBefore, itemId: d.itemId, accountId: d.accountId, impl })
    case 'directive': return verifyDirective(bytes, { publicKey: mainPub, now: d.issuedAt, clientPeerId: d.clientPeerId, rulesVersion: d.rulesVersion, impl })
    case 'heartbeat': return verifyHeartbeat(bytes, { publicKey: nodePub, peerId: d.peerId, now: d.sentAt, impl })
    case 'revocations': return verifyRevocations(bytes, { publicKey: mainPub, now: d.issuedAt, impl })
  }
}

test('the vector file covers every document type', () => {
  assert.equal([...new Set(file.documents.map(v => v.type))].sort(), ['directive', 'heartbeat', 'license', 'manifest', 'revocations', 'rules'])
})

test('fixed seeds give the stored public keys, key ids and PeerIds', () => {
  for (const k of [file.keys.main, file.keys.node]) {
    for (const impl of ['noble', 'node'] as const) {
      const s = createSigner(hex(k.seed), impl)
      assert.is(toHex(s.publicKey), k.publicKey)
      assert.is(s.keyId, k.keyId)
    }
    assert.is(peerIdOf(hex(k.publicKey)), k.peerId)
  }
})

test('encode → bytes: each document signs to exactly the stored envelope, with noble and with node:crypto', () => {
  for (const v of file.documents) {
    const doc = revive(v.doc)
    assert.is(toHex(encode(doc)), v.body, `${v.type} body`)
    assert.is(toHex(domainTag(v.type)), v.domainTag)
    for (const impl of ['noble', 'node'] as const) {
      const signer = createSigner(hex(file.keys[v.signer].seed), impl)
      const env = (SIGN[v.type] as (d: unknown, s: typeof signer) => Uint8Array)(doc, signer)
      assert.is(toHex(env), v.envelope, `${v.type} with ${impl}`)
    }
    assert.is(toText(hex(v.envelope)), v.text)
  }
})

test('bytes → verify: each stored envelope verifies back to its document, with either implementation', () => {
  for (const v of file.documents) {
    for (const impl of ['noble', 'node'] as const) {
      assert.equal(verify(v, fromText(v.text), impl), revive(v.doc), `${v.type} with ${impl}`)
    }
    const env = readEnvelope(hex(v.envelope))
    assert.is(toHex(env.b), v.body)
    assert.is(toHex(env.s), v.signature)
    assert.is(env.k, file.keys[v.signer].keyId)
  }
})

test('a third implementation (libp2p\'s Ed25519) accepts every stored signature over tag + body', async () => {
  for (const v of file.documents) {
    const key = publicKeyFromRaw(hex(file.keys[v.signer].publicKey))
    assert.ok(await key.verify(hex(v.domainTag + v.body), hex(v.signature)), v.type)
    assert.not.ok(await key.verify(hex(v.body), hex(v.signature)), `${v.type} without its tag`)
  }
})

test('the stored license body is canonical dag-cbor, checked by hand: keys by length, then bytewise', () => {
  const v = file.documents.find(d => d.type === 'license' && Object.keys(d.doc as object).length === 5)!
  const body = hex(v.body)
  assert.is(body[0], 0xa5) // a map of five entries
  const text = new TextDecoder().decode(body)
  // Shortest first ("itemId"), then the four 9-letter keys in byte order.
  const positions = ['itemId', 'accountId', 'expiresAt', 'licenseId', 'notBefore'].map(k => text.indexOf(k))
  assert.ok(positions.every(p => p > 0))
  assert.equal([...positions].sort((a, b) => a - b), positions)
})

test('a stored envelope with its signature from the other signer is InvalidSignatureError', () => {
  const lic = file.documents.find(d => d.type === 'license' && Object.keys(d.doc as object).length === 5)!
  const hb = file.documents.find(d => d.type === 'heartbeat')!
  const swapped = hex(lic.envelope.replace(lic.signature, hb.signature))
  assert.throws(() => verify(lic, swapped, 'node'), (e: Error) => e instanceof InvalidSignatureError)
  assert.throws(() => verify(lic, swapped, 'noble'), (e: Error) => e instanceof InvalidSignatureError)
})

test.run()
