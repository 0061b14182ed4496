import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import * as ed from '@noble/ed25519'
import { createHash } from 'node:crypto'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { generateKeyPair, publicKeyFromRaw } from '@libp2p/crypto/keys'
import {
  createSigner, fingerprint, isCanonicalSignature, isValidPublicKey, peerIdOf, publicKeyOf,
  publicKeyOfPeerId, verifySignature, type Ed25519Impl
} from './keys.ts'
import { MalformedError } from './errors.ts'

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const IMPLS: Ed25519Impl[] = ['noble', 'node']
const L = 2n ** 252n + 27742317777372353535851937790883648493n

/** RFC 8032 §7.1, TEST 1 and TEST 2. */
const RFC8032 = [
  {
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'
  },
  {
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'
  }
]

/**
 * The eight points of small order, canonically encoded (libsodium's blocklist
 * minus its non-canonical entries): with any of them as a public key, forged
 * signatures can verify.
 */
const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa'
]

test('RFC 8032 test vectors: both implementations derive the key and sign the exact bytes', () => {
  for (const v of RFC8032) {
    for (const impl of IMPLS) {
      const signer = createSigner(hex(v.secret), impl)
      assert.is(toHex(signer.publicKey), v.publicKey)
      assert.is(toHex(signer.sign(hex(v.message))), v.signature, impl)
      assert.ok(verifySignature(hex(v.publicKey), hex(v.message), hex(v.signature), impl))
    }
    assert.is(toHex(publicKeyOf(hex(v.secret))), v.publicKey)
  }
})

test('noble and node:crypto sign byte-identically and accept each other\'s signatures', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 300 }), (seed, msg) => {
    const a = createSigner(seed, 'noble')
    const b = createSigner(seed, 'node')
    assert.is(a.keyId, b.keyId)
    const sa = a.sign(msg)
    assert.is(toHex(sa), toHex(b.sign(msg)))
    assert.ok(verifySignature(a.publicKey, msg, sa, 'node'))
    assert.ok(verifySignature(b.publicKey, msg, sa, 'noble'))
  }), { numRuns: 150, seed: 1 })
})

test('a signature fails for another message, another key, or any flipped bit, in both implementations', () => {
  const signer = createSigner(new Uint8Array(32).fill(5))
  const other = createSigner(new Uint8Array(32).fill(6))
  const msg = new TextEncoder().encode('rent item-0001')
  const sig = signer.sign(msg)
  for (const impl of IMPLS) {
    assert.ok(verifySignature(signer.publicKey, msg, sig, impl))
    assert.not.ok(verifySignature(signer.publicKey, new TextEncoder().encode('rent item-0002'), sig, impl))
    assert.not.ok(verifySignature(other.publicKey, msg, sig, impl))
    for (let bit = 0; bit < 512; bit += 7) {
      const bad = new Uint8Array(sig)
      bad[bit >> 3]! ^= 1 << (bit & 7)
      assert.not.ok(verifySignature(signer.publicKey, msg, bad, impl), `${impl} bit ${bit}`)
    }
  }
})

test('the eight small-order public keys are rejected before verifying, by both implementations', () => {
  const msg = new TextEncoder().encode('anything at all')
  for (const h of SMALL_ORDER) {
    const key = hex(h)
    assert.ok(ed.Point.fromBytes(key, true).isSmallOrder(), `${h} is small order`)
    assert.not.ok(isValidPublicKey(key), h)
    // R = the point itself, S = 0: the classic "verifies for every message" forgery.
    const forged = new Uint8Array(64)
    forged.set(key, 0)
    for (const impl of IMPLS) assert.not.ok(verifySignature(key, msg, forged, impl), `${impl} ${h}`)
  }
  // Without the check (noble's default ZIP-215 mode) the identity-key forgery verifies: the check matters.
  const identity = hex(SMALL_ORDER[0]!)
  assert.ok(ed.verify(new Uint8Array([...identity, ...new Uint8Array(32)]), msg, identity))
})

test('non-canonical public key encodings (y >= p, or x = 0 with the sign bit) are rejected', () => {
  // p + 1 (another spelling of the identity) and 2^255 - 1.
  assert.not.ok(isValidPublicKey(hex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')))
  assert.not.ok(isValidPublicKey(hex('ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')))
  assert.not.ok(isValidPublicKey(hex('0100000000000000000000000000000000000000000000000000000000000080')))
  assert.not.ok(isValidPublicKey(new Uint8Array(31)))
  assert.ok(isValidPublicKey(hex(RFC8032[0]!.publicKey)))
})

test('a malleated signature (S + L) is rejected before verifying, by both implementations', () => {
  const signer = createSigner(new Uint8Array(32).fill(8))
  const msg = Uint8Array.from([1, 2, 3])
  const sig = signer.sign(msg)
  let s = 0n
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!)
  let twin = s + L
  const bad = new Uint8Array(sig)
  for (let i = 32; i < 64; i++) { bad[i] = Number(twin & 0xffn); twin >>= 8n }
  assert.ok(isCanonicalSignature(sig))
  assert.not.ok(isCanonicalSignature(bad))
  // The boundary: S = L - 1 is reduced, S = L is not, and neither is 2^256 - 1.
  const withS = (v: bigint) => { const out = new Uint8Array(64); for (let i = 32; i < 64; i++) { out[i] = Number(v & 0xffn); v >>= 8n } return out }
  assert.ok(isCanonicalSignature(withS(L - 1n)))
  assert.not.ok(isCanonicalSignature(withS(L)))
  assert.not.ok(isCanonicalSignature(withS(2n ** 256n - 1n)))
  assert.ok(isCanonicalSignature(withS(0n)))
  for (const impl of IMPLS) assert.not.ok(verifySignature(signer.publicKey, msg, bad, impl), impl)
})

test('wrong sizes are false, wrong kinds are TypeError', () => {
  const signer = createSigner(new Uint8Array(32).fill(1))
  const msg = new Uint8Array(3)
  const sig = signer.sign(msg)
  for (const impl of IMPLS) {
    assert.not.ok(verifySignature(signer.publicKey, msg, sig.subarray(0, 63), impl))
    assert.not.ok(verifySignature(signer.publicKey.subarray(1), msg, sig, impl))
  }
  assert.throws(() => verifySignature('key' as unknown as Uint8Array, msg, sig), (e: Error) => e instanceof TypeError)
  assert.throws(() => createSigner(new Uint8Array(31)), (e: Error) => e instanceof RangeError)
  assert.throws(() => fingerprint(new Uint8Array(33)), (e: Error) => e instanceof RangeError)
})

test('fingerprint is ed25519: + 26 base32 characters of SHA-256(publicKey), stable and distinct', () => {
  const a = createSigner(new Uint8Array(32).fill(1))
  const b = createSigner(new Uint8Array(32).fill(2))
  assert.match(a.keyId, /^ed25519:[a-z2-7]{26}$/)
  assert.is(a.keyId, fingerprint(a.publicKey))
  assert.is.not(a.keyId, b.keyId)
  // Recomputed here with an independent base32, so the test does not reuse the code under test.
  const key = hex(RFC8032[0]!.publicKey)
  assert.is(fingerprint(key), 'ed25519:' + base32(createHash('sha256').update(key).digest().subarray(0, 16)))
})

/** RFC 4648 base32, lower case, unpadded. */
function base32 (bytes: Uint8Array): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  let bits = 0; let acc = 0; let out = ''
  for (const byte of bytes) {
    acc = ((acc << 8) | byte) & 0xffff; bits += 8
    while (bits >= 5) { out += alphabet[(acc >> (bits - 5)) & 31]; bits -= 5 }
  }
  if (bits > 0) out += alphabet[(acc << (5 - bits)) & 31]
  return out
}

test('libp2p\'s 64-byte secret form (seed + public key) signs like the seed; a mismatched half is refused', async () => {
  const key = await generateKeyPair('Ed25519')
  const signer = createSigner(key.raw)
  assert.is(toHex(signer.publicKey), toHex(key.publicKey.raw))
  const msg = Uint8Array.from([9, 9, 9])
  assert.ok(await key.publicKey.verify(msg, signer.sign(msg)))
  const bad = new Uint8Array(key.raw)
  bad[40]! ^= 1
  assert.throws(() => createSigner(bad), (e: Error) => e instanceof RangeError)
})

test('peerIdOf gives the PeerId libp2p gives, and publicKeyOfPeerId inverts it', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), seed => {
    const pub = publicKeyOf(seed)
    const id = peerIdOf(pub)
    assert.is(id, peerIdFromPublicKey(publicKeyFromRaw(pub)).toString())
    assert.is(toHex(publicKeyOfPeerId(id)), toHex(pub))
  }), { numRuns: 50, seed: 2 })
})

test('publicKeyOfPeerId refuses non-Ed25519 and garbage PeerIds with MalformedError', () => {
  for (const bad of ['QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', '', '0OIl', '12D3KooW', 'x'.repeat(100)]) {
    assert.throws(() => publicKeyOfPeerId(bad), (e: Error) => e instanceof MalformedError, bad)
  }
})

test.run()
