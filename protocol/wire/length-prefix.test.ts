import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { Uint8ArrayList } from 'uint8arraylist'
import { decodeLengthPrefix, varintLength } from './length-prefix.ts'

const MAX = 4 * 1024 * 1024 + 5

function encode (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80) }
  out.push(n)
  return Uint8Array.from(out)
}

const nameOf = (fn: () => unknown): string => { try { fn(); return 'no error' } catch (e) { return (e as Error).name } }

test('varintLength counts 7 bits a byte', () => {
  assert.is(varintLength(0), 1)
  assert.is(varintLength(127), 1)
  assert.is(varintLength(128), 2)
  assert.is(varintLength(MAX), 4)
  assert.is(varintLength(2 ** 28 - 1), 4)
  assert.is(varintLength(2 ** 28), 5)
  assert.throws(() => varintLength(-1), RangeError)
})

test('every length up to the bound decodes from its minimal encoding, in one piece or as a list', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: MAX }), n => {
    const bytes = encode(n)
    return decodeLengthPrefix(bytes, MAX) === n && decodeLengthPrefix(new Uint8ArrayList(...[...bytes].map(b => Uint8Array.of(b))), MAX) === n
  }), { seed: 30 })
})

test('a prefix that can still end legally asks for more bytes (a RangeError, as lpStream expects)', () => {
  assert.is(nameOf(() => decodeLengthPrefix(Uint8Array.of(0xff), MAX)), 'IncompleteLengthPrefixError')
  assert.is(nameOf(() => decodeLengthPrefix(Uint8Array.of(0xff, 0xff, 0xff), MAX)), 'IncompleteLengthPrefixError')
  try { decodeLengthPrefix(Uint8Array.of(0x80), MAX) } catch (e) { assert.instance(e, RangeError) }
})

test('continuation bytes past what the bound needs fail at once, however many follow', () => {
  for (const n of [4, 5, 400 * 1024]) {
    assert.is(nameOf(() => decodeLengthPrefix(new Uint8Array(n).fill(0xff), MAX)), 'OverlongLengthPrefixError', `${n} bytes`)
  }
  // a small bound needs fewer bytes: a have request (two-byte lengths) fails at the second continuation byte
  assert.is(nameOf(() => decodeLengthPrefix(Uint8Array.of(0x80, 0x80), 200)), 'OverlongLengthPrefixError')
})

test('a length above the bound and a non-minimal encoding are refused', () => {
  assert.is(nameOf(() => decodeLengthPrefix(encode(MAX + 1), MAX)), 'FrameTooLargeError')
  assert.is(nameOf(() => decodeLengthPrefix(encode(2 ** 28 - 1), MAX)), 'FrameTooLargeError')
  assert.is(nameOf(() => decodeLengthPrefix(Uint8Array.of(0x81, 0x00), MAX)), 'OverlongLengthPrefixError')
  assert.is(nameOf(() => decodeLengthPrefix(Uint8Array.of(0x80, 0x80, 0x00), MAX)), 'OverlongLengthPrefixError')
  assert.is(decodeLengthPrefix(Uint8Array.of(0x00), MAX), 0)
})

test('bytes after the prefix are not read', () => {
  const buf = new Uint8Array([...encode(300), ...new Uint8Array(100).fill(0xff)])
  assert.is(decodeLengthPrefix(buf, MAX), 300)
})

test.run()
