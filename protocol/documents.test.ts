import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { createSigner, peerIdOf } from './keys.ts'
import { signDocument } from './signing.ts'
import {
  signDirective, signHeartbeat, signHeartbeatRaw, signLicense, signManifest, signRules,
  verifyDirective, verifyHeartbeat, verifyLicense, verifyManifest, verifyRules, peekDocument
} from './documents.ts'
import {
  ExpiredError, MalformedError, MismatchError, NotYetValidError, OlderVersionError, ProtocolError,
  UnknownKeyError, WrongTypeError
} from './errors.ts'
import { CLOCK_SKEW_MS, MAX_CHUNK_SIZE, MAX_PREPOSITION_ITEMS } from './limits.ts'
import type { Directive, Heartbeat, License, Manifest, Rules } from './types.ts'

const main = createSigner(new Uint8Array(32).fill(1))
const nodeKey = createSigner(new Uint8Array(32).fill(2))
const intruder = createSigner(new Uint8Array(32).fill(3))
const NODE = peerIdOf(nodeKey.publicKey)
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

const rules: Rules = {
  version: 3, issuedAt: T, expiresAt: T + HOUR, chunkSize: 1 << 20,
  regions: [{ name: 'eu', parents: [{ peerId: NODE, role: 'parent', addrs: ['/ip4/127.0.0.1/tcp/1'], capacityBytes: 1e12 }], edges: [], preposition: ['item-1'] }]
}
const manifest: Manifest = {
  itemId: 'item-1', title: 'A film', size: 3 * 65536 - 10, chunkSize: 65536, chunkCount: 3,
  chunkHashes: [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), new Uint8Array(32).fill(3)],
  merkleRoot: new Uint8Array(32).fill(4), version: 1
}
const license: License = { licenseId: 'lic-1', accountId: 'alice', itemId: 'item-1', notBefore: T, expiresAt: T + 48 * HOUR }
const directive: Directive = {
  directiveId: 'd-1', licenseId: 'lic-1', itemId: 'item-1', clientPeerId: CLIENT, region: 'eu',
  peers: [{ peerId: NODE, addrs: ['/ip4/127.0.0.1/tcp/1'], role: 'edge' }], rulesVersion: 3, issuedAt: T, expiresAt: T + 600_000
}
const heartbeat: Heartbeat = {
  peerId: NODE, seq: 1, sentAt: T, load: 0.5, freeBytes: 1e9, bytesServed: { edge: 0, parent: 0, peer: 10, client: 20 }, heldItems: ['item-1']
}

// ---- arbitraries -------------------------------------------------------------

const id = fc.stringMatching(/^[\x21-\x7e]{1,24}$/)
const peerId = fc.stringMatching(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/)
const addr = fc.tuple(fc.nat(255), fc.integer({ min: 1, max: 65535 })).map(([a, p]) => `/ip4/10.0.0.${a}/tcp/${p}`)
const time = fc.integer({ min: 0, max: 2 ** 45 })
const uint = fc.maxSafeNat()
const hash = fc.uint8Array({ minLength: 32, maxLength: 32 })
const window = fc.tuple(time, fc.integer({ min: 0, max: 2 ** 40 }))

const nodeEntry = <R extends 'parent' | 'edge'>(role: R) =>
  fc.record({ peerId, role: fc.constant(role), addrs: fc.array(addr, { maxLength: 3 }), capacityBytes: uint })
const rulesArb: fc.Arbitrary<Rules> = fc.record({
  version: uint,
  window,
  chunkSize: fc.integer({ min: 16384, max: MAX_CHUNK_SIZE }),
  regions: fc.uniqueArray(fc.record({
    name: id, parents: fc.array(nodeEntry('parent'), { maxLength: 3 }), edges: fc.array(nodeEntry('edge'), { maxLength: 3 }), preposition: fc.array(id, { maxLength: 4 })
  }), { selector: r => r.name, maxLength: 3 })
}).map(({ window: [from, len], ...r }) => ({ version: r.version, issuedAt: from, expiresAt: from + len, chunkSize: r.chunkSize, regions: r.regions }))

const manifestArb: fc.Arbitrary<Manifest> = fc.record({
  itemId: id, title: fc.string({ minLength: 1, maxLength: 60 }), chunkSize: fc.integer({ min: 16384, max: MAX_CHUNK_SIZE }),
  hashes: fc.array(hash, { maxLength: 6 }), lastFill: fc.double({ min: 0, max: 1, noNaN: true }), merkleRoot: hash, version: uint
}).map(({ hashes, chunkSize, lastFill, ...m }) => {
  const last = hashes.length === 0 ? 0 : 1 + Math.floor(lastFill * (chunkSize - 1))
  return { itemId: m.itemId, title: m.title, size: hashes.length === 0 ? 0 : (hashes.length - 1) * chunkSize + last, chunkSize, chunkCount: hashes.length, chunkHashes: hashes, merkleRoot: m.merkleRoot, version: m.version }
})

const licenseArb: fc.Arbitrary<License> = fc.record({ licenseId: id, accountId: id, itemId: id, window })
  .map(({ window: [from, len], ...l }) => ({ ...l, notBefore: from, expiresAt: from + len }))

const directiveArb: fc.Arbitrary<Directive> = fc.record({
  directiveId: id, licenseId: id, itemId: id, clientPeerId: peerId, region: id,
  peers: fc.array(fc.record({ peerId, addrs: fc.array(addr, { maxLength: 3 }), role: fc.constantFrom('parent', 'edge', 'peer' as const) }), { maxLength: 5 }),
  rulesVersion: uint, window
}).map(({ window: [from, len], ...d }) => ({ ...d, issuedAt: from, expiresAt: from + len }))

const heartbeatArb: fc.Arbitrary<Heartbeat> = fc.record({
  peerId: fc.constant(NODE), seq: uint, sentAt: time, load: fc.double({ min: 0, max: 1, noNaN: true }), freeBytes: uint,
  bytesServed: fc.record({ edge: uint, parent: uint, peer: uint, client: uint }), heldItems: fc.array(id, { maxLength: 5 })
})

/** Each type with how to sign it, verify it at a time inside its window, and a generator of valid documents. */
const KINDS = [
  { type: 'rules', arb: rulesArb as fc.Arbitrary<unknown>, sign: (d: any) => signRules(d, main), verify: (b: Uint8Array, d: any) => verifyRules(b, { publicKey: pk, now: d.issuedAt }) },
  { type: 'manifest', arb: manifestArb, sign: (d: any) => signManifest(d, main), verify: (b: Uint8Array) => verifyManifest(b, { publicKey: pk }) },
  { type: 'license', arb: licenseArb, sign: (d: any) => signLicense(d, main), verify: (b: Uint8Array, d: any) => verifyLicense(b, { publicKey: pk, now: d.notBefore }) },
  { type: 'directive', arb: directiveArb, sign: (d: any) => signDirective(d, main), verify: (b: Uint8Array, d: any) => verifyDirective(b, { publicKey: pk, now: d.expiresAt }) },
  { type: 'heartbeat', arb: heartbeatArb, sign: (d: any) => signHeartbeat(d, nodeKey), verify: (b: Uint8Array, d: any) => verifyHeartbeat(b, { peerId: NODE, now: d.sentAt }) }
] as const

// ---- properties ---------------------------------------------------------------

test('every document type round-trips: sign then verify gives the same document, deterministically', () => {
  for (const kind of KINDS) {
    fc.assert(fc.property(kind.arb, generated => {
      // fast-check may build null-prototype objects; decoded documents are plain ones.
      const doc = structuredClone(generated)
      const bytes = kind.sign(doc)
      assert.equal(kind.verify(bytes, doc), doc)
      assert.equal(kind.sign(doc), bytes)
      assert.is(peekDocument(bytes).type, kind.type)
    }), { numRuns: 150, seed: 21 })
  }
})

test('flipping a random bit of any signed document fails verification with a typed error', () => {
  for (const kind of KINDS) {
    fc.assert(fc.property(kind.arb, fc.nat(), (doc, at) => {
      const bytes = kind.sign(doc)
      const bit = at % (bytes.length * 8)
      const bad = new Uint8Array(bytes)
      bad[bit >> 3]! ^= 1 << (bit & 7)
      try {
        kind.verify(bad, doc)
        assert.unreachable(`${kind.type}: bit ${bit} flipped and it still verified`)
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err
      }
    }), { numRuns: 200, seed: 22 })
  }
})

test('a body with an extra field, a missing field or a wrong type is MalformedError even when validly signed', () => {
  const sneaky = (type: 'license', body: object) => signDocument(type, body, main)
  throwsA(() => verifyLicense(sneaky('license', { ...license, admin: true }), { publicKey: pk, now: T }), MalformedError)
  const { accountId: _, ...missing } = license
  throwsA(() => verifyLicense(sneaky('license', missing), { publicKey: pk, now: T }), MalformedError)
  throwsA(() => verifyLicense(sneaky('license', { ...license, expiresAt: String(license.expiresAt) }), { publicKey: pk, now: T }), MalformedError)
  throwsA(() => verifyLicense(sneaky('license', { ...license, notBefore: T + 0.5 }), { publicKey: pk, now: T }), MalformedError)
  throwsA(() => verifyLicense(sneaky('license', { ...license, notBefore: -1 }), { publicKey: pk, now: T }), MalformedError)
  throwsA(() => verifyLicense(sneaky('license', { ...license, itemId: 'has space' }), { publicKey: pk, now: T }), MalformedError)
  throwsA(() => verifyLicense(sneaky('license', [license]), { publicKey: pk, now: T }), MalformedError)
})

test('signing refuses a document that does not match its schema', () => {
  throwsA(() => signLicense({ ...license, extra: 1 } as License, main), MalformedError)
  throwsA(() => signRules({ ...rules, version: 1.5 }, main), MalformedError)
  throwsA(() => signRules({ ...rules, expiresAt: T - 1 }, main), MalformedError)
  throwsA(() => signManifest({ ...manifest, chunkCount: 2 }, main), MalformedError)
  throwsA(() => signDirective({ ...directive, peers: [{ ...directive.peers[0]!, role: 'admin' as 'edge' }] }, main), MalformedError)
  throwsA(() => signHeartbeat({ ...heartbeat, load: 1.5 }, nodeKey), MalformedError)
})

/** The same directive with every peer (and its addrs) frozen, as main hands them over. */
const frozenPeers = (d: Directive): Directive => ({ ...d, peers: d.peers.map(p => Object.freeze({ ...p, addrs: Object.freeze([...p.addrs]) as string[] })) })

/** Signed bytes as hex, or the error's name and message. */
function outcome (fn: () => Uint8Array): string {
  try { return Buffer.from(fn()).toString('hex') } catch (err) { return `${(err as Error).name}: ${(err as Error).message}` }
}

test('a directive naming frozen peers (checked once) signs to the same bytes, and is refused alike, as with plain ones', () => {
  const bad = fc.oneof(
    fc.constant(undefined),
    fc.record({ peerId: fc.constantFrom('not a peer id', ''), addrs: fc.constant(['/ip4/1.2.3.4/tcp/1']), role: fc.constant('edge' as const) }),
    fc.record({ peerId: fc.constant(NODE), addrs: fc.constantFrom(['no-slash'], Array.from({ length: 40 }, () => '/x')), role: fc.constant('edge' as const) }),
    fc.record({ peerId: fc.constant(NODE), addrs: fc.constant([]), role: fc.constant('admin' as 'edge') }),
    fc.record({ peerId: fc.constant(NODE), addrs: fc.constant([]), role: fc.constant('edge' as const), extra: fc.constant(1) })
  )
  const change = fc.oneof(
    fc.constant((d: Directive): unknown => d),
    fc.constant((d: Directive): unknown => ({ ...d, extra: 1 })),
    fc.constant((d: Directive): unknown => ({ ...d, issuedAt: d.expiresAt + 1 })),
    fc.constant((d: Directive): unknown => ({ ...d, rulesVersion: -1 })),
    fc.constant((d: Directive): unknown => ({ ...d, region: 'has space' })),
    fc.constant((d: Directive): unknown => ({ ...d, peers: Array.from({ length: 65 }, () => d.peers[0] ?? directive.peers[0]!) })),
    fc.tuple(bad, fc.nat(5)).map(([p, at]) => (d: Directive): unknown => { const peers: unknown[] = [...d.peers]; peers.splice(at, 0, p); return { ...d, peers } })
  )
  fc.assert(fc.property(directiveArb, change, (generated, f) => {
    const doc = f(structuredClone(generated)) as Directive
    const plain = outcome(() => signDirective(doc, main))
    const peers = Array.isArray(doc.peers) ? doc.peers.map(p => typeof p === 'object' && p !== null ? Object.freeze({ ...p, addrs: Object.freeze([...p.addrs]) as string[] }) : p) : doc.peers
    const frozen = { ...doc, peers }
    assert.is(outcome(() => signDirective(frozen, main)), plain)
    // and again, now that its peers have been checked
    assert.is(outcome(() => signDirective(frozen, main)), plain)
  }), { numRuns: 400, seed: 23 })
  assert.is(outcome(() => signDirective(frozenPeers(directive), main)), outcome(() => signDirective(directive, main)))
})

test('a frozen peer is checked again when it could still change: a getter, or addrs that are not frozen', () => {
  const peer = directive.peers[0]!
  let role = 'edge'
  const withGetter = Object.freeze(Object.defineProperty({ peerId: peer.peerId, addrs: Object.freeze([...peer.addrs]) }, 'role', { enumerable: true, get: () => role })) as unknown as Directive['peers'][0]
  signDirective({ ...directive, peers: [withGetter] }, main)
  role = 'admin'
  throwsA(() => signDirective({ ...directive, peers: [withGetter] }, main), MalformedError)
  const addrs = [...peer.addrs]
  const shallow = Object.freeze({ ...peer, addrs })
  signDirective({ ...directive, peers: [shallow] }, main)
  addrs.push('no slash')
  throwsA(() => signDirective({ ...directive, peers: [shallow] }, main), MalformedError)
})

test('named bounds hold: arrays and strings over their limits are MalformedError', () => {
  const region = { ...rules.regions[0]!, preposition: Array.from({ length: MAX_PREPOSITION_ITEMS + 1 }, (_, i) => `i${i}`) }
  throwsA(() => verifyRules(signDocument('rules', { ...rules, regions: [region] }, main), { publicKey: pk, now: T }), MalformedError)
  throwsA(() => verifyLicense(signDocument('license', { ...license, itemId: 'x'.repeat(129) }, main), { publicKey: pk, now: T }), MalformedError)
  throwsA(() => verifyRules(signDocument('rules', { ...rules, chunkSize: 1 }, main), { publicKey: pk, now: T }), MalformedError)
})

test('a document of another type is WrongTypeError, whichever verifier is used', () => {
  const lic = signLicense(license, main)
  throwsA(() => verifyRules(lic, { publicKey: pk, now: T }), WrongTypeError)
  throwsA(() => verifyDirective(lic, { publicKey: pk, now: T }), WrongTypeError)
  throwsA(() => verifyManifest(lic, { publicKey: pk }), WrongTypeError)
})

test('a document signed by a key other than main\'s is UnknownKeyError', () => {
  throwsA(() => verifyLicense(signLicense(license, intruder), { publicKey: pk, now: T }), UnknownKeyError)
  throwsA(() => verifyRules(signRules(rules, intruder), { publicKey: pk, now: T }), UnknownKeyError)
})

// ---- rules ---------------------------------------------------------------------

test('rules older than the held version are OlderVersionError (rollback)', () => {
  const held = signRules({ ...rules, version: 5 }, main)
  throwsA(() => verifyRules(signRules(rules, main), { publicKey: pk, now: T, held: { version: 5, bytes: held } }), OlderVersionError)
  assert.is(verifyRules(signRules({ ...rules, version: 6 }, main), { publicKey: pk, now: T, held: { version: 5, bytes: held } }).version, 6)
})

test('rules of the held version verify only if they are the same bytes (freeze / equivocation)', () => {
  const held = signRules(rules, main)
  assert.is(verifyRules(held, { publicKey: pk, now: T, held: { version: 3, bytes: held } }).version, 3)
  const sameVersionOtherContent = signRules({ ...rules, regions: [] }, main)
  throwsA(() => verifyRules(sameVersionOtherContent, { publicKey: pk, now: T, held: { version: 3, bytes: held } }), OlderVersionError)
})

test('rules are valid from issuedAt to expiresAt, give or take CLOCK_SKEW_MS', () => {
  const bytes = signRules(rules, main)
  const at = (now: number) => verifyRules(bytes, { publicKey: pk, now })
  at(rules.issuedAt - CLOCK_SKEW_MS)
  at(rules.expiresAt + CLOCK_SKEW_MS)
  throwsA(() => at(rules.issuedAt - CLOCK_SKEW_MS - 1), NotYetValidError)
  throwsA(() => at(rules.expiresAt + CLOCK_SKEW_MS + 1), ExpiredError)
})

test('rules with a parent listed among edges, or two regions of one name, are MalformedError', () => {
  const entry = rules.regions[0]!.parents[0]!
  const wrongRole = { ...rules, regions: [{ ...rules.regions[0]!, edges: [entry] }] }
  throwsA(() => verifyRules(signDocument('rules', wrongRole, main), { publicKey: pk, now: T }), MalformedError)
  const twice = { ...rules, regions: [rules.regions[0]!, rules.regions[0]!] }
  throwsA(() => verifyRules(signDocument('rules', twice, main), { publicKey: pk, now: T }), MalformedError)
})

// ---- manifest ----------------------------------------------------------------

test('a manifest for another item is MismatchError', () => {
  const bytes = signManifest(manifest, main)
  assert.is(verifyManifest(bytes, { publicKey: pk, itemId: 'item-1' }).chunkCount, 3)
  throwsA(() => verifyManifest(bytes, { publicKey: pk, itemId: 'item-2' }), MismatchError)
})

test('an inconsistent manifest is MalformedError: count, size, hash lengths', () => {
  const check = (m: object) => throwsA(() => verifyManifest(signDocument('manifest', m, main), { publicKey: pk }), MalformedError)
  check({ ...manifest, chunkCount: 4 })
  check({ ...manifest, size: 3 * 65536 + 1 })
  check({ ...manifest, size: 2 * 65536 })
  check({ ...manifest, chunkHashes: [manifest.chunkHashes[0], manifest.chunkHashes[1], new Uint8Array(31)] })
  check({ ...manifest, merkleRoot: new Uint8Array(33) })
  check({ ...manifest, chunkHashes: manifest.chunkHashes.map(h => Array.from(h)) }) // bytes must stay bytes
  // The empty item has no chunks.
  const empty = { ...manifest, size: 0, chunkCount: 0, chunkHashes: [] }
  assert.is(verifyManifest(signManifest(empty, main), { publicKey: pk }).chunkCount, 0)
})

// ---- license -------------------------------------------------------------------

test('a license for another item or account is MismatchError', () => {
  const bytes = signLicense(license, main)
  assert.equal(verifyLicense(bytes, { publicKey: pk, now: T, itemId: 'item-1', accountId: 'alice' }), license)
  throwsA(() => verifyLicense(bytes, { publicKey: pk, now: T, itemId: 'item-2' }), MismatchError)
  throwsA(() => verifyLicense(bytes, { publicKey: pk, now: T, accountId: 'mallory' }), MismatchError)
})

test('a license is ExpiredError after expiresAt and NotYetValidError before notBefore (beyond the skew)', () => {
  const bytes = signLicense(license, main)
  throwsA(() => verifyLicense(bytes, { publicKey: pk, now: license.expiresAt + CLOCK_SKEW_MS + 1 }), ExpiredError)
  throwsA(() => verifyLicense(bytes, { publicKey: pk, now: license.notBefore - CLOCK_SKEW_MS - 1 }), NotYetValidError)
})

// ---- directive -----------------------------------------------------------------

test('a directive presented by another peer, for another item or rules version, is MismatchError', () => {
  const bytes = signDirective(directive, main)
  const ok = { publicKey: pk, now: T, clientPeerId: CLIENT, itemId: 'item-1', rulesVersion: 3 }
  assert.equal(verifyDirective(bytes, ok), directive)
  throwsA(() => verifyDirective(bytes, { ...ok, clientPeerId: NODE }), MismatchError)
  throwsA(() => verifyDirective(bytes, { ...ok, itemId: 'item-2' }), MismatchError)
  throwsA(() => verifyDirective(bytes, { ...ok, rulesVersion: 4 }), MismatchError)
  throwsA(() => verifyDirective(bytes, { ...ok, now: directive.expiresAt + CLOCK_SKEW_MS + 1 }), ExpiredError)
})

// ---- heartbeat -------------------------------------------------------------------

test('a heartbeat may say its software version (bounded, printable); one without still verifies', () => {
  const withVersion = { ...heartbeat, version: '0.1.0' }
  assert.equal(verifyHeartbeat(signHeartbeat(withVersion, nodeKey), { peerId: NODE, now: T }), withVersion)
  assert.equal(verifyHeartbeat(signHeartbeat(heartbeat, nodeKey), { peerId: NODE, now: T }), heartbeat)
  for (const version of ['', '0.1.0 beta', 'x'.repeat(33), '<script>', '1.0\n']) {
    throwsA(() => signHeartbeat({ ...heartbeat, version }, nodeKey), MalformedError)
  }
})

test('a heartbeat verifies by the node\'s PeerId alone, since an Ed25519 PeerId embeds its key', () => {
  const bytes = signHeartbeat(heartbeat, nodeKey)
  assert.equal(verifyHeartbeat(bytes, { peerId: NODE, now: T }), heartbeat)
  assert.equal(verifyHeartbeat(bytes, { publicKey: nodeKey.publicKey, now: T, impl: 'noble' }), heartbeat)
})

test('signHeartbeatRaw signs with libp2p\'s 64-byte node key, the same bytes as the seed', async () => {
  const { generateKeyPair } = await import('@libp2p/crypto/keys')
  const key = await generateKeyPair('Ed25519')
  const peerId = peerIdOf(key.publicKey.raw)
  const hb = { ...heartbeat, peerId }
  const bytes = signHeartbeatRaw(hb, key.raw)
  assert.equal(bytes, signHeartbeatRaw(hb, key.raw.subarray(0, 32), 'noble'))
  assert.equal(verifyHeartbeat(bytes, { peerId, now: T }), hb)
})

test('a heartbeat cannot speak for another node', () => {
  // The intruder's key cannot sign a heartbeat naming the node.
  throwsA(() => signHeartbeat(heartbeat, intruder), MismatchError)
  const forged = signDocument('heartbeat', heartbeat, intruder)
  // Checked against the node's PeerId (its key): the intruder's key id is unknown.
  throwsA(() => verifyHeartbeat(forged, { peerId: NODE, now: T }), UnknownKeyError)
  // Checked against the intruder's own key: valid signature, but it names someone else.
  throwsA(() => verifyHeartbeat(forged, { publicKey: intruder.publicKey, now: T }), MismatchError)
  // A genuine heartbeat presented under another PeerId.
  throwsA(() => verifyHeartbeat(signHeartbeat(heartbeat, nodeKey), { publicKey: nodeKey.publicKey, peerId: CLIENT, now: T }), MismatchError)
})

test('a heartbeat sent more than CLOCK_SKEW_MS ago or ahead is Expired / NotYetValid', () => {
  const bytes = signHeartbeat(heartbeat, nodeKey)
  verifyHeartbeat(bytes, { peerId: NODE, now: T + CLOCK_SKEW_MS })
  verifyHeartbeat(bytes, { peerId: NODE, now: T - CLOCK_SKEW_MS })
  throwsA(() => verifyHeartbeat(bytes, { peerId: NODE, now: T + CLOCK_SKEW_MS + 1 }), ExpiredError)
  throwsA(() => verifyHeartbeat(bytes, { peerId: NODE, now: T - CLOCK_SKEW_MS - 1 }), NotYetValidError)
})

test.run()
