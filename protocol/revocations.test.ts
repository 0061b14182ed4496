/**
 * The signed revocation list (issue 14b): its own domain tag, the rules' rollback and freeze protections,
 * bounded fields; and the optional fields other documents gained for it (directive accountId, licence
 * maxDevices) leave older documents verifying.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { createSigner, peerIdOf } from './keys.ts'
import { domainTag } from './signing.ts'
import {
  signDirective, signLicense, signRevocations, signRules, verifyDirective, verifyLicense, verifyRevocations, verifyRules
} from './documents.ts'
import { ExpiredError, MalformedError, NotYetValidError, OlderVersionError, UnknownKeyError, WrongTypeError } from './errors.ts'
import { CLOCK_SKEW_MS, MAX_DEVICES_LIMIT, MAX_REVOKED_NODES } from './limits.ts'
import type { Directive, License, Revocations } from './types.ts'

const main = createSigner(new Uint8Array(32).fill(1))
const intruder = createSigner(new Uint8Array(32).fill(3))
const NODE = peerIdOf(createSigner(new Uint8Array(32).fill(2)).publicKey)
const CLIENT = peerIdOf(createSigner(new Uint8Array(32).fill(4)).publicKey)
const T = 1_767_225_600_000
const HOUR = 3_600_000
const pk = main.publicKey

function throwsA (fn: () => unknown, cls: new (...a: any[]) => Error): void {
  try { fn() } catch (err) {
    assert.instance(err, cls, `expected ${cls.name}, got ${(err as Error).name}: ${(err as Error).message}`)
    return
  }
  assert.unreachable(`expected ${cls.name}, nothing thrown`)
}

const list = (version: number, over: Partial<Revocations> = {}): Revocations => ({
  version, issuedAt: T, expiresAt: T + HOUR, licenses: ['lic-1'], accounts: ['acct-1'], nodes: [NODE], ...over
})

test('a revocation list round-trips and has its own domain tag', () => {
  const bytes = signRevocations(list(2), main)
  assert.equal(verifyRevocations(bytes, { publicKey: pk, now: T }), list(2))
  assert.is(Buffer.from(domainTag('revocations')).toString(), 'reelnet:revocations:v1\0')
})

test('an older list than the held one is OlderVersionError (a replayed old list)', () => {
  const held = signRevocations(list(5), main)
  const old = signRevocations(list(4, { licenses: [] }), main)
  throwsA(() => verifyRevocations(old, { publicKey: pk, now: T, held: { version: 5, bytes: held } }), OlderVersionError)
  // the same version with other bytes is refused too (equivocation); the same bytes verify
  const twin = signRevocations(list(5, { licenses: [] }), main)
  throwsA(() => verifyRevocations(twin, { publicKey: pk, now: T, held: { version: 5, bytes: held } }), OlderVersionError)
  assert.is(verifyRevocations(held, { publicKey: pk, now: T, held: { version: 5, bytes: held } }).version, 5)
  assert.is(verifyRevocations(signRevocations(list(6), main), { publicKey: pk, now: T, held: { version: 5, bytes: held } }).version, 6)
})

test('a list is valid from issuedAt to expiresAt, give or take CLOCK_SKEW_MS; ignoreWindow reads an expired one as a floor', () => {
  const bytes = signRevocations(list(1), main)
  assert.ok(verifyRevocations(bytes, { publicKey: pk, now: T + HOUR + CLOCK_SKEW_MS }))
  throwsA(() => verifyRevocations(bytes, { publicKey: pk, now: T + HOUR + CLOCK_SKEW_MS + 1 }), ExpiredError)
  throwsA(() => verifyRevocations(bytes, { publicKey: pk, now: T - CLOCK_SKEW_MS - 1 }), NotYetValidError)
  assert.is(verifyRevocations(bytes, { publicKey: pk, now: T + 100 * HOUR, ignoreWindow: true }).version, 1)
})

test('a list signed by another key, or rules presented as a list, is refused', () => {
  throwsA(() => verifyRevocations(signRevocations(list(1), intruder), { publicKey: pk, now: T }), UnknownKeyError)
  const rules = signRules({ version: 1, issuedAt: T, expiresAt: T + HOUR, chunkSize: 1 << 20, regions: [] }, main)
  throwsA(() => verifyRevocations(rules, { publicKey: pk, now: T }), WrongTypeError)
  throwsA(() => verifyRules(signRevocations(list(1), main), { publicKey: pk, now: T }), WrongTypeError)
})

test('bounds and shape: too many nodes, a node that is not a PeerId, an extra field, issuedAt after expiresAt', () => {
  throwsA(() => signRevocations(list(1, { nodes: Array.from({ length: MAX_REVOKED_NODES + 1 }, () => NODE) }), main), MalformedError)
  throwsA(() => signRevocations(list(1, { nodes: ['not a peer id'] }), main), MalformedError)
  throwsA(() => signRevocations({ ...list(1), extra: 1 } as unknown as Revocations, main), MalformedError)
  throwsA(() => signRevocations(list(1, { issuedAt: T + 2 * HOUR }), main), MalformedError)
})

test('any flipped bit of a signed list fails with a typed error', () => {
  const bytes = signRevocations(list(3), main)
  fc.assert(fc.property(fc.nat(bytes.length * 8 - 1), (bit) => {
    const b = bytes.slice()
    b[bit >> 3]! ^= 1 << (bit & 7)
    try { verifyRevocations(b, { publicKey: pk, now: T }); return false } catch (err) { return (err as Error).name.endsWith('Error') && (err as Error).name !== 'Error' }
  }), { numRuns: 300 })
})

test('a directive may name its account; one without still verifies (older directives)', () => {
  const d: Directive = {
    directiveId: 'd-1', licenseId: 'lic-1', itemId: 'item-1', clientPeerId: CLIENT, region: 'eu',
    peers: [{ peerId: NODE, addrs: ['/ip4/127.0.0.1/tcp/1'], role: 'edge' }], rulesVersion: 3, issuedAt: T, expiresAt: T + 600_000
  }
  assert.is(verifyDirective(signDirective({ ...d, accountId: 'acct-1' }, main), { publicKey: pk, now: T }).accountId, 'acct-1')
  assert.is(verifyDirective(signDirective(d, main), { publicKey: pk, now: T }).accountId, undefined)
})

test('a licence may bound its devices (1..MAX_DEVICES_LIMIT); one without still verifies', () => {
  const l: License = { licenseId: 'lic-1', accountId: 'alice', itemId: 'item-1', notBefore: T, expiresAt: T + HOUR }
  assert.is(verifyLicense(signLicense({ ...l, maxDevices: 3 }, main), { publicKey: pk, now: T }).maxDevices, 3)
  assert.is(verifyLicense(signLicense(l, main), { publicKey: pk, now: T }).maxDevices, undefined)
  throwsA(() => signLicense({ ...l, maxDevices: 0 }, main), MalformedError)
  throwsA(() => signLicense({ ...l, maxDevices: MAX_DEVICES_LIMIT + 1 }, main), MalformedError)
})

test.run()
