import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { Uint8ArrayList } from 'uint8arraylist'
import { MalformedError, TooLargeError } from '../errors.ts'
import {
  decodeChunkFrame, decodeChunkRequest, encodeChunkDataFrame, encodeChunkDataHeader, encodeChunkFrame, encodeChunkRequest,
  type ChunkErrorCode, type ChunkFrame, type ChunkRequest
} from './chunk.ts'
import {
  MAX_CHUNK_FRAME_BYTES, MAX_CHUNK_REQUEST_BYTES, MAX_CREDENTIAL_BYTES, MAX_ERROR_MESSAGE_BYTES,
  MAX_INDEXES_PER_REQUEST, MAX_WIRE_CHUNK_BYTES, MAX_WIRE_CHUNK_COUNT, MAX_WIRE_ID_LENGTH
} from './limits.ts'

interface Vector { kind: string, name: string, value?: any, hex: string, error?: string }
const vectors = JSON.parse(readFileSync(new URL('../../test/vectors/wire.json', import.meta.url), 'utf8')) as
  { valid: Vector[], invalid: Vector[] }
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const SEED = 0xc0de

function requestOf (v: any): ChunkRequest {
  const r: ChunkRequest = { itemId: v.itemId, indexes: v.indexes }
  if (v.credential !== undefined) r.credential = hex(v.credential)
  return r
}
function frameOf (v: any): ChunkFrame {
  return v.type === 'data' ? { type: 'data', index: v.index, bytes: hex(v.bytes) } : v
}

test('known-answer vectors: encode gives the bytes, decode gives the value', () => {
  let n = 0
  for (const v of vectors.valid) {
    if (v.kind === 'chunkRequest') {
      assert.is(toHex(encodeChunkRequest(requestOf(v.value))), v.hex, v.name)
      assert.equal(decodeChunkRequest(hex(v.hex)), requestOf(v.value), v.name)
      n++
    } else if (v.kind === 'chunkFrame') {
      assert.is(toHex(encodeChunkFrame(frameOf(v.value))), v.hex, v.name)
      assert.equal(decodeChunkFrame(hex(v.hex)), frameOf(v.value), v.name)
      n++
    }
  }
  assert.ok(n >= 7)
})

function decoderError (fn: () => unknown): Error | undefined {
  try { fn() } catch (err) { return err as Error }
  return undefined
}

test('known-answer invalid vectors: each is rejected with the named typed error', () => {
  let n = 0
  for (const v of vectors.invalid) {
    const decode = v.kind === 'chunkRequest' ? decodeChunkRequest : v.kind === 'chunkFrame' ? decodeChunkFrame : undefined
    if (decode === undefined) continue
    const err = decoderError(() => decode(hex(v.hex)))
    assert.ok(err !== undefined, `${v.kind}: ${v.name} was accepted`)
    assert.is(err!.name, v.error, `${v.kind}: ${v.name}: ${err!.message}`)
    n++
  }
  assert.ok(n >= 15)
})

const itemId = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map(c => String.fromCharCode(c)), minLength: 1, maxLength: MAX_WIRE_ID_LENGTH })
const chunkIndex = fc.integer({ min: 0, max: MAX_WIRE_CHUNK_COUNT - 1 })
const request: fc.Arbitrary<ChunkRequest> = fc.record({
  itemId,
  indexes: fc.uniqueArray(chunkIndex, { minLength: 1, maxLength: MAX_INDEXES_PER_REQUEST }),
  credential: fc.option(fc.uint8Array({ minLength: 1, maxLength: 200 }), { nil: undefined })
}, { requiredKeys: ['itemId', 'indexes'], noNullPrototype: true }).map(r => {
  if (r.credential === undefined) delete r.credential
  return r
})
const errorCode = fc.constantFrom<ChunkErrorCode>('not_found', 'unauthorized', 'busy', 'bad_request', 'internal')
const frame: fc.Arbitrary<ChunkFrame> = fc.oneof(
  fc.record({ type: fc.constant('data' as const), index: chunkIndex, bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }) }, { noNullPrototype: true }),
  fc.record({ type: fc.constant('error' as const), code: errorCode, message: fc.string({ maxLength: 60, unit: 'grapheme' }), index: fc.option(chunkIndex, { nil: undefined }) }, { noNullPrototype: true })
    .map(f => { if (f.index === undefined) delete f.index; return f }),
  fc.constant({ type: 'end' as const })
)

test('requests and frames round-trip', () => {
  fc.assert(fc.property(request, r => { assert.equal(decodeChunkRequest(encodeChunkRequest(r)), r) }), { numRuns: 500, seed: SEED })
  fc.assert(fc.property(frame, f => { assert.equal(decodeChunkFrame(encodeChunkFrame(f)), f) }), { numRuns: 1000, seed: SEED })
})

test('a data frame sent as header + chunk (no copy) decodes from a Uint8ArrayList in pieces', () => {
  fc.assert(fc.property(chunkIndex, fc.uint8Array({ minLength: 1, maxLength: 5000 }), fc.nat(5000), (index, bytes, cut) => {
    const list = encodeChunkDataFrame(index, bytes)
    assert.is(list.byteLength, 5 + bytes.length)
    // Re-split the frame where the transport might have cut it.
    const flat = list.subarray()
    const at = cut % flat.length
    const pieces = new Uint8ArrayList(flat.subarray(0, at), flat.subarray(at))
    assert.equal(decodeChunkFrame(pieces), { type: 'data', index, bytes })
    assert.equal(decodeChunkFrame(list), { type: 'data', index, bytes })
  }), { numRuns: 300, seed: SEED })
  assert.is(toHex(encodeChunkDataHeader(0x01020304 % MAX_WIRE_CHUNK_COUNT)), '01' + (0x01020304 % MAX_WIRE_CHUNK_COUNT).toString(16).padStart(8, '0'))
})

function onlyTypedErrors (decode: (b: Uint8Array) => unknown, encodeBack?: (v: any) => Uint8Array) {
  return (bytes: Uint8Array): void => {
    let value: unknown
    try { value = decode(bytes) } catch (err) {
      assert.ok(err instanceof MalformedError || err instanceof TooLargeError, `threw ${(err as Error).name}: ${(err as Error).message}`)
      return
    }
    // Whatever decodes is canonical: it encodes back to exactly the input.
    if (encodeBack !== undefined) assert.is(toHex(encodeBack(value)), toHex(bytes))
  }
}

/** Valid encodings with a few bytes overwritten, cut short or extended: inputs that get past the first checks. */
function mutated (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }), fc.nat(), fc.uint8Array({ maxLength: 8 }), fc.boolean())
    .map(([b, edits, cut, extra, truncate]) => {
      const out = b.slice()
      for (const [pos, val] of edits) if (out.length > 0) out[pos % out.length] = val
      return truncate ? out.subarray(0, cut % (out.length + 1)) : Uint8Array.from([...out, ...extra])
    })
}

test('the request decoder on 10,000 random and 10,000 mutated inputs throws only MalformedError / TooLargeError', () => {
  const check = onlyTypedErrors(decodeChunkRequest, encodeChunkRequest)
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { numRuns: 10_000, seed: SEED })
  fc.assert(fc.property(mutated(request.map(encodeChunkRequest)), check), { numRuns: 10_000, seed: SEED })
})

test('the frame decoder on 10,000 random and 10,000 mutated inputs throws only MalformedError / TooLargeError', () => {
  const check = onlyTypedErrors(decodeChunkFrame, encodeChunkFrame)
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { numRuns: 10_000, seed: SEED })
  fc.assert(fc.property(mutated(frame.map(encodeChunkFrame)), check), { numRuns: 10_000, seed: SEED })
})

function throwsA (fn: () => unknown, cls: new (...a: any[]) => Error): void {
  const err = decoderError(fn)
  assert.ok(err !== undefined, `expected ${cls.name}, nothing thrown`)
  assert.instance(err, cls, `expected ${cls.name}, got ${err!.name}: ${err!.message}`)
}

test('bodies over the bound are TooLargeError before any field is read', () => {
  throwsA(() => decodeChunkRequest(new Uint8Array(MAX_CHUNK_REQUEST_BYTES + 1)), TooLargeError)
  throwsA(() => decodeChunkFrame(new Uint8Array(MAX_CHUNK_FRAME_BYTES + 1).fill(1)), TooLargeError)
  throwsA(() => decodeChunkFrame(new Uint8ArrayList(new Uint8Array(MAX_CHUNK_FRAME_BYTES), new Uint8Array(1))), TooLargeError)
  // The largest legal ones decode.
  const big = new Uint8Array(MAX_WIRE_CHUNK_BYTES).fill(7)
  const f = decodeChunkFrame(encodeChunkDataFrame(MAX_WIRE_CHUNK_COUNT - 1, big))
  assert.is(f.type === 'data' && f.bytes.length, MAX_WIRE_CHUNK_BYTES)
  const maxReq: ChunkRequest = {
    itemId: 'x'.repeat(MAX_WIRE_ID_LENGTH),
    indexes: Array.from({ length: MAX_INDEXES_PER_REQUEST }, (_, i) => i),
    credential: new Uint8Array(MAX_CREDENTIAL_BYTES).fill(3)
  }
  const enc = encodeChunkRequest(maxReq)
  assert.is(enc.length, MAX_CHUNK_REQUEST_BYTES)
  assert.equal(decodeChunkRequest(enc), maxReq)
})

test('an error frame whose message is over the bound is TooLargeError; the encoder truncates on a character boundary', () => {
  const head = hex('0201ffffffff')
  throwsA(() => decodeChunkFrame(Uint8Array.from([...head, ...new Uint8Array(MAX_ERROR_MESSAGE_BYTES + 1).fill(0x61)])), TooLargeError)
  const long = 'é'.repeat(MAX_ERROR_MESSAGE_BYTES) // 2 bytes each
  const f = decodeChunkFrame(encodeChunkFrame({ type: 'error', code: 'busy', message: long }))
  assert.ok(f.type === 'error' && f.message.length === MAX_ERROR_MESSAGE_BYTES / 2 && long.startsWith(f.message))
})

test('the encoder refuses what the decoder would reject (RangeError)', () => {
  const ok: ChunkRequest = { itemId: 'a', indexes: [0] }
  assert.throws(() => encodeChunkRequest({ ...ok, itemId: '' }), RangeError)
  assert.throws(() => encodeChunkRequest({ ...ok, itemId: 'a b' }), RangeError)
  assert.throws(() => encodeChunkRequest({ ...ok, itemId: 'x'.repeat(MAX_WIRE_ID_LENGTH + 1) }), RangeError)
  assert.throws(() => encodeChunkRequest({ ...ok, indexes: [] }), RangeError)
  assert.throws(() => encodeChunkRequest({ ...ok, indexes: [1, 1] }), RangeError)
  assert.throws(() => encodeChunkRequest({ ...ok, indexes: [MAX_WIRE_CHUNK_COUNT] }), RangeError)
  assert.throws(() => encodeChunkRequest({ ...ok, indexes: Array.from({ length: MAX_INDEXES_PER_REQUEST + 1 }, (_, i) => i) }), RangeError)
  assert.throws(() => encodeChunkRequest({ ...ok, credential: new Uint8Array(0) }), RangeError)
  assert.throws(() => encodeChunkRequest({ ...ok, credential: new Uint8Array(MAX_CREDENTIAL_BYTES + 1) }), RangeError)
  assert.throws(() => encodeChunkDataFrame(0, new Uint8Array(0)), RangeError)
  assert.throws(() => encodeChunkDataFrame(0, new Uint8Array(MAX_WIRE_CHUNK_BYTES + 1)), RangeError)
  assert.throws(() => encodeChunkDataFrame(-1, new Uint8Array(1)), RangeError)
  assert.throws(() => encodeChunkFrame({ type: 'error', code: 'nope' as ChunkErrorCode, message: '' }), RangeError)
})

test.run()
