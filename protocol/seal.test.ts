import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { openContentKey, sealContentKey, parseSealedBox, x25519PublicOfEd25519, x25519SecretOfEd25519, SEAL_ALG, type SealedBox } from './seal.ts'
import { peerIdOf, publicKeyOf } from './keys.ts'
import { fromBase64url, toBase64url } from './encoding.ts'
import { MalformedError, MismatchError } from './errors.ts'

interface Vector {
  recipientSeed: string, recipientPublicKey: string, clientPeerId: string, licenseId: string, recipientX25519: string
  contentKey: string, ephemeralSecret: string, nonce: string, shared: string, boxKey: string, sealed: SealedBox
}
const vectors = JSON.parse(readFileSync(new URL('../test/vectors/seal.json', import.meta.url), 'utf8')) as { cases: Vector[] }
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const SEED = 0x5ea1

test('known-answer vectors: sealing reproduces the independent generator\'s boxes byte for byte', () => {
  assert.ok(vectors.cases.length >= 3)
  for (const v of vectors.cases) {
    assert.is(peerIdOf(hex(v.recipientPublicKey)), v.clientPeerId)
    assert.is(toHex(x25519PublicOfEd25519(hex(v.recipientPublicKey))), v.recipientX25519)
    const sealed = sealContentKey({ contentKey: hex(v.contentKey), clientPeerId: v.clientPeerId, licenseId: v.licenseId, ephemeralSecret: hex(v.ephemeralSecret), nonce: hex(v.nonce) })
    assert.equal(sealed, v.sealed)
  }
})

test('known-answer vectors: the generator\'s boxes open with the recipient\'s seed to the content key', () => {
  for (const v of vectors.cases) {
    const key = openContentKey(v.sealed, { seed: hex(v.recipientSeed), clientPeerId: v.clientPeerId, licenseId: v.licenseId })
    assert.is(toHex(key), v.contentKey)
  }
})

const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 })

test('property: a key sealed to customer A opens with A\'s key and never with B\'s', () => {
  fc.assert(fc.property(seedArb, seedArb, seedArb, seedArb, fc.uint8Array({ minLength: 12, maxLength: 12 }), (a, b, ck, esk, nonce) => {
    fc.pre(toHex(a) !== toHex(b))
    const pidA = peerIdOf(publicKeyOf(a))
    const pidB = peerIdOf(publicKeyOf(b))
    const sealed = sealContentKey({ contentKey: ck, clientPeerId: pidA, licenseId: 'lic-1', ephemeralSecret: esk, nonce })
    assert.is(toHex(openContentKey(sealed, { seed: a, clientPeerId: pidA, licenseId: 'lic-1' })), toHex(ck))
    // B's own key, whichever peer or licence B claims
    for (const claim of [pidA, pidB]) {
      assert.throws(() => openContentKey(sealed, { seed: b, clientPeerId: claim, licenseId: 'lic-1' }), (e: Error) => e instanceof MismatchError)
    }
  }), { seed: SEED, numRuns: 40 })
})

test('a box opens only for its own licence and client: another licenseId or PeerId fails', () => {
  const a = new Uint8Array(32).fill(1)
  const pid = peerIdOf(publicKeyOf(a))
  const sealed = sealContentKey({ contentKey: new Uint8Array(32).fill(2), clientPeerId: pid, licenseId: 'lic-1', ephemeralSecret: new Uint8Array(32).fill(3), nonce: new Uint8Array(12) })
  assert.throws(() => openContentKey(sealed, { seed: a, clientPeerId: pid, licenseId: 'lic-2' }), (e: Error) => e instanceof MismatchError)
  const other = peerIdOf(publicKeyOf(new Uint8Array(32).fill(9)))
  assert.throws(() => openContentKey(sealed, { seed: a, clientPeerId: other, licenseId: 'lic-1' }), (e: Error) => e instanceof MismatchError)
})

test('property: any flipped bit of the box, nonce or ephemeral key is refused', () => {
  const a = new Uint8Array(32).fill(4)
  const pid = peerIdOf(publicKeyOf(a))
  const sealed = sealContentKey({ contentKey: new Uint8Array(32).fill(5), clientPeerId: pid, licenseId: 'L', ephemeralSecret: new Uint8Array(32).fill(6), nonce: new Uint8Array(12).fill(7) })
  fc.assert(fc.property(fc.constantFrom('epk', 'nonce', 'box') as fc.Arbitrary<'epk' | 'nonce' | 'box'>, fc.nat(), (field, n) => {
    const bytes = fromBase64url(sealed[field])
    const bit = n % (bytes.length * 8)
    bytes[bit >> 3]! ^= 1 << (bit & 7)
    const bent = { ...sealed, [field]: toBase64url(bytes) }
    assert.throws(() => openContentKey(bent, { seed: a, clientPeerId: pid, licenseId: 'L' }), (e: Error) => e instanceof MismatchError || e instanceof MalformedError)
  }), { seed: SEED, numRuns: 150 })
})

test('a sealed box is checked before any decoding: wrong alg, lengths, extra fields, non-strings are MalformedError', () => {
  const ok = vectors.cases[0]!.sealed
  for (const bad of [null, 'x', { ...ok, alg: 'rsa' }, { ...ok, epk: ok.epk.slice(1) }, { ...ok, box: ok.box + 'AA' }, { ...ok, extra: 1 }, { ...ok, nonce: 12 }]) {
    assert.throws(() => parseSealedBox(bad), (e: Error) => e instanceof MalformedError)
  }
  assert.is(parseSealedBox(ok).alg, SEAL_ALG)
})

test('a PeerId that is not an Ed25519 key cannot be sealed to', () => {
  assert.throws(() => sealContentKey({ contentKey: new Uint8Array(32), clientPeerId: 'QmNotAnEd25519Key', licenseId: 'L', ephemeralSecret: new Uint8Array(32), nonce: new Uint8Array(12) }), (e: Error) => e instanceof MalformedError)
  assert.throws(() => x25519SecretOfEd25519(new Uint8Array(31)), RangeError)
})

test.run()
