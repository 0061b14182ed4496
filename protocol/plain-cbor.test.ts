import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { encodePlain } from './plain-cbor.ts'
import { encode } from './encoding.ts'
import { MalformedError } from './errors.ts'

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/** dag-cbor's bytes, or the fact that it refused. */
function dag (v: unknown): string {
  try { return toHex(dagCbor.encode(v)) } catch { return 'refused' }
}

/** Ours, or the fact that it handed over: a value it handed over must be one dag-cbor encodes differently or refuses. */
function plain (v: unknown): string | undefined {
  const b = encodePlain(v)
  return b === undefined ? undefined : toHex(b)
}

/** Keys of every kind dag-cbor sorts: lengths 0 to 10, ASCII, Latin-1, BMP, and astral (surrogate pairs). */
const key = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.string({ maxLength: 6, unit: 'binary' }),
  fc.string({ maxLength: 6, unit: 'grapheme' }),
  fc.constantFrom('a', 'b', 'aa', 'ab', 'ba', 'é', 'z', 'peers', 'itemId', 'region', '/', 'asCID', 'bytes')
).filter(k => k !== '__proto__')

const scalar = fc.oneof(
  fc.boolean(), fc.constant(null), fc.constant(undefined), fc.constant(-0),
  fc.maxSafeInteger(), fc.integer(), fc.nat(30), fc.constantFrom(23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 53, -24, -25, -256, -257),
  fc.double(), fc.constantFrom(NaN, Infinity, 0.5),
  fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string({ minLength: 20, maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }),
  fc.uint8Array({ minLength: 1, maxLength: 8 }).map(b => Buffer.from(b)),
  fc.constant(new Map([['a', 1]])), fc.constant(new Date(0))
)

const value = fc.letrec(tie => ({
  node: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('node'), { maxLength: 5 }),
    fc.dictionary(key, tie('node'), { maxKeys: 6, noNullPrototype: true }),
    fc.dictionary(key, tie('node'), { maxKeys: 3 }),
    // the same shapes, frozen (their encodings may be kept)
    fc.array(tie('node'), { maxLength: 3 }).map(a => Object.freeze(a)),
    fc.dictionary(key, tie('node'), { maxKeys: 4, noNullPrototype: true }).map(o => Object.freeze(o)))
})).node

test('any value: the same bytes as @ipld/dag-cbor, or handed over to it', () => {
  fc.assert(fc.property(value, v => {
    const ours = plain(v)
    if (ours !== undefined) assert.is(ours, dag(v))
  }), { numRuns: 5000, seed: 7 })
})

test('encode() gives dag-cbor\'s bytes, or MalformedError where dag-cbor refuses', () => {
  fc.assert(fc.property(value, v => {
    const want = dag(v)
    let got: string
    try { got = toHex(encode(v, Infinity)) } catch (err) {
      assert.instance(err, MalformedError)
      got = 'refused'
    }
    assert.is(got, want)
  }), { numRuns: 3000, seed: 11 })
})

/** Directive-shaped values, as main builds them: the plain path must take every one. */
const peerId = fc.stringMatching(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/)
const id = fc.stringMatching(/^[\x21-\x7e]{1,40}$/)
const peer = fc.record({ peerId, addrs: fc.array(fc.stringMatching(/^\/[\x21-\x7e]{1,80}$/), { maxLength: 4 }), role: fc.constantFrom('parent', 'edge', 'peer') }, { noNullPrototype: true })
const directive = fc.record({
  directiveId: fc.uuid(), licenseId: fc.uuid(), itemId: id, clientPeerId: peerId, region: id,
  peers: fc.array(fc.tuple(peer, fc.boolean()).map(([p, freeze]) => freeze ? Object.freeze({ ...p, addrs: Object.freeze(p.addrs) }) : p), { maxLength: 17 }),
  rulesVersion: fc.maxSafeNat(), issuedAt: fc.maxSafeNat(), expiresAt: fc.maxSafeNat()
}, { noNullPrototype: true })

test('directives, with frozen or unfrozen peers, encode plainly to dag-cbor\'s bytes, and again from the kept encodings', () => {
  fc.assert(fc.property(directive, d => {
    const first = plain(d)
    assert.ok(first !== undefined)
    assert.is(first, dag(d))
    assert.is(plain(d), first)
    // the peers reused in another directive
    const other = { ...d, directiveId: 'x', peers: d.peers.slice().reverse() }
    assert.is(plain(other), dag(other))
  }), { numRuns: 1000, seed: 3 })
})

test('a frozen value is encoded again if anything under it can change', () => {
  const addrs = ['/ip4/1.2.3.4/tcp/1']
  const shallow = Object.freeze({ peerId: 'p', addrs })
  assert.is(plain(shallow), dag(shallow))
  addrs.push('/ip4/5.6.7.8/tcp/2')
  assert.is(plain(shallow), dag(shallow))

  let n = 0
  const withGetter = Object.freeze(Object.defineProperty({}, 'n', { enumerable: true, get: () => ++n }))
  const first = plain(withGetter)
  assert.is(first, toHex(dagCbor.encode({ n: 1 })))
  assert.is(plain(withGetter), toHex(dagCbor.encode({ n: 2 })))

  const bytes = new Uint8Array([1, 2, 3])
  const holder = Object.freeze({ b: bytes })
  assert.is(plain(holder), dag(holder))
  bytes[0] = 9
  assert.is(plain(holder), dag(holder))
})

test('what is not plain is handed over: floats, -0, undefined, Maps, Buffers, astral strings, cycles, deep nesting', () => {
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic.self = cyclic
  let deep: unknown = 1
  for (let i = 0; i < 100; i++) deep = [deep]
  for (const v of [0.5, -0, undefined, NaN, new Map(), Buffer.from('ab'), '😀', { '😀': 1 }, '\ud800', { a: undefined }, [1, , 3], cyclic, deep, () => 1, 10n]) {
    assert.is(encodePlain(v), undefined, String(v))
  }
  assert.is(toHex(encode(deep)), toHex(dagCbor.encode(deep)))
  assert.throws(() => encode(cyclic), (err: Error) => err instanceof MalformedError)
})

test('a getter that encodes while being encoded gets dag-cbor\'s answer, and the outer value still encodes right', () => {
  const inner = { x: 'inner' }
  const outer = Object.defineProperty({ a: 1 }, 'z', { enumerable: true, get: () => encode(inner) })
  assert.is(toHex(encode(outer)), toHex(dagCbor.encode({ a: 1, z: dagCbor.encode(inner) })))
})

test('a large value grows the scratch space and later small values are still right', () => {
  const big = { list: Array.from({ length: 5000 }, (_, i) => `item-${i}-${'x'.repeat(i % 50)}`) }
  assert.is(plain(big), dag(big))
  assert.is(plain({ a: 'b' }), dag({ a: 'b' }))
})

test.run()
