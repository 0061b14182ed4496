import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { bytesEqual, decode, encode, fromBase64url, scanCbor, toBase64url } from './encoding.ts'
import { MalformedError, ProtocolError, TooLargeError } from './errors.ts'
import { MAX_CBOR_DEPTH } from './limits.ts'

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'))
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')

function throwsA (fn: () => unknown, cls: new (...a: any[]) => Error): Error {
  try { fn() } catch (err) {
    assert.instance(err, cls, `expected ${cls.name}, got ${(err as Error).name}: ${(err as Error).message}`)
    return err as Error
  }
  assert.unreachable(`expected ${cls.name}, nothing thrown`)
  throw new Error('unreachable')
}

/** JSON-like values dag-cbor can hold: safe integers, finite non-integral floats, strings, bytes, lists, maps. */
const value = fc.letrec(tie => ({
  leaf: fc.oneof(
    fc.boolean(), fc.constant(null), fc.maxSafeInteger(), fc.string(), fc.uint8Array({ maxLength: 40 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter(d => !Number.isInteger(d))
  ),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter(k => k !== '__proto__'), tie('node'), { maxKeys: 4, noNullPrototype: true }))
})).node

test('encoding is deterministic: map keys sort by length, then bytes, whatever the insertion order', () => {
  const a = encode({ bb: 1, a: 2, c: 3 })
  const b = encode({ c: 3, bb: 1, a: 2 })
  assert.is(toHex(a), toHex(b))
  // {a: 2, c: 3, bb: 1}: the RFC 7049 canonical order dag-cbor uses.
  assert.is(toHex(a), 'a3' + '6161' + '02' + '6163' + '03' + '626262' + '01')
})

test('any value round-trips and re-encodes to the same bytes', () => {
  fc.assert(fc.property(value, v => {
    const bytes = encode(v)
    const back = decode(bytes)
    assert.equal(back, v)
    assert.ok(bytesEqual(encode(back), bytes))
  }), { numRuns: 500, seed: 42 })
})

test('a map with keys out of canonical order is rejected', () => {
  // {c: 3, a: 2}: well-formed CBOR, wrong order.
  throwsA(() => decode(hex('a2 6163 03 6161 02')), MalformedError)
  assert.equal(decode(hex('a2 6161 02 6163 03')), { a: 2, c: 3 })
})

test('non-minimal integers and lengths are rejected', () => {
  throwsA(() => decode(hex('1801')), MalformedError) // 1 in two bytes
  throwsA(() => decode(hex('190001')), MalformedError) // 1 in three bytes
  throwsA(() => decode(hex('780161')), MalformedError) // "a" with a one-byte length
  assert.is(decode(hex('01')), 1)
})

test('an integral value written as a float is rejected (it must be an integer)', () => {
  throwsA(() => decode(hex('fb3ff0000000000000')), MalformedError) // 1.0 as float64
  assert.is(decode(hex('fb3ff8000000000000')), 1.5)
  throwsA(() => decode(hex('f93e00')), MalformedError) // 1.5 as float16: dag-cbor writes float64 only
})

test('duplicate keys, undefined, trailing bytes, and indefinite lengths are rejected', () => {
  throwsA(() => decode(hex('a2 6161 01 6161 02')), MalformedError)
  throwsA(() => decode(hex('f7')), MalformedError)
  throwsA(() => decode(hex('01 01')), MalformedError)
  throwsA(() => decode(hex('9f 01 ff')), MalformedError)
  throwsA(() => decode(hex('5f 41 00 ff')), MalformedError)
  throwsA(() => decode(new Uint8Array(0)), MalformedError)
})

test('values dag-cbor cannot represent fail to encode with MalformedError', () => {
  throwsA(() => encode({ a: undefined }), MalformedError)
  throwsA(() => encode(Number.NaN), MalformedError)
  throwsA(() => encode(Infinity), MalformedError)
})

test('input over the size bound is TooLargeError before any parsing', () => {
  // 0xff is a lone "break": malformed if parsed, so only a pre-parse size check gives TooLargeError.
  throwsA(() => decode(new Uint8Array(101).fill(0xff), { maxBytes: 100 }), TooLargeError)
  throwsA(() => encode(new Uint8Array(200), 100), TooLargeError)
})

test('nesting deeper than the bound is TooLargeError, at any depth, without recursion', () => {
  const nested = (depth: number) => {
    const bytes = new Uint8Array(depth + 1).fill(0x81) // [ [ [ ... 0 ] ] ]
    bytes[depth] = 0x00
    return bytes
  }
  assert.ok(Array.isArray(decode(nested(MAX_CBOR_DEPTH))))
  throwsA(() => decode(nested(MAX_CBOR_DEPTH + 1)), TooLargeError)
  // Far deeper than any recursive decoder's stack: still a typed error, quickly.
  throwsA(() => decode(nested(1_000_000)), TooLargeError)
  // Maps and tags count as levels too.
  const maps = new Uint8Array(3 * 20 + 1)
  for (let i = 0; i < 20; i++) maps.set([0xa1, 0x61, 0x61], i * 3)
  throwsA(() => decode(maps), TooLargeError)
})

test('lengths that point past the end are MalformedError without allocating them', () => {
  throwsA(() => scanCbor(hex('5b ffffffffffffffff')), MalformedError) // 2^64-1 bytes claimed
  throwsA(() => scanCbor(hex('9b 00000000ffffffff 00')), MalformedError) // 4 billion items claimed
  throwsA(() => scanCbor(hex('bb 7fffffffffffffff')), MalformedError)
  throwsA(() => scanCbor(hex('43 0102')), MalformedError) // 3 bytes claimed, 2 given
  throwsA(() => scanCbor(hex('1c')), MalformedError) // reserved additional info
  scanCbor(hex('83 01 02 a1 6161 43 010203')) // well-formed passes
})

test('10,000 random inputs to decode only ever throw typed protocol errors', () => {
  let decoded = 0
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), bytes => {
    try { decode(bytes); decoded++ } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
    }
  }), { numRuns: 10_000, seed: 7 })
  // Random bytes are mostly garbage, but some short ones are valid CBOR: the check is not vacuous.
  assert.ok(decoded > 0)
})

test('mutated valid encodings only ever throw typed protocol errors or decode canonically', () => {
  fc.assert(fc.property(value, fc.nat(), fc.integer({ min: 0, max: 255 }), (v, at, byte) => {
    const bytes = encode(v)
    const copy = new Uint8Array(bytes)
    copy[at % copy.length] = byte
    try {
      const back = decode(copy)
      assert.ok(bytesEqual(encode(back), copy))
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
    }
  }), { numRuns: 2000, seed: 11 })
})

test('base64url is unpadded, URL-safe, and round-trips any bytes', () => {
  assert.is(toBase64url(Uint8Array.from([0xfb, 0xff, 0xfe])), '-__-')
  assert.is(toBase64url(Uint8Array.from([1])), 'AQ')
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), b => {
    const text = toBase64url(b)
    assert.ok(/^[A-Za-z0-9_-]*$/.test(text))
    assert.ok(bytesEqual(fromBase64url(text), b))
  }), { numRuns: 300, seed: 3 })
})

test('base64url decoding is strict: no padding, no other alphabet, no stray bits, bounded', () => {
  throwsA(() => fromBase64url('AQ=='), MalformedError)
  throwsA(() => fromBase64url('+/8'), MalformedError)
  throwsA(() => fromBase64url('AQ A'), MalformedError)
  throwsA(() => fromBase64url('A'), MalformedError) // impossible length
  throwsA(() => fromBase64url('AR'), MalformedError) // same byte as 'AQ' but with a stray low bit
  throwsA(() => fromBase64url(42 as unknown as string), MalformedError)
  throwsA(() => fromBase64url('AAAAAAAA', 5), TooLargeError)
  assert.is(fromBase64url('AAAAAAA', 5).length, 5)
})

test.run()
