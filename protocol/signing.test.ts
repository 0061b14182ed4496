import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { createSigner } from './keys.ts'
import { decode, encode } from './encoding.ts'
import { DOC_TYPES, domainTag, fromText, openDocument, readEnvelope, signDocument, toText } from './signing.ts'
import {
  InvalidSignatureError, MalformedError, ProtocolError, TooLargeError, UnknownKeyError, WrongTypeError
} from './errors.ts'
import { MAX_DOCUMENT_BYTES } from './limits.ts'
import type { DocType } from './types.ts'

const main = createSigner(new Uint8Array(32).fill(1))
const other = createSigner(new Uint8Array(32).fill(2))
const body = { itemId: 'item-1', n: 42, hashes: [new Uint8Array(32).fill(9)] }
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')

function throwsA (fn: () => unknown, cls: new (...a: any[]) => Error): void {
  try { fn() } catch (err) {
    assert.instance(err, cls, `expected ${cls.name}, got ${(err as Error).name}: ${(err as Error).message}`)
    return
  }
  assert.unreachable(`expected ${cls.name}, nothing thrown`)
}

/** Re-sign arbitrary body bytes, bypassing signDocument's canonical encoding. */
function envelopeOver (type: DocType, b: Uint8Array, signer = main): Uint8Array {
  const tag = domainTag(type)
  const s = signer.sign(new Uint8Array([...tag, ...b]))
  return encode({ t: type, k: signer.keyId, b, s })
}

test('the envelope is {t, k, b, s} and s covers the domain tag and the exact body bytes', () => {
  const env = signDocument('license', body, main)
  const raw = decode(env) as Record<string, unknown>
  assert.equal(Object.keys(raw).sort(), ['b', 'k', 's', 't'])
  assert.is(raw.t, 'license')
  assert.is(raw.k, main.keyId)
  assert.is(toHex(raw.b as Uint8Array), toHex(encode(body)))
  const tag = new TextEncoder().encode('reelnet:license:v1\0')
  assert.is(toHex(raw.s as Uint8Array), toHex(main.sign(new Uint8Array([...tag, ...encode(body)]))))
})

test('a signed document opens to its body, key id and body bytes, with either implementation', () => {
  const env = signDocument('manifest', body, main)
  for (const impl of ['noble', 'node'] as const) {
    const opened = openDocument('manifest', env, main.publicKey, { impl })
    assert.equal(opened.body, body)
    assert.is(opened.keyId, main.keyId)
    assert.is(toHex(opened.bodyBytes), toHex(encode(body)))
  }
})

test('opening as another type is WrongTypeError; retagging the envelope breaks the signature', () => {
  const env = signDocument('license', body, main)
  throwsA(() => openDocument('directive', env, main.publicKey), WrongTypeError)
  // Same body and signature, envelope relabelled as a directive: domain separation rejects it.
  const { b, s, k } = readEnvelope(env)
  const relabelled = encode({ t: 'directive', k, b, s })
  throwsA(() => openDocument('directive', relabelled, main.publicKey), InvalidSignatureError)
})

test('a document signed by another key is UnknownKeyError; a key ring picks the key by id', () => {
  const env = signDocument('rules', body, other)
  throwsA(() => openDocument('rules', env, main.publicKey), UnknownKeyError)
  throwsA(() => openDocument('rules', env, new Map([[main.keyId, main.publicKey]])), UnknownKeyError)
  const ring = new Map([[main.keyId, main.publicKey], [other.keyId, other.publicKey]])
  assert.is(openDocument('rules', env, ring).keyId, other.keyId)
})

test('a key ring entry that lies about its key id does not help a forger', () => {
  // The envelope names main's key id, but the ring maps that id to other's key: the signature fails.
  const env = signDocument('rules', body, main)
  throwsA(() => openDocument('rules', env, new Map([[main.keyId, other.publicKey]])), InvalidSignatureError)
})

test('a validly signed but non-canonical body is MalformedError', () => {
  // {n: 1} with the integer written in two bytes; signed over those exact bytes.
  const nonMinimal = Uint8Array.from([0xa1, 0x61, 0x6e, 0x18, 0x01])
  throwsA(() => openDocument('license', envelopeOver('license', nonMinimal), main.publicKey), MalformedError)
  // Keys out of canonical order.
  const unordered = Uint8Array.from([0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02])
  throwsA(() => openDocument('license', envelopeOver('license', unordered), main.publicKey), MalformedError)
  // The same value, canonical, opens.
  assert.equal(openDocument('license', envelopeOver('license', Uint8Array.from([0xa1, 0x61, 0x6e, 0x01])), main.publicKey).body, { n: 1 })
})

test('a non-canonical envelope, or one with extra or missing fields, is MalformedError', () => {
  const env = signDocument('license', body, main)
  const { t, k, b, s } = readEnvelope(env)
  throwsA(() => openDocument('license', encode({ t, k, b, s, x: 1 }), main.publicKey), MalformedError)
  throwsA(() => openDocument('license', encode({ t, k, b }), main.publicKey), MalformedError)
  throwsA(() => openDocument('license', encode({ t, k, b, s: s.subarray(0, 63) }), main.publicKey), MalformedError)
  throwsA(() => openDocument('license', encode({ t: 'invoice', k, b, s }), main.publicKey), MalformedError)
  throwsA(() => openDocument('license', encode([t, k, b, s]), main.publicKey), MalformedError)
  // Envelope map header as a non-minimal length (0xb8 0x04 instead of 0xa4).
  const padded = new Uint8Array([0xb8, 0x04, ...env.subarray(1)])
  throwsA(() => openDocument('license', padded, main.publicKey), MalformedError)
})

test('flipping any single bit of a signed envelope fails with a typed error', () => {
  for (const type of DOC_TYPES) {
    const env = signDocument(type, body, main)
    // Every bit of one envelope per type, exhaustively (about 2,000 per type).
    for (let bit = 0; bit < env.length * 8; bit++) {
      const bad = new Uint8Array(env)
      bad[bit >> 3]! ^= 1 << (bit & 7)
      try {
        openDocument(type, bad, main.publicKey)
        assert.unreachable(`${type}: bit ${bit} flipped and it still opened`)
      } catch (err) {
        assert.instance(err, ProtocolError, `${type} bit ${bit}: ${(err as Error).message}`)
      }
    }
  }
})

test('10,000 random inputs to openDocument only ever throw typed protocol errors', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(...DOC_TYPES), (bytes, type) => {
    try {
      openDocument(type, bytes, main.publicKey)
      assert.unreachable('random bytes opened')
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
    }
  }), { numRuns: 10_000, seed: 5 })
})

test('random envelopes that parse (random t, k, b, s) only ever throw typed protocol errors', () => {
  const envelope = fc.record({
    t: fc.oneof(fc.constantFrom(...DOC_TYPES), fc.string()),
    k: fc.oneof(fc.constant(main.keyId), fc.string()),
    b: fc.uint8Array({ maxLength: 64 }),
    s: fc.uint8Array({ minLength: 64, maxLength: 64 })
  })
  fc.assert(fc.property(envelope, env => {
    try {
      openDocument('license', encode(env), main.publicKey)
      assert.unreachable('a random envelope opened')
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
    }
  }), { numRuns: 2000, seed: 6 })
})

test('an envelope over its type\'s size bound is TooLargeError before parsing', () => {
  const tooBig = new Uint8Array(MAX_DOCUMENT_BYTES.license + 1).fill(0xff)
  throwsA(() => openDocument('license', tooBig, main.publicKey), TooLargeError)
  throwsA(() => signDocument('license', { blob: new Uint8Array(MAX_DOCUMENT_BYTES.license) }, main), TooLargeError)
  // The same size is fine for a manifest, whose bound is larger.
  const env = signDocument('manifest', { blob: new Uint8Array(MAX_DOCUMENT_BYTES.license) }, main)
  assert.ok(openDocument('manifest', env, main.publicKey).body)
})

test('envelope text is strict base64url and round-trips', () => {
  const env = signDocument('heartbeat', body, main)
  const text = toText(env)
  assert.match(text, /^[A-Za-z0-9_-]+$/)
  assert.is(toHex(fromText(text)), toHex(env))
  throwsA(() => fromText(text + '='), MalformedError)
  throwsA(() => fromText(text.replace(/[A-Za-z]/, '!')), MalformedError)
})

test('domain tags differ per type and end in a NUL', () => {
  const seen = new Set<string>()
  for (const t of DOC_TYPES) {
    const tag = new TextDecoder().decode(domainTag(t))
    assert.is(tag, `reelnet:${t}:v1\0`)
    seen.add(tag)
  }
  assert.is(seen.size, DOC_TYPES.length)
  assert.throws(() => domainTag('invoice' as DocType), (e: Error) => e instanceof TypeError)
})

test.run()
