import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { createCipheriv } from 'node:crypto'
import { chunkCounterBlock, cryptAt, cryptChunk, openChunk, webCryptoAesCtr, CONTENT_KEY_BYTES, type ChunkPlace } from './content-crypto.ts'
import { nodeAesCtr } from './aes-ctr-node.ts'
import { ManifestBuilder, sha256, verifyChunk } from './chunking.ts'
import { ChunkHashMismatchError } from './errors.ts'
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from './limits.ts'
import type { Manifest } from './types.ts'

interface Vector {
  itemId: string, version: number, chunkSize: number, key: string, counterBlocks: string[]
  plaintext: string, ciphertext: string, ciphertextChunkHashes: string[]
}
const vectors = JSON.parse(readFileSync(new URL('../test/vectors/content-crypto.json', import.meta.url), 'utf8')) as { cases: Vector[] }
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const web = webCryptoAesCtr()
const impls = [['webcrypto', web], ['node:crypto', nodeAesCtr]] as const
const SEED = 0x14a

test('known-answer vectors: counter blocks, encryption and decryption match the independent generator (both implementations)', async () => {
  assert.ok(vectors.cases.length >= 10)
  for (const v of vectors.cases) {
    v.counterBlocks.forEach((c, i) => { assert.is(toHex(chunkCounterBlock(v.itemId, v.version, i)), c, `counter ${i} of ${v.itemId}`) })
    const place: ChunkPlace = { itemId: v.itemId, version: v.version, chunkSize: v.chunkSize }
    for (const [name, aes] of impls) {
      assert.is(toHex(await cryptAt(aes, hex(v.key), place, 0, hex(v.plaintext))), v.ciphertext, `${name} encrypt ${v.plaintext.length / 2} bytes`)
      assert.is(toHex(await cryptAt(aes, hex(v.key), place, 0, hex(v.ciphertext))), v.plaintext, `${name} decrypt ${v.plaintext.length / 2} bytes`)
    }
    const ct = hex(v.ciphertext)
    v.ciphertextChunkHashes.forEach((h, i) => { assert.is(toHex(sha256(ct.subarray(i * v.chunkSize, (i + 1) * v.chunkSize))), h) })
  }
})

test('the counter block: bytes 12..15 are zero, and item, version and chunk each change it', () => {
  const base = chunkCounterBlock('item', 1, 0)
  assert.equal([...base.subarray(12)], [0, 0, 0, 0])
  for (const other of [chunkCounterBlock('item2', 1, 0), chunkCounterBlock('item', 2, 0), chunkCounterBlock('item', 1, 1)]) assert.is.not(toHex(other), toHex(base))
  assert.throws(() => chunkCounterBlock('', 1, 0), TypeError)
  assert.throws(() => chunkCounterBlock('x', -1, 0), RangeError)
  assert.throws(() => chunkCounterBlock('x', 1, 2 ** 32), RangeError)
})

test('a chunk of the largest size never carries its block counter into the prefix (same as OpenSSL 128-bit CTR)', async () => {
  const key = new Uint8Array(CONTENT_KEY_BYTES).fill(9)
  const place = { itemId: 'big', version: 1, chunkSize: MAX_CHUNK_SIZE }
  const data = new Uint8Array(MAX_CHUNK_SIZE).fill(0x5a)
  const ours = await cryptChunk(web, key, place, 7, data)
  const ossl = createCipheriv('aes-256-ctr', key, chunkCounterBlock('big', 1, 7)).update(data)
  assert.is(Buffer.compare(Buffer.from(ours), ossl), 0)
})

const sizesAround = (cs: number) => fc.oneof(
  fc.constantFrom(0, 1, 15, 16, 17, cs - 1, cs, cs + 1, 2 * cs, 2 * cs + 15, 3 * cs - 1),
  fc.integer({ min: 0, max: 3 * cs + 17 })
)

test('property: decrypt(encrypt(x)) = x at every chunk-size edge (empty, 1, 15/16/17 bytes, chunkSize, a last partial chunk), both implementations agree', async () => {
  const cs = MIN_CHUNK_SIZE
  await fc.assert(fc.asyncProperty(sizesAround(cs), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), async (n, key, version) => {
    const place = { itemId: 'prop-item', version, chunkSize: cs }
    const x = Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff)
    const y = await cryptAt(web, key, place, 0, x)
    assert.is(y.length, n)
    assert.is(toHex(await cryptAt(nodeAesCtr, key, place, 0, x)), toHex(y))
    assert.is(toHex(await cryptAt(web, key, place, 0, y)), toHex(x))
  }), { seed: SEED, numRuns: 60 })
})

test('property: any byte range decrypts on its own (a seek), matching the whole-item decryption', async () => {
  const cs = MIN_CHUNK_SIZE
  const key = new Uint8Array(32).fill(3)
  const place = { itemId: 'seek', version: 2, chunkSize: cs }
  const x = Uint8Array.from({ length: 3 * cs + 100 }, (_, i) => (i * 13) & 0xff)
  const y = await cryptAt(nodeAesCtr, key, place, 0, x)
  await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: x.length - 1 }), fc.integer({ min: 1, max: 2 * cs }), async (start, len) => {
    const end = Math.min(x.length, start + len)
    const part = await cryptAt(web, key, place, start, y.subarray(start, end))
    assert.is(toHex(part), toHex(x.subarray(start, end)))
  }), { seed: SEED, numRuns: 80 })
})

async function encryptedManifest (x: Uint8Array, key: Uint8Array, cs: number): Promise<{ manifest: Manifest, ct: Uint8Array }> {
  const place = { itemId: 'flip', version: 1, chunkSize: cs }
  const ct = await cryptAt(nodeAesCtr, key, place, 0, x)
  const b = new ManifestBuilder(cs)
  b.push(ct)
  const manifest = { ...b.finish({ itemId: 'flip', title: 't', version: 1 }), encryption: { alg: 'aes-256-ctr' as const, keyId: 'k1' } }
  return { manifest, ct }
}

test('property: any flipped ciphertext bit fails hash verification, and the cipher is never reached', async () => {
  const cs = MIN_CHUNK_SIZE
  const key = new Uint8Array(32).fill(5)
  const x = Uint8Array.from({ length: 2 * cs + 33 }, (_, i) => (i * 29) & 0xff)
  const { manifest, ct } = await encryptedManifest(x, key, cs)
  let ciphered = 0
  const counting: typeof web = async (k, c, d) => { ciphered++; return await nodeAesCtr(k, c, d) }
  // the untouched chunks open to the plaintext
  for (let i = 0; i < manifest.chunkCount; i++) {
    const pt = await openChunk(counting, key, manifest, i, ct.slice(i * cs, (i + 1) * cs), verifyChunk)
    assert.is(toHex(pt), toHex(x.subarray(i * cs, (i + 1) * cs)))
  }
  ciphered = 0
  await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: ct.length * 8 - 1 }), async (bit) => {
    const i = Math.floor(bit / 8 / cs)
    const chunk = ct.slice(i * cs, (i + 1) * cs)
    chunk[Math.floor(bit / 8) - i * cs]! ^= 1 << (bit % 8)
    try {
      await openChunk(counting, key, manifest, i, chunk, verifyChunk)
      assert.unreachable('a flipped bit opened')
    } catch (err) {
      assert.instance(err, ChunkHashMismatchError)
    }
  }), { seed: SEED, numRuns: 200 })
  assert.is(ciphered, 0, 'no tampered chunk reached the cipher')
})

test('a plaintext (legacy) manifest opens without a key; an encrypted one without its key is refused', async () => {
  const b = new ManifestBuilder(MIN_CHUNK_SIZE)
  const x = new Uint8Array(100).fill(1)
  b.push(x)
  const plain = b.finish({ itemId: 'p', title: 't', version: 1 })
  assert.is(toHex(await openChunk(web, undefined, plain, 0, x, verifyChunk)), toHex(x))
  const { manifest, ct } = await encryptedManifest(x, new Uint8Array(32), MIN_CHUNK_SIZE)
  try { await openChunk(web, undefined, manifest, 0, ct, verifyChunk); assert.unreachable() } catch (err) { assert.instance(err, TypeError) }
})

test('inputs are checked at the boundary: key length, chunk size, position', async () => {
  const place = { itemId: 'a', version: 1, chunkSize: MIN_CHUNK_SIZE }
  const bad = async (fn: () => Promise<unknown>, cls: ErrorConstructor) => { try { await fn(); assert.unreachable() } catch (err) { assert.instance(err, cls) } }
  await bad(async () => await cryptAt(web, new Uint8Array(16), place, 0, new Uint8Array(1)), RangeError)
  await bad(async () => await cryptAt(web, new Uint8Array(32), { ...place, chunkSize: 1000 }, 0, new Uint8Array(1)), RangeError)
  await bad(async () => await cryptAt(web, new Uint8Array(32), place, -1, new Uint8Array(1)), RangeError)
  await bad(async () => await cryptChunk(web, new Uint8Array(32), place, 0, new Uint8Array(MIN_CHUNK_SIZE + 1)), RangeError)
})

test.run()
