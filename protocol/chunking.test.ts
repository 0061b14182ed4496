import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { chunkCountFor, chunkLength, chunkOffset, DEFAULT_CHUNK_SIZE, ManifestBuilder, sha256, verifyChunk } from './chunking.ts'
import { itemCidString } from './cid.ts'
import { ChunkHashMismatchError } from './errors.ts'
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from './limits.ts'
import type { Manifest } from './types.ts'

interface ManifestVector { size: number, chunkSize: number, chunkCount: number, chunkHashes: string[], merkleRoot: string, cid: string }
const vectors = JSON.parse(readFileSync(new URL('../test/vectors/merkle.json', import.meta.url), 'utf8')) as { manifests: ManifestVector[] }

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')
/** The vectors' item bytes: byte i = (i*131 + floor(i/256)) mod 256. */
const stream = (size: number) => Uint8Array.from({ length: size }, (_, i) => (i * 131 + (i >> 8)) & 0xff)
const FIELDS = { itemId: 'item-1', title: 'A film', version: 1 }
const SEED = 0xc4a9
const CS = MIN_CHUNK_SIZE

function build (data: Uint8Array, chunkSize: number, cuts: number[] = []): { manifest: Manifest, chunks: Uint8Array[] } {
  const b = new ManifestBuilder(chunkSize)
  const chunks: Uint8Array[] = []
  b.onChunk = (index, bytes) => { assert.is(index, chunks.length); chunks.push(bytes) }
  let at = 0
  for (const c of [...cuts].sort((x, y) => x - y)) { b.push(data.subarray(at, c)); at = c }
  b.push(data.subarray(at))
  return { manifest: b.finish(FIELDS), chunks }
}

test('sha256 gives the standard digest as a plain Uint8Array', () => {
  const d = sha256(new TextEncoder().encode('abc'))
  assert.is(d.constructor, Uint8Array)
  assert.is(toHex(d), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
})

test('known-answer manifests: chunk hashes, root and CID match the independent generator', () => {
  for (const v of vectors.manifests) {
    const { manifest } = build(stream(v.size), v.chunkSize, [Math.floor(v.size / 3), v.size - 1].filter(c => c >= 0))
    assert.is(manifest.size, v.size)
    assert.is(manifest.chunkSize, v.chunkSize)
    assert.is(manifest.chunkCount, v.chunkCount)
    assert.equal(manifest.chunkHashes.map(toHex), v.chunkHashes)
    assert.is(toHex(manifest.merkleRoot), v.merkleRoot)
    assert.is(itemCidString(manifest.merkleRoot), v.cid)
  }
})

test('a zero-byte item has no chunks and the empty-tree root', () => {
  const b = new ManifestBuilder()
  b.push(new Uint8Array(0))
  const m = b.finish(FIELDS)
  assert.is(m.size, 0)
  assert.is(m.chunkCount, 0)
  assert.equal(m.chunkHashes, [])
  assert.is(toHex(m.merkleRoot), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  assert.is(m.chunkSize, DEFAULT_CHUNK_SIZE)
  assert.is(m.itemId, 'item-1'); assert.is(m.title, 'A film'); assert.is(m.version, 1)
})

test('the manifest is the same whatever the push boundaries, and chunks concatenate back to the input', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 5 * CS + 100 }).chain(size =>
      fc.tuple(fc.constant(size), fc.array(fc.integer({ min: 0, max: size }), { maxLength: 12 }), fc.integer({ min: 0, max: 255 }))),
    ([size, cuts, salt]) => {
      const data = stream(size).map(x => x ^ salt)
      const whole = build(data, CS)
      const pieces = build(data, CS, cuts)
      assert.equal(pieces.manifest, whole.manifest)
      assert.is(whole.manifest.chunkCount, chunkCountFor(size, CS))
      assert.is(Buffer.concat(pieces.chunks).equals(data), true)
      for (let i = 0; i < pieces.chunks.length; i++) {
        assert.is(pieces.chunks[i]!.length, chunkLength(whole.manifest, i))
        assert.is(toHex(sha256(pieces.chunks[i]!)), toHex(whole.manifest.chunkHashes[i]!))
      }
    }), { numRuns: 60, seed: SEED })
})

test('without onChunk the builder gives the same manifest (it only skips keeping bytes)', () => {
  const data = stream(3 * CS + 17)
  const b = new ManifestBuilder(CS)
  for (let o = 0; o < data.length; o += 1000) b.push(data.subarray(o, o + 1000))
  assert.equal(b.finish(FIELDS), build(data, CS).manifest)
})

test('the caller may reuse its buffer after push: chunks handed out are copies', () => {
  const data = stream(2 * CS + 5)
  const b = new ManifestBuilder(CS)
  const chunks: Uint8Array[] = []
  b.onChunk = (_i, bytes) => chunks.push(bytes)
  const scratch = new Uint8Array(4096)
  for (let o = 0; o < data.length; o += scratch.length) {
    const n = Math.min(scratch.length, data.length - o)
    scratch.set(data.subarray(o, o + n))
    b.push(scratch.subarray(0, n))
    scratch.fill(0xee)
  }
  const m = b.finish(FIELDS)
  assert.is(Buffer.concat(chunks).equals(data), true)
  for (let i = 0; i < chunks.length; i++) verifyChunk(m, i, chunks[i]!)
})

test('chunkLength and chunkOffset: every chunk is chunkSize but the last', () => {
  const { manifest } = build(stream(2 * CS + 5), CS)
  assert.is(chunkLength(manifest, 0), CS)
  assert.is(chunkLength(manifest, 1), CS)
  assert.is(chunkLength(manifest, 2), 5)
  assert.is(chunkOffset(manifest, 2), 2 * CS)
  const exact = build(stream(2 * CS), CS).manifest
  assert.is(chunkLength(exact, 1), CS)
  assert.throws(() => chunkLength(manifest, 3), RangeError)
  assert.throws(() => chunkLength(manifest, -1), RangeError)
  assert.throws(() => chunkLength(manifest, 0.5), RangeError)
})

function throwsA (fn: () => unknown, cls: new (...a: any[]) => Error): void {
  try { fn() } catch (err) {
    assert.instance(err, cls, `expected ${cls.name}, got ${(err as Error).name}: ${(err as Error).message}`)
    return
  }
  assert.unreachable(`expected ${cls.name}, nothing thrown`)
}

test('verifyChunk rejects any flipped bit of a chunk', () => {
  const { manifest, chunks } = build(stream(2 * CS + 300), CS)
  chunks.forEach((c, i) => verifyChunk(manifest, i, c))
  fc.assert(fc.property(fc.nat(chunks.length - 1), fc.nat(), fc.nat(7), (i, pos, bit) => {
    const c = chunks[i]!.slice()
    c[pos % c.length]! ^= 1 << bit
    throwsA(() => verifyChunk(manifest, i, c), ChunkHashMismatchError)
  }), { numRuns: 500, seed: SEED })
})

test('verifyChunk rejects a right chunk at the wrong index, a wrong length, and a missing index', () => {
  const { manifest, chunks } = build(stream(3 * CS + 300), CS)
  throwsA(() => verifyChunk(manifest, 1, chunks[0]!), ChunkHashMismatchError)
  throwsA(() => verifyChunk(manifest, 3, chunks[3]!.subarray(1)), ChunkHashMismatchError)
  throwsA(() => verifyChunk(manifest, 3, new Uint8Array(CS)), ChunkHashMismatchError)
  throwsA(() => verifyChunk(manifest, 0, Uint8Array.from([...chunks[0]!, 0])), ChunkHashMismatchError)
  throwsA(() => verifyChunk(manifest, 4, chunks[3]!), RangeError)
})

test('chunk size is bounded; the builder is single-use', () => {
  assert.throws(() => new ManifestBuilder(MIN_CHUNK_SIZE - 1), RangeError)
  assert.throws(() => new ManifestBuilder(MAX_CHUNK_SIZE + 1), RangeError)
  assert.throws(() => new ManifestBuilder(CS + 0.5), RangeError)
  const b = new ManifestBuilder(CS)
  b.finish(FIELDS)
  assert.throws(() => b.push(new Uint8Array(1)))
  assert.throws(() => b.finish(FIELDS))
})

test('onChunk must be set before bytes arrive, or the first chunk would be incomplete', () => {
  const b = new ManifestBuilder(CS)
  b.push(new Uint8Array(10))
  b.onChunk = () => {}
  assert.throws(() => b.push(new Uint8Array(10)), /before pushing/)
})

test.run()
