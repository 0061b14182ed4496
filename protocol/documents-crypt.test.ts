/** Issue 14a's optional document fields: a manifest's `encryption`, a licence's `kind` and `offlineGraceMs`. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { signLicense, signManifest, verifyLicense, verifyManifest, validateDocument } from './documents.ts'
import { createSigner } from './keys.ts'
import { ManifestBuilder } from './chunking.ts'
import { MalformedError } from './errors.ts'
import { PURCHASE_EXPIRES_AT } from './limits.ts'
import type { License, Manifest } from './types.ts'

const signer = createSigner(new Uint8Array(32).fill(11))
const b = new ManifestBuilder(16 * 1024)
b.push(new Uint8Array(40_000).fill(3))
const plain: Manifest = b.finish({ itemId: 'a'.repeat(32), title: 'T', version: 1 })
const T = 1_800_000_000_000

test('a manifest with encryption signs and verifies with the field intact; without it, as before', () => {
  const enc: Manifest = { ...plain, encryption: { alg: 'aes-256-ctr', keyId: 'kid-0123456789' } }
  assert.equal(verifyManifest(signManifest(enc, signer), { publicKey: signer.publicKey }).encryption, enc.encryption)
  assert.is(verifyManifest(signManifest(plain, signer), { publicKey: signer.publicKey }).encryption, undefined)
})

test('a manifest\'s encryption is exact: another alg, an empty or spaced keyId, a key in it, extra fields are malformed', () => {
  for (const encryption of [{ alg: 'aes-128-ctr', keyId: 'k' }, { alg: 'aes-256-ctr', keyId: '' }, { alg: 'aes-256-ctr', keyId: 'a b' }, { alg: 'aes-256-ctr', keyId: 'k', key: 'secret' }, { alg: 'aes-256-ctr' }, 'aes-256-ctr']) {
    assert.throws(() => validateDocument('manifest', { ...plain, encryption }), (e: Error) => e instanceof MalformedError, JSON.stringify(encryption))
  }
})

test('a licence states its kind and offline grace; a purchase carries the far end; an unknown kind is malformed', () => {
  const rental: License = { licenseId: 'l1', accountId: 'a1', itemId: 'i1', notBefore: T, expiresAt: T + 3600_000, kind: 'rental', offlineGraceMs: 900_000 }
  const r = verifyLicense(signLicense(rental, signer), { publicKey: signer.publicKey, now: T })
  assert.is(r.kind, 'rental')
  assert.is(r.offlineGraceMs, 900_000)
  const purchase: License = { ...rental, licenseId: 'l2', kind: 'purchase', expiresAt: PURCHASE_EXPIRES_AT }
  assert.is(verifyLicense(signLicense(purchase, signer), { publicKey: signer.publicKey, now: T + 50 * 365 * 86400_000 }).kind, 'purchase')
  const old: License = { licenseId: 'l3', accountId: 'a1', itemId: 'i1', notBefore: T, expiresAt: T + 1 }
  assert.is(verifyLicense(signLicense(old, signer), { publicKey: signer.publicKey, now: T }).kind, undefined, 'absent means a rental, as before')
  for (const bad of [{ kind: 'lease' }, { offlineGraceMs: -1 }, { offlineGraceMs: 1.5 }]) {
    assert.throws(() => validateDocument('license', { ...rental, ...bad }), (e: Error) => e instanceof MalformedError, JSON.stringify(bad))
  }
})

test.run()
