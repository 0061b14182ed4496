import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { FrameWalker } from './frame-guard.ts'

function encode (n: number): number[] {
  const out: number[] = []
  while (n >= 0x80) { out.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80) }
  out.push(n)
  return out
}
function framed (lengths: number[]): Uint8Array {
  const out: number[] = []
  for (const n of lengths) out.push(...encode(n), ...new Array<number>(n).fill(0xff))
  return Uint8Array.from(out)
}
function feedInPieces (w: FrameWalker, bytes: Uint8Array, cuts: number[]): string | undefined {
  let at = 0
  for (const c of [...cuts.filter(x => x > 0 && x < bytes.length).sort((a, b) => a - b), bytes.length]) {
    const err = w.feed(bytes.subarray(at, c))
    at = c
    if (err !== undefined) return err.name
  }
  return undefined
}

test('well-formed frames pass however the bytes are cut (bodies of 0xff included)', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 12 }), fc.array(fc.nat(40_000), { maxLength: 20 }), (lengths, cuts) => {
    return feedInPieces(new FrameWalker(4096), framed(lengths), cuts) === undefined
  }), { seed: 35 })
})

test('a never-ending varint is refused at the byte the bound runs out, in one piece or byte by byte', () => {
  const ff = new Uint8Array(400 * 1024).fill(0xff)
  assert.is(new FrameWalker(8192).feed(ff)?.name, 'OverlongLengthPrefixError')
  const w = new FrameWalker(4 * 1024 * 1024)
  let err
  let fed = 0
  while (err === undefined && fed < ff.length) err = w.feed(ff.subarray(fed, ++fed))
  assert.is(err?.name, 'OverlongLengthPrefixError')
  assert.is(fed, 4)
})

test('a prefix naming a message over the bound is refused; after a good frame too', () => {
  assert.is(new FrameWalker(100).feed(Uint8Array.from(encode(101)))?.name, 'FrameTooLargeError')
  const bytes = Uint8Array.from([...framed([100, 0, 5]), ...encode(5000)])
  assert.is(new FrameWalker(4096).feed(bytes)?.name, 'FrameTooLargeError')
})

test.run()
