import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { ChunkHashMismatchError } from './errors.ts'
import { assertMerkleProof, MAX_PROOF_LENGTH, merkleProof, merkleRoot, verifyMerkleProof } from './merkle.ts'

interface TreeVector { count: number, root: string, cid: string, proofs: Array<{ index: number, proof: string[] }> }
const vectors = JSON.parse(readFileSync(new URL('../test/vectors/merkle.json', import.meta.url), 'utf8')) as { trees: TreeVector[] }

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const u32 = (i: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, i); return b }
const h = (b: Uint8Array) => Uint8Array.from(createHash('sha256').update(b).digest())
/** The vectors' leaves: chunkHash(i) = SHA-256(uint32be(i)). */
const vectorHashes = (n: number) => Array.from({ length: n }, (_, i) => h(u32(i)))
const SEED = 0x5eed

test('known-answer vectors: roots and proofs computed here match the independent generator', () => {
  assert.ok(vectors.trees.length >= 10)
  for (const t of vectors.trees) {
    const hashes = vectorHashes(t.count)
    assert.is(toHex(merkleRoot(hashes)), t.root, `root of ${t.count}`)
    for (const p of t.proofs) {
      assert.equal(merkleProof(hashes, p.index).map(toHex), p.proof, `proof ${p.index} of ${t.count}`)
    }
  }
})

test('known-answer vectors: the published proofs verify against the published roots', () => {
  for (const t of vectors.trees) {
    for (const p of t.proofs) {
      const ok = verifyMerkleProof(hex(t.root), p.index, t.count, h(u32(p.index)), p.proof.map(hex))
      assert.ok(ok, `proof ${p.index} of ${t.count}`)
    }
  }
})

test('the empty tree has a defined root: SHA-256 of nothing', () => {
  assert.is(toHex(merkleRoot([])), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
})

test('a single chunk is its own leaf: SHA-256(0x00 || hash), with an empty proof', () => {
  const x = h(u32(7))
  assert.is(toHex(merkleRoot([x])), toHex(h(Uint8Array.from([0, ...x]))))
  assert.equal(merkleProof([x], 0), [])
  assert.ok(verifyMerkleProof(merkleRoot([x]), 0, 1, x, []))
})

test('leaves and nodes are domain-separated: two leaves do not hash like one leaf of their concatenation', () => {
  const a = h(u32(1))
  const b = h(u32(2))
  const root2 = merkleRoot([a, b])
  const plain = h(Uint8Array.from([...a, ...b]))
  assert.not.equal(toHex(root2), toHex(plain))
})

const hashList = (min: number, max: number) =>
  fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: min, maxLength: max })

test('every chunk of a random tree (1..300 chunks) proves its membership', () => {
  fc.assert(fc.property(hashList(1, 300), hashes => {
    const root = merkleRoot(hashes)
    for (let i = 0; i < hashes.length; i++) {
      const proof = merkleProof(hashes, i)
      assert.ok(proof.length <= Math.ceil(Math.log2(hashes.length)))
      assert.ok(verifyMerkleProof(root, i, hashes.length, hashes[i]!, proof), `chunk ${i} of ${hashes.length}`)
    }
  }), { numRuns: 25, seed: SEED })
})

test('every small tree shape (1..33 chunks): each proof verifies only at its own index', () => {
  for (let n = 1; n <= 33; n++) {
    const hashes = vectorHashes(n)
    const root = merkleRoot(hashes)
    for (let i = 0; i < n; i++) {
      const proof = merkleProof(hashes, i)
      assert.ok(verifyMerkleProof(root, i, n, hashes[i]!, proof))
      for (let j = 0; j < n; j++) {
        if (j !== i) assert.not.ok(verifyMerkleProof(root, j, n, hashes[i]!, proof), `leaf ${i} at ${j}, n=${n}`)
      }
    }
  }
})

test('a proof fails for any other leaf, root, index, or a tampered path', () => {
  fc.assert(fc.property(
    hashList(2, 300).chain(hs => fc.tuple(fc.constant(hs), fc.nat(hs.length - 1), fc.nat(hs.length - 1),
      fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(), fc.nat(255))),
    ([hashes, i, j, other, which, bit]) => {
      const n = hashes.length
      const root = merkleRoot(hashes)
      const leaf = hashes[i]!
      const proof = merkleProof(hashes, i)
      if (j !== i && toHex(hashes[j]!) !== toHex(leaf)) {
        assert.not.ok(verifyMerkleProof(root, j, n, leaf, proof), 'other index')
      }
      if (toHex(other) !== toHex(leaf)) assert.not.ok(verifyMerkleProof(root, i, n, other, proof), 'other leaf')
      const badRoot = root.slice(); badRoot[bit % 32]! ^= 1 << (bit % 8)
      assert.not.ok(verifyMerkleProof(badRoot, i, n, leaf, proof), 'other root')
      // Flip one bit of one proof element.
      const k = which % proof.length
      const tampered = proof.map(p => p.slice())
      tampered[k]![bit % 32]! ^= 1 << (bit % 8)
      assert.not.ok(verifyMerkleProof(root, i, n, leaf, tampered), 'tampered path')
      // Drop or add an element.
      assert.not.ok(verifyMerkleProof(root, i, n, leaf, proof.slice(1)), 'short path')
      assert.not.ok(verifyMerkleProof(root, i, n, leaf, [...proof, root]), 'long path')
    }), { numRuns: 300, seed: SEED })
})

test('malformed arguments fail verification instead of throwing', () => {
  const hashes = vectorHashes(5)
  const root = merkleRoot(hashes)
  const proof = merkleProof(hashes, 2)
  const leaf = hashes[2]!
  assert.ok(verifyMerkleProof(root, 2, 5, leaf, proof))
  assert.not.ok(verifyMerkleProof(root.subarray(1), 2, 5, leaf, proof))
  assert.not.ok(verifyMerkleProof(root, 2, 5, leaf.subarray(1), proof))
  assert.not.ok(verifyMerkleProof(root, 5, 5, leaf, proof))
  assert.not.ok(verifyMerkleProof(root, -1, 5, leaf, proof))
  assert.not.ok(verifyMerkleProof(root, 2.5, 5, leaf, proof))
  assert.not.ok(verifyMerkleProof(root, 2, 0, leaf, proof))
  assert.not.ok(verifyMerkleProof(root, 2, 5, leaf, [proof[0]!.subarray(0, 31), ...proof.slice(1)]))
  assert.not.ok(verifyMerkleProof(root, 2, 5, leaf, Array(MAX_PROOF_LENGTH + 1).fill(leaf)))
})

test('assertMerkleProof throws ChunkHashMismatchError on a bad proof and nothing on a good one', () => {
  const hashes = vectorHashes(9)
  const root = merkleRoot(hashes)
  assertMerkleProof(root, 8, 9, hashes[8]!, merkleProof(hashes, 8))
  assert.throws(() => assertMerkleProof(root, 7, 9, hashes[8]!, merkleProof(hashes, 8)),
    (e: Error) => e instanceof ChunkHashMismatchError)
})

test('bad inputs to merkleRoot / merkleProof are programming errors (RangeError)', () => {
  assert.throws(() => merkleRoot([new Uint8Array(31)]), RangeError)
  assert.throws(() => merkleProof(vectorHashes(3), 3), RangeError)
  assert.throws(() => merkleProof([], 0), RangeError)
})

test.run()
