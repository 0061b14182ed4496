/** The catalog-lifecycle fields of the signed documents (issue 15): optional, bounded, signed, and replay-safe. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createSigner, peerIdOf } from './keys.ts'
import { signDirective, signHeartbeat, signLicense, signRules, verifyDirective, verifyHeartbeat, verifyLicense, verifyRules } from './documents.ts'
import { MalformedError, OlderVersionError } from './errors.ts'
import { MAX_LIVE_VERSIONS, MAX_REMOVED_ITEMS, MAX_LACKING_ITEMS } from './limits.ts'
import type { Directive, Heartbeat, License, Rules } from './types.ts'

const main = createSigner(new Uint8Array(32).fill(1))
const node = createSigner(new Uint8Array(32).fill(2))
const CLIENT = peerIdOf(createSigner(new Uint8Array(32).fill(4)).publicKey)
const T = 1_767_225_600_000
const HOUR = 3_600_000
const A = 'a'.repeat(32)
const pk = main.publicKey

const rules = (version: number, over: Partial<Rules> = {}, items: NonNullable<Rules['regions'][number]['items']> = [{ itemId: A, versions: [1, 2], availableFrom: T + HOUR, priority: 3 }]): Rules => ({
  version, issuedAt: T, expiresAt: T + HOUR, chunkSize: 1 << 20,
  regions: [{ name: 'eu', parents: [], edges: [], preposition: [], items }],
  removed: ['b'.repeat(32)],
  ...over
})

function malformed (fn: () => unknown, what: string): void {
  assert.throws(fn, (e: Error) => e instanceof MalformedError, what)
}

test('rules with per-region items and removed sign and verify; tampering with either breaks the signature; an older version is refused as a replay', () => {
  const v3 = signRules(rules(3), main)
  const got = verifyRules(v3, { publicKey: pk, now: T })
  assert.equal(got.regions[0]?.items, [{ itemId: A, versions: [1, 2], availableFrom: T + HOUR, priority: 3 }])
  assert.equal(got.removed, ['b'.repeat(32)])
  const v4 = signRules(rules(4, { removed: [A, 'b'.repeat(32)] }, []), main)
  const held = { version: 4, bytes: v4 }
  assert.throws(() => verifyRules(v3, { publicKey: pk, now: T, held }), (e: Error) => e instanceof OlderVersionError, 'v3 after v4: a rollback that would un-remove A')
  // the same version with other bytes (removed dropped) is refused too
  const forged = signRules(rules(4, { removed: [] }, []), main)
  assert.throws(() => verifyRules(forged, { publicKey: pk, now: T, held }), (e: Error) => e instanceof OlderVersionError)
  const flipped = new Uint8Array(v4)
  const at = Buffer.from(v4).indexOf(Buffer.from(A))
  flipped[at] = 0x62
  assert.throws(() => verifyRules(flipped, { publicKey: pk, now: T }))
  // rules without the fields (an older main) still verify: they are optional
  const old = signRules({ version: 5, issuedAt: T, expiresAt: T + HOUR, chunkSize: 1 << 20, regions: [{ name: 'eu', parents: [], edges: [], preposition: [] }] }, main)
  assert.is(verifyRules(old, { publicKey: pk, now: T }).removed, undefined)
})

test('rules items are bounded and well formed', () => {
  malformed(() => signRules(rules(1, {}, [{ itemId: A, versions: [2, 1] }]), main), 'versions ascending')
  malformed(() => signRules(rules(1, {}, [{ itemId: A, versions: [1, 1] }]), main), 'no repeats')
  malformed(() => signRules(rules(1, {}, [{ itemId: A, versions: [] }]), main), 'at least one version')
  malformed(() => signRules(rules(1, {}, [{ itemId: A, versions: [0] }]), main), 'versions start at 1')
  malformed(() => signRules(rules(1, {}, [{ itemId: A, versions: Array.from({ length: MAX_LIVE_VERSIONS + 1 }, (_, i) => i + 1) }]), main), 'bounded live versions')
  malformed(() => signRules(rules(1, { removed: Array.from({ length: MAX_REMOVED_ITEMS + 1 }, (_, i) => `i${i}`) }), main), 'bounded removed')
  malformed(() => signRules(rules(1, {}, [{ itemId: A, versions: [1], colour: 'red' } as never]), main), 'no unknown fields')
})

test('a licence carries its price (integer minor units, ISO currency); a directive its itemVersion', () => {
  const l: License = { licenseId: 'l1', accountId: 'a1', itemId: A, notBefore: T, expiresAt: T + HOUR, price: { amount: 399, currency: 'EUR' } }
  assert.equal(verifyLicense(signLicense(l, main), { publicKey: pk, now: T }).price, { amount: 399, currency: 'EUR' })
  malformed(() => signLicense({ ...l, price: { amount: 3.99, currency: 'EUR' } }, main), 'minor units are whole')
  malformed(() => signLicense({ ...l, price: { amount: 399, currency: 'eur' } }, main), 'ISO code')
  malformed(() => signLicense({ ...l, price: { amount: -1, currency: 'EUR' } }, main), 'no negative price')
  const d: Directive = { directiveId: 'd1', licenseId: 'l1', itemId: A, clientPeerId: CLIENT, region: 'eu', peers: [], rulesVersion: 3, issuedAt: T, expiresAt: T + HOUR, itemVersion: 2 }
  assert.is(verifyDirective(signDirective(d, main), { publicKey: pk, now: T }).itemVersion, 2)
  malformed(() => signDirective({ ...d, itemVersion: 0 }, main), 'versions start at 1')
})

test('a heartbeat may say which items a parent lacks space for (bounded)', () => {
  const hb: Heartbeat = { peerId: peerIdOf(node.publicKey), seq: 1, sentAt: T, load: 0, freeBytes: 0, bytesServed: { edge: 0, parent: 0, peer: 0, client: 0 }, heldItems: [], lacking: [A] }
  assert.equal(verifyHeartbeat(signHeartbeat(hb, node), { now: T, peerId: hb.peerId }).lacking, [A])
  malformed(() => signHeartbeat({ ...hb, lacking: Array.from({ length: MAX_LACKING_ITEMS + 1 }, (_, i) => `i${i}`) }, node), 'bounded')
})

test.run()
