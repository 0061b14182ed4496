/**
 * A binary SHA-256 Merkle tree over an item's chunk hashes, built as in
 * RFC 6962 / RFC 9162 §2.1 (Certificate Transparency):
 *
 *   MTH({})     = SHA-256()
 *   MTH({d})    = SHA-256(0x00 || d)                       (leaf)
 *   MTH(D[n])   = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))  (node)
 *
 * where k is the largest power of two smaller than n. The 0x00/0x01 prefixes
 * keep a leaf from ever being mistaken for an inner node (second-preimage
 * defence). The leaves `d` are the 32-byte chunk hashes of the manifest, so a
 * peer can prove that one chunk belongs to an item's root with ⌈log2 n⌉
 * hashes, without the whole hash list.
 */
import { createHash } from 'node:crypto'
import { ChunkHashMismatchError } from './errors.ts'
import { HASH_BYTES, MAX_CHUNK_COUNT } from './limits.ts'

const LEAF_PREFIX = new Uint8Array([0x00])
const NODE_PREFIX = new Uint8Array([0x01])

/** A proof never needs more hashes than the depth of the largest tree we accept. */
export const MAX_PROOF_LENGTH = Math.ceil(Math.log2(MAX_CHUNK_COUNT))

function digest (...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  const d = h.digest()
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
}

/** The leaf hash of one chunk hash: SHA-256(0x00 || chunkHash). */
export function merkleLeaf (chunkHash: Uint8Array): Uint8Array {
  return digest(LEAF_PREFIX, chunkHash)
}

/** An inner node: SHA-256(0x01 || left || right). */
export function merkleNode (left: Uint8Array, right: Uint8Array): Uint8Array {
  return digest(NODE_PREFIX, left, right)
}

/** The largest power of two strictly smaller than n (n >= 2). */
function splitPoint (n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

function checkHashes (hashes: readonly Uint8Array[]): void {
  if (!Array.isArray(hashes)) throw new TypeError('hashes must be an array of Uint8Array')
  if (hashes.length > MAX_CHUNK_COUNT) throw new RangeError(`at most ${MAX_CHUNK_COUNT} hashes`)
  for (const h of hashes) {
    if (!(h instanceof Uint8Array)) throw new TypeError('every hash must be a Uint8Array')
    if (h.length !== HASH_BYTES) throw new RangeError(`every hash must be ${HASH_BYTES} bytes`)
  }
}

/** Root of the subtree over leaves[from, to), to - from >= 1. */
function subtreeRoot (leaves: readonly Uint8Array[], from: number, to: number): Uint8Array {
  const n = to - from
  if (n === 1) return leaves[from] as Uint8Array
  const k = splitPoint(n)
  return merkleNode(subtreeRoot(leaves, from, from + k), subtreeRoot(leaves, from + k, to))
}

/**
 * The root over the chunk hashes, in order. The empty list has a defined root
 * (SHA-256 of nothing), so a zero-byte item still has a root and a CID.
 */
export function merkleRoot (hashes: readonly Uint8Array[]): Uint8Array {
  checkHashes(hashes)
  if (hashes.length === 0) return digest()
  return subtreeRoot(hashes.map(merkleLeaf), 0, hashes.length)
}

/**
 * The inclusion proof of chunk `index` (RFC 9162 PATH): sibling subtree
 * roots, from the leaf upwards.
 */
export function merkleProof (hashes: readonly Uint8Array[], index: number): Uint8Array[] {
  checkHashes(hashes)
  if (!Number.isSafeInteger(index) || index < 0 || index >= hashes.length) {
    throw new RangeError(`index ${index} out of range for ${hashes.length} chunks`)
  }
  const leaves = hashes.map(merkleLeaf)
  const path: Uint8Array[] = []
  let from = 0
  let to = leaves.length
  let m = index
  // Walk down from the root, remembering the sibling at each level.
  while (to - from > 1) {
    const k = splitPoint(to - from)
    if (m < k) {
      path.push(subtreeRoot(leaves, from + k, to))
      to = from + k
    } else {
      path.push(subtreeRoot(leaves, from, from + k))
      from = from + k
      m -= k
    }
  }
  return path.reverse()
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number)
  return diff === 0
}

/**
 * Whether `proof` shows that the chunk with SHA-256 `chunkHash` is chunk
 * `index` of a tree of `count` chunks with root `root` (RFC 9162 §2.1.3.2).
 * Any malformed argument (wrong sizes, index out of range, proof too long or
 * short) simply fails: the inputs usually come from the network.
 * `count` must come from the signed manifest, as the tree size comes from a
 * signed tree head in RFC 9162: the root alone does not bind the count (the
 * proof of chunk 0 of 3 also passes for "chunk 0 of 4" under the same root).
 */
export function verifyMerkleProof (
  root: Uint8Array, index: number, count: number, chunkHash: Uint8Array, proof: readonly Uint8Array[]
): boolean {
  if (!(root instanceof Uint8Array) || root.length !== HASH_BYTES) return false
  if (!(chunkHash instanceof Uint8Array) || chunkHash.length !== HASH_BYTES) return false
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_LENGTH) return false
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_CHUNK_COUNT) return false
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) return false
  let fn = index
  let sn = count - 1
  let r = merkleLeaf(chunkHash)
  for (const p of proof) {
    if (!(p instanceof Uint8Array) || p.length !== HASH_BYTES) return false
    if (sn === 0) return false
    if ((fn & 1) === 1 || fn === sn) {
      r = merkleNode(p, r)
      while ((fn & 1) === 0 && fn !== 0) { fn >>>= 1; sn >>>= 1 }
    } else {
      r = merkleNode(r, p)
    }
    fn >>>= 1
    sn >>>= 1
  }
  return sn === 0 && equalBytes(r, root)
}

/** As verifyMerkleProof, but throws ChunkHashMismatchError instead of returning false. */
export function assertMerkleProof (
  root: Uint8Array, index: number, count: number, chunkHash: Uint8Array, proof: readonly Uint8Array[]
): void {
  if (!verifyMerkleProof(root, index, count, chunkHash, proof)) {
    throw new ChunkHashMismatchError(`chunk ${index} of ${count} does not lead to the item's Merkle root`)
  }
}
