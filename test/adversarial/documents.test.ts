/**
 * Adversarial cases 7–15: forged, replayed, re-encoded, oversized and
 * malleable signed documents, checked where they enter — protocol/'s
 * verifiers, a node's rules follower and manifest cache, the client's calls
 * to main, a node's directive check — all in process, no network startup.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { caseOf, throwsNamed, T0, HOUR, newSigner, rulesV, licenseFor, directiveFor, itemOf, flipped } from './kit.ts'
import {
  signRules, verifyRules, signManifest, verifyManifest, signLicense, verifyLicense, signDirective, verifyDirective,
  signHeartbeat, verifyHeartbeat
} from '../../protocol/documents.ts'
import { domainTag, openDocument, signDocument, toText, readEnvelope } from '../../protocol/signing.ts'
import { decode, encode } from '../../protocol/encoding.ts'
import { fingerprint, isValidPublicKey, peerIdOf, verifySignature, type Signer } from '../../protocol/keys.ts'
import { CLOCK_SKEW_MS, MAX_DOCUMENT_BYTES } from '../../protocol/limits.ts'
import type { Rules } from '../../protocol/types.ts'
import { RulesFollower } from '../../node/control/rules.ts'
import { ManifestCache } from '../../node/server/items.ts'
import { StateDb } from '../../node/control/state.ts'
import { createAuthorizer } from '../../node/net/access.ts'
import type { MainClient } from '../../node/control/main-client.ts'
import { MainApi } from '../../node/client/main-api.ts'
import { newKit, customer, ingest, nodeKey } from '../../main/test-kit.ts'

const main = newSigner()
const mallory = newSigner()
const dirs: string[] = []

async function tempDir (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'reelnet-adv-docs-'))
  dirs.push(d)
  return d
}

test.after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

/** A signer that claims main's key id but signs with another key (a forged envelope). */
function impostor (of: Signer, by: Signer): Signer {
  return { keyId: of.keyId, publicKey: of.publicKey, sign: (m: Uint8Array) => by.sign(m) }
}

/** An envelope over exactly `body` (any bytes), signed properly: the only way to ship non-canonical bodies. */
function envelopeOver (type: 'rules' | 'manifest' | 'license' | 'directive', body: Uint8Array, signer: Signer): Uint8Array {
  const tag = domainTag(type)
  const msg = new Uint8Array(tag.length + body.length)
  msg.set(tag, 0)
  msg.set(body, tag.length)
  return encode({ t: type, k: signer.keyId, b: body, s: signer.sign(msg) })
}

/** A fake main that serves whatever rules envelope `current` holds (200 with the bytes, never 304). */
function fakeRulesMain (state: { current: Uint8Array, version: number }): MainClient {
  return {
    async getRules () {
      return { notModified: false as const, etag: `"v${state.version}"`, version: state.version, bytes: state.current }
    }
  } as unknown as MainClient
}

async function follower (dir: string, served: { current: Uint8Array, version: number }, clock: { now: number }, logs: string[]): Promise<{ f: RulesFollower, state: StateDb }> {
  const state = await StateDb.open(dir)
  const f = new RulesFollower({ main: fakeRulesMain(served), state, mainPublicKey: main.publicKey, region: 'eu', now: () => clock.now, log: m => logs.push(m) })
  await f.load()
  return { f, state }
}

// ---- 7 ----------------------------------------------------------------------

caseOf(test, '7. a manifest not signed by main, or signed for another item → refused by the protocol, the node\'s manifest cache and the client', async () => {
  const { manifest } = itemOf('film-a', 100_000)
  const byMallory = signManifest(manifest, mallory)
  const forged = signManifest(manifest, impostor(main, mallory))
  const otherItem = signManifest({ ...manifest, itemId: 'film-b' }, main)
  await throwsNamed(() => verifyManifest(byMallory, { publicKey: main.publicKey, itemId: 'film-a' }), 'UnknownKeyError')
  await throwsNamed(() => verifyManifest(forged, { publicKey: main.publicKey, itemId: 'film-a' }), 'InvalidSignatureError')
  await throwsNamed(() => verifyManifest(otherItem, { publicKey: main.publicKey, itemId: 'film-a' }), 'MismatchError')
  // control: the genuine one verifies
  assert.is(verifyManifest(signManifest(manifest, main), { publicKey: main.publicKey, itemId: 'film-a' }).itemId, 'film-a')

  // a node's manifest cache: refuses each, stores nothing
  for (const bad of [byMallory, forged, otherItem]) {
    const dir = await tempDir()
    const state = await StateDb.open(dir)
    try {
      const cache = new ManifestCache({ getManifest: async () => bad } as unknown as MainClient, state, main.publicKey)
      await throwsNamed(() => cache.get('film-a'), bad === otherItem ? 'MismatchError' : bad === byMallory ? 'UnknownKeyError' : 'InvalidSignatureError')
      assert.is(cache.known('film-a'), undefined)
      assert.is(await state.get('manifest:film-a'), undefined, 'nothing stored')
    } finally { await state.close() }
  }

  // the customer's client asking a hostile "main" for the manifest
  let serving = byMallory
  const server: Server = createServer((req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ manifest: toText(serving) })) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  try {
    const port = (server.address() as { port: number }).port
    const api = new MainApi({ url: `http://127.0.0.1:${port}`, token: 't', mainKey: main.publicKey, now: () => T0 })
    for (const bad of [byMallory, forged, otherItem]) {
      serving = bad
      await throwsNamed(() => api.manifest('film-a'), bad === otherItem ? 'MismatchError' : bad === byMallory ? 'UnknownKeyError' : 'InvalidSignatureError')
    }
    serving = signManifest(manifest, main)
    assert.is((await api.manifest('film-a')).manifest.size, manifest.size, 'control: the genuine manifest is taken')
  } finally {
    server.close()
  }
})

// ---- 8 ----------------------------------------------------------------------

caseOf(test, '8. rules with a bad signature → rejected; last good rules stay in force', async () => {
  const good = signRules(rulesV(1, { edges: [peerIdOf(newSigner().publicKey)] }), main)
  const next = rulesV(2)
  const genv = readEnvelope(good)
  const corrupted = encode({ ...genv, s: flipped(genv.s, 10) }) // one bit of the signature
  const byMallory = signRules(next, mallory)
  const forged = signRules(next, impostor(main, mallory))
  await throwsNamed(() => verifyRules(corrupted, { publicKey: main.publicKey, now: T0 }), 'InvalidSignatureError')
  await throwsNamed(() => verifyRules(byMallory, { publicKey: main.publicKey, now: T0 }), 'UnknownKeyError')
  await throwsNamed(() => verifyRules(forged, { publicKey: main.publicKey, now: T0 }), 'InvalidSignatureError')

  const dir = await tempDir()
  const served = { current: good, version: 1 }
  const clock = { now: T0 }
  const logs: string[] = []
  const { f, state } = await follower(dir, served, clock, logs)
  try {
    assert.ok(await f.poll(), 'the good rules are taken')
    for (const bad of [corrupted, byMallory, forged]) {
      served.current = bad
      served.version = 2
      assert.not.ok(await f.poll(), 'bad rules are not taken')
      assert.is(f.rules?.version, 1, 'the last good rules stay in force')
      assert.is(f.members().length, 1)
    }
    assert.ok(logs.some(l => /InvalidSignatureError|UnknownKeyError/.test(l)), `logged: ${logs.join(' | ')}`)
  } finally { await state.close() }
  // and after a restart the stored rules are still the good ones
  const again = await follower(dir, { current: good, version: 1 }, clock, [])
  try { assert.is(again.f.rules?.version, 1) } finally { await again.state.close() }
})

// ---- 9 ----------------------------------------------------------------------

caseOf(test, '9. validly signed rules older than the held version → rejected (rollback), also after a restart', async () => {
  const v5 = signRules(rulesV(5), main)
  const v4 = signRules(rulesV(4, { edges: [peerIdOf(mallory.publicKey)] }), main)
  await throwsNamed(() => verifyRules(v4, { publicKey: main.publicKey, now: T0, held: { version: 5, bytes: v5 } }), 'OlderVersionError')

  const dir = await tempDir()
  const served = { current: v5, version: 5 }
  const clock = { now: T0 }
  const logs: string[] = []
  const { f, state } = await follower(dir, served, clock, logs)
  try {
    assert.ok(await f.poll())
    served.current = v4
    served.version = 4
    assert.not.ok(await f.poll(), 'the older rules are refused')
    assert.is(f.rules?.version, 5)
    assert.is(f.roleOf(peerIdOf(mallory.publicKey)), undefined, 'the rolled-back membership is not used')
    assert.ok(logs.some(l => /OlderVersionError/.test(l)), `logged: ${logs.join(' | ')}`)
  } finally { await state.close() }

  // restart: the stored v5 is the floor
  const r = await follower(dir, { current: v4, version: 4 }, clock, [])
  try {
    assert.not.ok(await r.f.poll(), 'after a restart the older rules are still refused')
    assert.is(r.f.rules?.version, 5)
  } finally { await r.state.close() }

  // restart after the stored rules expired: they still set the floor (only fresher, not older, rules may replace them)
  const late = { now: T0 + 30 * HOUR }
  const v4fresh = signRules(rulesV(4, { issuedAt: late.now - 1000, expiresAt: late.now + HOUR, edges: [peerIdOf(mallory.publicKey)] }), main)
  const e = await follower(dir, { current: v4fresh, version: 4 }, late, [])
  try {
    assert.not.ok(await e.f.poll(), 'rules older than the expired stored v5 are refused after a restart')
    assert.is(e.f.roleOf(peerIdOf(mallory.publicKey)), undefined, 'the rolled-back membership is not used')
  } finally { await e.state.close() }
})

// ---- 10 ---------------------------------------------------------------------

caseOf(test, '10. rules of the same version with different bytes → rejected and logged', async () => {
  const a = signRules(rulesV(7), main)
  const b = signRules(rulesV(7, { edges: [peerIdOf(mallory.publicKey)] }), main)
  await throwsNamed(() => verifyRules(b, { publicKey: main.publicKey, now: T0, held: { version: 7, bytes: a } }), 'OlderVersionError', /differs/)
  // the same bytes again are fine (a repeated poll)
  assert.is(verifyRules(a, { publicKey: main.publicKey, now: T0, held: { version: 7, bytes: a } }).version, 7)

  const dir = await tempDir()
  const served = { current: a, version: 7 }
  const logs: string[] = []
  const { f, state } = await follower(dir, served, { now: T0 }, logs)
  try {
    assert.ok(await f.poll())
    served.current = b
    assert.not.ok(await f.poll())
    assert.is(f.roleOf(peerIdOf(mallory.publicKey)), undefined, 'the other rules of version 7 are not used')
    assert.ok(logs.some(l => /differs/.test(l)), `logged: ${logs.join(' | ')}`)
  } finally { await state.close() }
})

// ---- 11 ---------------------------------------------------------------------

caseOf(test, '11. expired rules, directive or license → not used; a node left with only expired rules says so in its log (freeze)', async () => {
  const past = T0 + 2 * CLOCK_SKEW_MS
  const rules = signRules(rulesV(3, { issuedAt: T0 - HOUR, expiresAt: T0 }), main)
  await throwsNamed(() => verifyRules(rules, { publicKey: main.publicKey, now: past }), 'ExpiredError')
  await throwsNamed(() => verifyLicense(signLicense(licenseFor('film-a', { expiresAt: T0 }), main), { publicKey: main.publicKey, now: past }), 'ExpiredError')
  const client = peerIdOf(newSigner().publicKey)
  const self = peerIdOf(newSigner().publicKey)
  const expiredDirective = signDirective(directiveFor('film-a', client, [{ peerId: self, addrs: [], role: 'edge' }], { issuedAt: T0 - HOUR, expiresAt: T0 }), main)
  await throwsNamed(() => verifyDirective(expiredDirective, { publicKey: main.publicKey, now: past }), 'ExpiredError')

  // a node that holds rules which then expire while main (or an attacker in between) keeps serving the same bytes
  const dir = await tempDir()
  const member = peerIdOf(newSigner().publicKey)
  const fresh = signRules(rulesV(3, { issuedAt: T0 - HOUR, expiresAt: T0 + HOUR, edges: [member] }), main)
  const clock = { now: T0 }
  const logs: string[] = []
  const { f, state } = await follower(dir, { current: fresh, version: 3 }, clock, logs)
  try {
    assert.ok(await f.poll())
    assert.is(f.roleOf(member), 'edge')
    clock.now = T0 + HOUR + 2 * CLOCK_SKEW_MS
    await f.poll()
    assert.ok(logs.some(l => /expired/i.test(l)), `the node logs that its rules expired: ${JSON.stringify(logs)}`)
    assert.is(f.roleOf(member), undefined, 'members of expired rules are no longer trusted')
  } finally { await state.close() }

  // restarted with only expired rules stored: nothing from them is acted on, and it says so
  const logs2: string[] = []
  const r = await follower(dir, { current: fresh, version: 3 }, clock, logs2)
  try {
    assert.is(r.f.rules, undefined, 'expired stored rules are not used')
    assert.match(r.f.lastError ?? '', /expired/)
    await r.f.poll()
    assert.is(r.f.rules, undefined, 'the same expired rules from main are not used either')
    assert.ok(logs2.some(l => /expired/i.test(l)), `logged: ${JSON.stringify(logs2)}`)
  } finally { await r.state.close() }

  // a node refuses an expired directive at the chunk protocol
  const authz = createAuthorizer({ mainPublicKey: () => main.publicKey, selfPeerId: self, isMember: () => false, now: () => past })
  await throwsNamed(() => authz.authorize({ connection: fakeConnection(client), itemId: 'film-a', credential: expiredDirective }), 'AccessDeniedError', /expired/)
})

/** Just enough of a libp2p Connection for the authorizer: the Noise-authenticated remote PeerId. */
function fakeConnection (remote: string): Parameters<ReturnType<typeof createAuthorizer>['authorize']>[0]['connection'] {
  return { remotePeer: { toString: () => remote } } as unknown as Parameters<ReturnType<typeof createAuthorizer>['authorize']>[0]['connection']
}

// ---- 12 ---------------------------------------------------------------------

caseOf(test, '12. a directive that names another rules version than the one it is checked under → rejected (mix-and-match); main names its current version', async () => {
  const client = peerIdOf(newSigner().publicKey)
  const d = signDirective(directiveFor('film-a', client, [], { rulesVersion: 2 }), main)
  await throwsNamed(() => verifyDirective(d, { publicKey: main.publicKey, now: T0, rulesVersion: 3 }), 'MismatchError', /rules version/)
  assert.is(verifyDirective(d, { publicKey: main.publicKey, now: T0, rulesVersion: 2 }).rulesVersion, 2)
  // the version is under the signature: moving a directive to another version breaks it
  const env = readEnvelope(d)
  const body = decode(env.b) as Record<string, unknown>
  const moved = encode({ t: env.t, k: env.k, b: encode({ ...body, rulesVersion: 3 }), s: env.s })
  await throwsNamed(() => verifyDirective(moved, { publicKey: main.publicKey, now: T0, rulesVersion: 3 }), 'InvalidSignatureError')

  // a real main: the directive it issues names exactly the rules version it serves
  const kit = await newKit()
  try {
    const node = nodeKey()
    const reg = await kit.req('POST', '/v1/nodes', { json: { peerId: node.peerId, role: 'edge', region: 'eu', addrs: ['/ip4/127.0.0.1/tcp/4001'], capacityBytes: 1e9 }, token: 'operator-token-0123456789abcdef' })
    assert.ok(reg.status === 201 || reg.status === 200, `register: ${reg.status}`)
    const itemId = await ingest(kit, new Uint8Array(100_000).fill(7))
    const { token } = await customer(kit, 'mixer', 'eu')
    const rental = await (await kit.req('POST', '/v1/rentals', { json: { itemId }, token })).json() as { licenseId: string }
    const issued = await (await kit.req('POST', '/v1/directives', { json: { licenseId: rental.licenseId, clientPeerId: client, region: 'eu' }, token })).json() as { directive: string }
    const rules = await (await kit.req('GET', '/v1/rules')).json() as { version: number }
    const pub = await kit.publicKey()
    const bytes = new Uint8Array(Buffer.from(issued.directive, 'base64url'))
    assert.is(verifyDirective(bytes, { publicKey: pub, now: kit.clock.now, rulesVersion: rules.version }).rulesVersion, rules.version)
    await throwsNamed(() => verifyDirective(bytes, { publicKey: pub, now: kit.clock.now, rulesVersion: rules.version - 1 }), 'MismatchError')
  } finally { await kit.close() }
})

// ---- 13 ---------------------------------------------------------------------

caseOf(test, '13. re-encoded documents or documents with extra fields → rejected (the signature covers the exact bytes)', async () => {
  const rules = rulesV(9)
  const good = signRules(rules, main)
  const env = readEnvelope(good)
  // 1. the body re-encoded non-canonically (version 9 as a two-byte integer), envelope signed over those bytes
  const canonical = env.b
  const at = findSeq(canonical, [0x67, ...Buffer.from('version'), 0x09])
  assert.ok(at >= 0, 'found the version field')
  const loose = new Uint8Array(canonical.length + 1)
  loose.set(canonical.subarray(0, at + 8), 0)
  loose[at + 8] = 0x18
  loose[at + 9] = 0x09
  loose.set(canonical.subarray(at + 9), at + 10)
  await throwsNamed(() => verifyRules(envelopeOver('rules', loose, main), { publicKey: main.publicKey, now: T0 }), 'MalformedError', /canonical|strict/)
  // 2. the same, but keeping main's signature over the canonical bytes
  await throwsNamed(() => verifyRules(encode({ t: 'rules', k: env.k, b: loose, s: env.s }), { publicKey: main.publicKey, now: T0 }), 'InvalidSignatureError')
  // 3. an extra field in the body, properly signed
  const extra = signDocument('rules', { ...rules, admin: true }, main)
  await throwsNamed(() => verifyRules(extra, { publicKey: main.publicKey, now: T0 }), 'MalformedError')
  // 4. an extra field in the envelope
  await throwsNamed(() => verifyRules(encode({ ...env, x: 1 }), { publicKey: main.publicKey, now: T0 }), 'MalformedError', /exactly the fields/)
  // 5. a license body served as a directive (domain separation)
  const lic = signLicense(licenseFor('film-a'), main)
  await throwsNamed(() => openDocument('directive', lic, main.publicKey), 'WrongTypeError')
  const relabelled = encode({ ...readEnvelope(lic), t: 'directive' })
  await throwsNamed(() => openDocument('directive', relabelled, main.publicKey), 'InvalidSignatureError')
  // 6. trailing bytes after the envelope
  const trailing = new Uint8Array(good.length + 1)
  trailing.set(good)
  await throwsNamed(() => verifyRules(trailing, { publicKey: main.publicKey, now: T0 }), 'MalformedError')
})

function findSeq (hay: Uint8Array, needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

// ---- 14 ---------------------------------------------------------------------

caseOf(test, '14. oversized or deeply nested documents → rejected before they are parsed; main answers 4xx, never 500', async () => {
  // garbage larger than the bound: TooLargeError (not MalformedError) shows the size is checked before any parsing
  const huge = new Uint8Array(MAX_DOCUMENT_BYTES.rules + 1).fill(0xff)
  await throwsNamed(() => verifyRules(huge, { publicKey: main.publicKey, now: T0 }), 'TooLargeError')
  await throwsNamed(() => verifyDirective(new Uint8Array(MAX_DOCUMENT_BYTES.directive + 1), { publicKey: main.publicKey, now: T0 }), 'TooLargeError')
  // 100,000 nested arrays: refused by the header scan, no stack overflow, quickly
  const depth = 100_000
  const nested = new Uint8Array(depth + 1).fill(0x81)
  nested[depth] = 0x00
  // the header scan's own error (not a parser's, not a stack overflow) shows it was refused before any parsing
  await throwsNamed(() => decode(nested), 'TooLargeError', /nests deeper/)
  await throwsNamed(() => verifyRules(nested, { publicKey: main.publicKey, now: T0 }), 'TooLargeError')
  // a nested body under a valid signature is refused too
  let deep: unknown = 0
  for (let i = 0; i < 40; i++) deep = [deep]
  const signedDeep = envelopeOver('rules', encode(deep), main)
  await throwsNamed(() => verifyRules(signedDeep, { publicKey: main.publicKey, now: T0 }), 'TooLargeError')
  // a container that claims more items than bytes remain: refused without allocating for the claim
  await throwsNamed(() => decode(Uint8Array.of(0x9b, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff)), 'MalformedError')

  const kit = await newKit()
  try {
    const node = nodeKey()
    const text = Buffer.from(nested).toString('base64url')
    const res = await kit.req('POST', `/v1/nodes/${node.peerId}/heartbeat`, { json: { heartbeat: text } })
    assert.ok(res.status >= 400 && res.status < 500, `nested heartbeat: ${res.status}`)
    const big = await kit.req('POST', `/v1/nodes/${node.peerId}/heartbeat`, { json: { heartbeat: 'A'.repeat(2_000_000) } })
    assert.is(big.status, 413)
    assert.is((await kit.req('GET', '/healthz')).status, 200)
  } finally { await kit.close() }
})

// ---- 15 ---------------------------------------------------------------------

caseOf(test, '15. non-canonical or small-order ed25519 keys and signatures → rejected (both implementations)', async () => {
  const msg = new TextEncoder().encode('reelnet')
  const sig = main.sign(msg)
  assert.ok(verifySignature(main.publicKey, msg, sig, 'node') && verifySignature(main.publicKey, msg, sig, 'noble'), 'control')
  // S + L: the malleable twin of a valid signature
  const L = 2n ** 252n + 27742317777372353535851937790883648493n
  let s = 0n
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i]!)
  const twin = Uint8Array.from(sig)
  let t = s + L
  for (let i = 0; i < 32; i++) { twin[32 + i] = Number(t & 0xffn); t >>= 8n }
  for (const impl of ['node', 'noble'] as const) assert.not.ok(verifySignature(main.publicKey, msg, twin, impl), `S+L refused (${impl})`)
  // the identity (small order): with R = identity and S = 0, a lax verifier accepts any message
  const identity = new Uint8Array(32); identity[0] = 1
  const lazySig = new Uint8Array(64); lazySig[0] = 1
  // a point of order 8, and a non-canonical y ≥ p encoding
  const order8 = Uint8Array.from(Buffer.from('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', 'hex'))
  const nonCanonical = new Uint8Array(32).fill(0xff); nonCanonical[31] = 0x7f
  for (const key of [identity, order8, nonCanonical]) {
    assert.not.ok(isValidPublicKey(key))
    for (const impl of ['node', 'noble'] as const) {
      assert.not.ok(verifySignature(key, msg, lazySig, impl), `small-order or non-canonical key refused (${impl})`)
    }
  }
  // an envelope with a malleated signature is refused
  const lic = signLicense(licenseFor('film-a'), main)
  const env = readEnvelope(lic)
  const sig2 = Uint8Array.from(env.s)
  let s2 = 0n
  for (let i = 31; i >= 0; i--) s2 = (s2 << 8n) | BigInt(sig2[32 + i]!)
  let t2 = s2 + L
  for (let i = 0; i < 32; i++) { sig2[32 + i] = Number(t2 & 0xffn); t2 >>= 8n }
  await throwsNamed(() => verifyLicense(encode({ ...env, s: sig2 }), { publicKey: main.publicKey, now: T0 }), 'InvalidSignatureError')
  // a heartbeat "from" a PeerId embedding the identity key, with the lazy signature: refused
  const fakePeer = peerIdOf(identity)
  const hb = { peerId: fakePeer, seq: 1, sentAt: T0, load: 0, freeBytes: 0, bytesServed: { edge: 0, parent: 0, peer: 0, client: 0 }, heldItems: [] }
  const lazyEnvelope = encode({ t: 'heartbeat', k: fingerprint(identity), b: encode(hb), s: lazySig })
  await throwsNamed(() => verifyHeartbeat(lazyEnvelope, { now: T0, peerId: fakePeer }), 'InvalidSignatureError')
  const kit = await newKit()
  try {
    const res = await kit.req('POST', `/v1/nodes/${fakePeer}/heartbeat`, { json: { heartbeat: toText(lazyEnvelope) } })
    assert.ok(res.status >= 400 && res.status < 500, `main refuses it: ${res.status}`)
  } finally { await kit.close() }
  // a libp2p-generated key signs heartbeats that do verify (control for the PeerId path)
  const pk = await generateKeyPair('Ed25519')
  const pid = peerIdFromPrivateKey(pk).toString()
  const raw = pk.raw.subarray(0, 32)
  const { createSigner } = await import('../../protocol/keys.ts')
  const hbOk = signHeartbeat({ ...hb, peerId: pid }, createSigner(raw))
  assert.is(verifyHeartbeat(hbOk, { now: T0, peerId: pid }).peerId, pid)
})

test.run()
