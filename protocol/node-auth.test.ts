import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { toBase64url } from './encoding.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import { createSigner, peerIdOf } from './keys.ts'
import { nodeAuthMessage, formatNodeAuth, parseNodeAuth, signNodeAuth, verifyNodeAuth, NODE_AUTH_TAG } from './node-auth.ts'

const seed = new Uint8Array(32).map((_, i) => i + 1)
const signer = createSigner(seed)
const peerId = peerIdOf(signer.publicKey)
const NOW = 1_800_000_000_000
const PATH = '/v1/items/abcd/chunks/3'

test('the signed message is the tag, method, path and ts, byte for byte', () => {
  const msg = new TextDecoder().decode(nodeAuthMessage('GET', PATH, 42))
  assert.is(msg, `${NODE_AUTH_TAG}GET ${PATH}\n42`)
  assert.ok(msg.startsWith('reelnet:node-auth:v1\0'))
})

test('a header signed by a node verifies and names that node', () => {
  const header = signNodeAuth(peerId, 'GET', PATH, NOW, m => signer.sign(m))
  assert.ok(header.startsWith(`ReelnetNode peerId=${peerId},ts=${NOW},sig=`))
  const auth = parseNodeAuth(header)
  assert.is(auth.peerId, peerId)
  assert.is(auth.ts, NOW)
  assert.is(verifyNodeAuth(auth, { method: 'GET', pathWithQuery: PATH, now: NOW + 1000 }), peerId)
  assert.is(verifyNodeAuth(auth, { method: 'GET', pathWithQuery: PATH, now: NOW, impl: 'noble' }), peerId)
})

test('the PeerId carries the same key libp2p reads from it', () => {
  assert.equal(peerIdFromString(peerId).publicKey?.raw, signer.publicKey)
})

test('format and parse round-trip', () => {
  const sig = signer.sign(nodeAuthMessage('POST', '/x?y=1', 7))
  assert.equal(parseNodeAuth(formatNodeAuth({ peerId, ts: 7, sig })), { peerId, ts: 7, sig })
})

test('another path, another method, or a stale timestamp is refused', () => {
  const auth = parseNodeAuth(signNodeAuth(peerId, 'GET', PATH, NOW, m => signer.sign(m)))
  assert.throws(() => verifyNodeAuth(auth, { method: 'GET', pathWithQuery: '/v1/items/abcd/chunks/4', now: NOW }), (e: Error) => e.name === 'InvalidSignatureError')
  assert.throws(() => verifyNodeAuth(auth, { method: 'POST', pathWithQuery: PATH, now: NOW }), (e: Error) => e.name === 'InvalidSignatureError')
  assert.throws(() => verifyNodeAuth(auth, { method: 'GET', pathWithQuery: PATH, now: NOW + 61_000 }), (e: Error) => e.name === 'ExpiredError')
  assert.throws(() => verifyNodeAuth(auth, { method: 'GET', pathWithQuery: PATH, now: NOW - 61_000 }), (e: Error) => e.name === 'ExpiredError')
})

test('a signature by another key under this PeerId is refused', () => {
  const other = createSigner(new Uint8Array(32).fill(9))
  const auth = parseNodeAuth(signNodeAuth(peerId, 'GET', PATH, NOW, m => other.sign(m)))
  assert.throws(() => verifyNodeAuth(auth, { method: 'GET', pathWithQuery: PATH, now: NOW }), (e: Error) => e.name === 'InvalidSignatureError')
})

test('malformed headers are MalformedError', () => {
  const good = signNodeAuth(peerId, 'GET', PATH, NOW, m => signer.sign(m))
  for (const h of [undefined, '', 'Bearer abc', good.replace('ReelnetNode', 'Reelnet'), good + ',x=1', good.replace(/sig=.*/, 'sig=abc'),
    good.replace(/ts=\d+/, 'ts=-1'), 'ReelnetNode ' + 'x'.repeat(600), good.replace('peerId=', 'peerId=0')]) {
    assert.throws(() => parseNodeAuth(h), (e: Error) => e.name === 'MalformedError' || e.name === 'TooLargeError', String(h))
  }
})

test('a PeerId that is not Ed25519 is refused', () => {
  const auth = parseNodeAuth(signNodeAuth('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', 'GET', PATH, NOW, m => signer.sign(m)))
  assert.throws(() => verifyNodeAuth(auth, { method: 'GET', pathWithQuery: PATH, now: NOW }), (e: Error) => e.name === 'MalformedError')
})

test('any flipped bit of the signature fails', () => {
  const auth = parseNodeAuth(signNodeAuth(peerId, 'GET', PATH, NOW, m => signer.sign(m)))
  fc.assert(fc.property(fc.integer({ min: 0, max: 511 }), bit => {
    const sig = auth.sig.slice()
    sig[bit >> 3]! ^= 1 << (bit & 7)
    try {
      verifyNodeAuth({ ...auth, sig }, { method: 'GET', pathWithQuery: PATH, now: NOW })
      return false
    } catch (e) {
      return (e as Error).name === 'InvalidSignatureError'
    }
  }), { numRuns: 200 })
})

test('known-answer vectors (protocol/node-auth.vectors.json) reproduce with noble and node:crypto', () => {
  const file = JSON.parse(readFileSync(new URL('./node-auth.vectors.json', import.meta.url), 'utf8')) as { vectors: Array<{ seed: string, method: string, path: string, ts: number, peerId: string, message: string, header: string }> }
  assert.ok(file.vectors.length >= 2)
  for (const v of file.vectors) {
    for (const impl of ['noble', 'node'] as const) {
      const s = createSigner(new Uint8Array(Buffer.from(v.seed, 'hex')), impl)
      assert.is(peerIdOf(s.publicKey), v.peerId)
      assert.is(toBase64url(nodeAuthMessage(v.method, v.path, v.ts)), v.message)
      assert.is(signNodeAuth(v.peerId, v.method, v.path, v.ts, m => s.sign(m)), v.header)
      assert.is(verifyNodeAuth(parseNodeAuth(v.header), { method: v.method, pathWithQuery: v.path, now: v.ts, impl }), v.peerId)
    }
  }
})

test.run()
