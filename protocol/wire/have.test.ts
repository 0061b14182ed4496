import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { Uint8ArrayList } from 'uint8arraylist'
import { MalformedError, TooLargeError } from '../errors.ts'
import { Bitfield, decodeHaveRequest, decodeHaveResponse, encodeHaveRequest, encodeHaveResponse, type HaveResponse } from './have.ts'
import { MAX_HAVE_REQUEST_BYTES, MAX_HAVE_RESPONSE_BYTES, MAX_WIRE_CHUNK_COUNT, MAX_WIRE_ID_LENGTH } from './limits.ts'

interface Vector { kind: string, name: string, value?: any, hex: string, error?: string }
const vectors = JSON.parse(readFileSync(new URL('../../test/vectors/wire.json', import.meta.url), 'utf8')) as
  { valid: Vector[], invalid: Vector[] }
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const SEED = 0xbeef

function bitfieldOf (count: number, set: Iterable<number>): Bitfield {
  const b = new Bitfield(count)
  for (const i of set) b.set(i)
  return b
}

/** A response as plain data, for comparisons. */
const plain = (r: HaveResponse) => ({ itemId: r.itemId, chunkCount: r.chunkCount, length: r.bitfield.length, set: [...r.bitfield.indexes()] })

test('known-answer vectors: encode gives the bytes, decode gives the value', () => {
  let n = 0
  for (const v of vectors.valid) {
    if (v.kind === 'haveRequest') {
      assert.is(toHex(encodeHaveRequest(v.value)), v.hex, v.name)
      assert.equal(decodeHaveRequest(hex(v.hex)), v.value, v.name)
      n++
    } else if (v.kind === 'haveResponse') {
      const res = { itemId: v.value.itemId, chunkCount: v.value.chunkCount, bitfield: bitfieldOf(v.value.chunkCount, v.value.set) }
      assert.is(toHex(encodeHaveResponse(res)), v.hex, v.name)
      assert.equal(plain(decodeHaveResponse(hex(v.hex))), { ...v.value, length: v.value.chunkCount }, v.name)
      n++
    }
  }
  assert.ok(n >= 4)
})

test('known-answer invalid vectors: each is rejected with the named typed error', () => {
  let n = 0
  for (const v of vectors.invalid) {
    const decode = v.kind === 'haveRequest' ? decodeHaveRequest : v.kind === 'haveResponse' ? decodeHaveResponse : undefined
    if (decode === undefined) continue
    let err: Error | undefined
    try { decode(hex(v.hex)) } catch (e) { err = e as Error }
    assert.ok(err !== undefined, `${v.kind}: ${v.name} was accepted`)
    assert.is(err!.name, v.error, `${v.kind}: ${v.name}: ${err!.message}`)
    n++
  }
  assert.ok(n >= 5)
})

test('Bitfield: set, get, clear, count, indexes agree with a Set model', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 2000 }).chain(n =>
    fc.tuple(fc.constant(n), fc.array(fc.tuple(fc.boolean(), fc.nat()), { maxLength: 200 }))), ([n, ops]) => {
    const b = new Bitfield(n)
    const model = new Set<number>()
    for (const [add, x] of ops) {
      if (n === 0) break
      const i = x % n
      if (add) { b.set(i); model.add(i) } else { b.clear(i); model.delete(i) }
    }
    assert.is(b.length, n)
    assert.is(b.count(), model.size)
    assert.equal([...b.indexes()], [...model].sort((x, y) => x - y))
    for (let i = 0; i < n; i++) assert.is(b.get(i), model.has(i))
    assert.is(b.isFull(), model.size === n)
    const back = Bitfield.fromBytes(b.toBytes(), n)
    assert.equal([...back.indexes()], [...b.indexes()])
  }), { numRuns: 200, seed: SEED })
})

test('Bitfield: bit order is most significant first; toBytes is a copy', () => {
  const b = bitfieldOf(10, [0, 9])
  assert.is(toHex(b.toBytes()), '8040')
  const bytes = b.toBytes(); bytes[0] = 0
  assert.ok(b.get(0))
  assert.throws(() => b.get(10), RangeError)
  assert.throws(() => b.set(-1), RangeError)
  assert.throws(() => new Bitfield(MAX_WIRE_CHUNK_COUNT + 1), RangeError)
  assert.throws(() => new Bitfield(1.5), RangeError)
})

test('Bitfield.fromBytes validates the length and the spare bits', () => {
  for (let n = 1; n <= 64; n++) {
    const want = Math.ceil(n / 8)
    const bad = (bytes: Uint8Array, count: number, cls: new (...a: any[]) => Error) => {
      assert.throws(() => Bitfield.fromBytes(bytes, count), (e: Error) => e instanceof cls, `n=${n}`)
    }
    bad(new Uint8Array(want + 1), n, MalformedError)
    bad(new Uint8Array(want - 1), n, MalformedError)
    const spare = want * 8 - n
    for (let s = 0; s < spare; s++) {
      const bytes = new Uint8Array(want)
      bytes[want - 1] = 1 << s
      bad(bytes, n, MalformedError)
    }
    assert.is(Bitfield.fromBytes(new Uint8Array(want).fill(0xff).map((x, i) => i === want - 1 ? (0xff << spare) & 0xff : x), n).count(), n)
  }
  assert.throws(() => Bitfield.fromBytes(new Uint8Array(0), MAX_WIRE_CHUNK_COUNT + 1), (e: Error) => e instanceof TooLargeError)
})

const itemId = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map(c => String.fromCharCode(c)), minLength: 1, maxLength: MAX_WIRE_ID_LENGTH })
const responseUpTo = (maxCount: number) => fc.integer({ min: 0, max: maxCount }).chain(n => fc.tuple(itemId, fc.constant(n), fc.uniqueArray(fc.nat(Math.max(0, n - 1)), { maxLength: n })))
  .map(([id, n, set]) => ({ itemId: id, chunkCount: n, bitfield: bitfieldOf(n, n === 0 ? [] : set) }))
const response = responseUpTo(1500)

test('requests and responses round-trip', () => {
  fc.assert(fc.property(itemId, id => { assert.equal(decodeHaveRequest(encodeHaveRequest({ itemId: id })), { itemId: id }) }),
    { numRuns: 500, seed: SEED })
  fc.assert(fc.property(response, r => {
    const bytes = encodeHaveResponse(r)
    assert.equal(plain(decodeHaveResponse(bytes)), plain(r))
    const at = bytes.length >> 1
    assert.equal(plain(decodeHaveResponse(new Uint8ArrayList(bytes.subarray(0, at), bytes.subarray(at)))), plain(r))
  }), { numRuns: 300, seed: SEED })
})

function onlyTypedErrors (decode: (b: Uint8Array) => unknown, encodeBack: (v: any) => Uint8Array) {
  return (bytes: Uint8Array): void => {
    let value: unknown
    try { value = decode(bytes) } catch (err) {
      assert.ok(err instanceof MalformedError || err instanceof TooLargeError, `threw ${(err as Error).name}: ${(err as Error).message}`)
      return
    }
    assert.is(toHex(encodeBack(value)), toHex(bytes))
  }
}

function mutated (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }), fc.nat(), fc.uint8Array({ maxLength: 8 }), fc.boolean())
    .map(([b, edits, cut, extra, truncate]) => {
      const out = b.slice()
      for (const [pos, val] of edits) if (out.length > 0) out[pos % out.length] = val
      return truncate ? out.subarray(0, cut % (out.length + 1)) : Uint8Array.from([...out, ...extra])
    })
}

test('the decoders on 10,000 random and 10,000 mutated inputs each throw only MalformedError / TooLargeError', () => {
  const req = onlyTypedErrors(decodeHaveRequest, encodeHaveRequest)
  const res = onlyTypedErrors(decodeHaveResponse, encodeHaveResponse)
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), req), { numRuns: 10_000, seed: SEED })
  fc.assert(fc.property(mutated(itemId.map(id => encodeHaveRequest({ itemId: id }))), req), { numRuns: 10_000, seed: SEED })
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), res), { numRuns: 10_000, seed: SEED })
  fc.assert(fc.property(mutated(responseUpTo(40).map(encodeHaveResponse)), res), { numRuns: 10_000, seed: SEED })
})

test('bodies over the bound are TooLargeError; the largest legal response decodes', () => {
  assert.throws(() => decodeHaveRequest(new Uint8Array(MAX_HAVE_REQUEST_BYTES + 1)), (e: Error) => e instanceof TooLargeError)
  assert.throws(() => decodeHaveResponse(new Uint8Array(MAX_HAVE_RESPONSE_BYTES + 1)), (e: Error) => e instanceof TooLargeError)
  const full = new Bitfield(MAX_WIRE_CHUNK_COUNT)
  for (let i = 0; i < MAX_WIRE_CHUNK_COUNT; i += 3) full.set(i)
  const r = { itemId: 'i'.repeat(MAX_WIRE_ID_LENGTH), chunkCount: MAX_WIRE_CHUNK_COUNT, bitfield: full }
  const bytes = encodeHaveResponse(r)
  assert.is(bytes.length, MAX_HAVE_RESPONSE_BYTES)
  assert.is(decodeHaveResponse(bytes).bitfield.count(), full.count())
})

test('the encoder refuses a bitfield that does not match chunkCount', () => {
  assert.throws(() => encodeHaveResponse({ itemId: 'a', chunkCount: 3, bitfield: new Bitfield(4) }), RangeError)
  assert.throws(() => encodeHaveRequest({ itemId: '' }), RangeError)
})

test.run()
