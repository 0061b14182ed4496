/**
 * Splitting an item into fixed-size chunks, hashing them, and checking a
 * received chunk against its manifest. `ManifestBuilder` is a streaming fold:
 * it holds one running SHA-256 and, only when asked to hand chunks out, one
 * partial chunk — memory stays bounded whatever the item's size.
 */
import { Buffer } from 'node:buffer'
import { createHash, type Hash } from 'node:crypto'
import { ChunkHashMismatchError, TooLargeError } from './errors.ts'
import { HASH_BYTES, MAX_CHUNK_COUNT, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from './limits.ts'
import { merkleRoot } from './merkle.ts'
import type { Manifest } from './types.ts'

/** 1 MiB: a 4 GiB item is 4096 chunks, small enough to list in a manifest, large enough that per-chunk overhead vanishes. */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024

/** SHA-256 of `bytes`, as a plain Uint8Array (not a Buffer, so it compares equal to decoded bytes). */
export function sha256 (bytes: Uint8Array): Uint8Array {
  const d = createHash('sha256').update(bytes).digest()
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
}

/** Number of chunks of an item of `size` bytes: ⌈size / chunkSize⌉ (0 for an empty item). */
export function chunkCountFor (size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize)
}

/** A chunk-sized buffer, not zero-filled (saves a pass over every chunk): full chunks are written through before they are handed out. */
function newChunkBuffer (size: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(size)
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

/** Called for each completed chunk. `bytes` is freshly allocated and belongs to the callee. */
export type OnChunk = (index: number, bytes: Uint8Array, hash: Uint8Array) => void

export interface ManifestFields {
  itemId: string
  title: string
  version: number
}

export class ManifestBuilder {
  readonly chunkSize: number
  /**
   * Set this to receive each chunk's bytes as it completes (main writes the
   * origin chunk files while ingesting). Without it the builder keeps no
   * chunk bytes at all, only the running hash.
   */
  onChunk?: OnChunk

  #hashes: Uint8Array[] = []
  #running: Hash | undefined
  /** Bytes folded into the current chunk so far. */
  #filled = 0
  /** The current chunk's bytes, kept only while onChunk is set. */
  #buffer: Uint8Array | undefined
  #size = 0
  #finished = false

  constructor (chunkSize: number = DEFAULT_CHUNK_SIZE) {
    if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
      throw new RangeError(`chunkSize must be an integer in [${MIN_CHUNK_SIZE}, ${MAX_CHUNK_SIZE}], got ${chunkSize}`)
    }
    this.chunkSize = chunkSize
  }

  /** Bytes pushed so far. */
  get size (): number { return this.#size }

  /** Chunks completed so far (the partial chunk not counted). */
  get chunksDone (): number { return this.#hashes.length }

  /**
   * Fold `bytes` into the item. The caller may reuse `bytes` once push
   * returns: slices are hashed in place and, if onChunk is set, copied once
   * into the current chunk.
   */
  push (bytes: Uint8Array): void {
    if (this.#finished) throw new Error('ManifestBuilder: push after finish')
    if (!(bytes instanceof Uint8Array)) throw new TypeError('push expects a Uint8Array')
    const chunkSize = this.chunkSize
    let offset = 0
    while (offset < bytes.length) {
      if (this.#filled === 0 && this.#hashes.length >= MAX_CHUNK_COUNT) {
        throw new TooLargeError(`an item has at most ${MAX_CHUNK_COUNT} chunks of ${chunkSize} bytes`)
      }
      const take = Math.min(chunkSize - this.#filled, bytes.length - offset)
      const slice = bytes.subarray(offset, offset + take)
      this.#running ??= createHash('sha256')
      this.#running.update(slice)
      if (this.onChunk !== undefined) {
        if (this.#buffer === undefined && this.#filled > 0) {
          throw new Error('ManifestBuilder: set onChunk before pushing bytes')
        }
        this.#buffer ??= newChunkBuffer(chunkSize)
        this.#buffer.set(slice, this.#filled)
      }
      this.#filled += take
      this.#size += take
      offset += take
      if (this.#filled === chunkSize) this.#completeChunk()
    }
  }

  #completeChunk (): void {
    const running = this.#running
    if (running === undefined) return
    const d = running.digest()
    const hash = new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
    const index = this.#hashes.length
    this.#hashes.push(hash)
    const buffer = this.#buffer
    const filled = this.#filled
    this.#running = undefined
    this.#buffer = undefined
    this.#filled = 0
    if (this.onChunk !== undefined && buffer !== undefined) {
      // The last, partial chunk is copied out so no unwritten (uninitialised) bytes stay reachable through .buffer.
      this.onChunk(index, filled === buffer.length ? buffer : buffer.slice(0, filled), hash)
    }
  }

  /** Close the last (partial) chunk and build the manifest. The builder cannot be used afterwards. */
  finish ({ itemId, title, version }: ManifestFields): Manifest {
    if (this.#finished) throw new Error('ManifestBuilder: finish called twice')
    if (this.#filled > 0) this.#completeChunk()
    this.#finished = true
    const chunkHashes = this.#hashes
    return {
      itemId,
      title,
      size: this.#size,
      chunkSize: this.chunkSize,
      chunkCount: chunkHashes.length,
      chunkHashes,
      merkleRoot: merkleRoot(chunkHashes),
      version
    }
  }
}

function checkIndex (manifest: Manifest, index: number): void {
  if (!Number.isSafeInteger(index) || index < 0 || index >= manifest.chunkCount) {
    throw new RangeError(`chunk index ${index} out of range: item ${manifest.itemId} has ${manifest.chunkCount} chunks`)
  }
}

/** The exact length chunk `index` must have: chunkSize, except the last chunk which holds the rest. */
export function chunkLength (manifest: Manifest, index: number): number {
  checkIndex(manifest, index)
  if (index < manifest.chunkCount - 1) return manifest.chunkSize
  return manifest.size - manifest.chunkSize * (manifest.chunkCount - 1)
}

/** Byte offset of chunk `index` within the item. */
export function chunkOffset (manifest: Manifest, index: number): number {
  checkIndex(manifest, index)
  return index * manifest.chunkSize
}

/**
 * Check a received chunk against the manifest. Throws RangeError if the
 * manifest has no such chunk (the caller's mistake), and
 * ChunkHashMismatchError if the bytes are not that chunk — wrong length or
 * wrong hash alike, since either way the sender gave a bad chunk.
 */
export function verifyChunk (manifest: Manifest, index: number, bytes: Uint8Array): void {
  const expected = chunkLength(manifest, index)
  if (!(bytes instanceof Uint8Array)) throw new TypeError('verifyChunk expects a Uint8Array')
  if (bytes.length !== expected) {
    throw new ChunkHashMismatchError(`chunk ${index} of ${manifest.itemId} is ${bytes.length} bytes, expected ${expected}`)
  }
  const want = manifest.chunkHashes[index]
  if (want === undefined || want.length !== HASH_BYTES) {
    throw new RangeError(`manifest of ${manifest.itemId} lacks the hash of chunk ${index}`)
  }
  const got = sha256(bytes)
  let diff = 0
  for (let i = 0; i < HASH_BYTES; i++) diff |= (got[i] as number) ^ (want[i] as number)
  if (diff !== 0) throw new ChunkHashMismatchError(`chunk ${index} of ${manifest.itemId} does not match its hash`)
}

declare const verifiedBrand: unique symbol
/**
 * Bytes of one chunk that passed verifyChunk against a signed manifest. Only
 * verifiedChunk makes one (any other way is a visible cast), so a store or a
 * part file that takes a VerifiedChunk needs no flag saying "trust me".
 */
export type VerifiedChunk = Uint8Array & { readonly [verifiedBrand]: true }

/** Every view verifiedChunk returned (held weakly): what lets isVerifiedChunk tell a real one from a cast. */
const madeByVerifiedChunk = new WeakSet<Uint8Array>()

/** Verify chunk `index` (ChunkHashMismatchError as verifyChunk) and return it as a VerifiedChunk. */
export function verifiedChunk (manifest: Manifest, index: number, bytes: Uint8Array): VerifiedChunk {
  verifyChunk(manifest, index, bytes)
  madeByVerifiedChunk.add(bytes)
  return bytes as VerifiedChunk
}

/**
 * Did `bytes` come from verifiedChunk (not from a cast)? A store that is handed a VerifiedChunk checks this
 * before it skips its own hash, so a forged one is hashed like any other input. (Like the brand, it says the
 * bytes matched when checked; whoever holds them could still write into them afterwards.)
 */
export function isVerifiedChunk (bytes: Uint8Array): bytes is VerifiedChunk {
  return madeByVerifiedChunk.has(bytes)
}
