/**
 * Content encryption: AES-256-CTR per chunk, so any chunk (and any byte range
 * of one) decrypts on its own and a seek costs nothing extra. The manifest's
 * chunk hashes and Merkle root cover the ciphertext: parents, edges and
 * peers verify every chunk without the key.
 *
 * Chunk i of (itemId, version) starts at the 16-byte counter block
 *   SHA-256(utf8("reelnet/chunk-iv/1") || utf8(itemId) || u32be(version) || u32be(i))[0..16]
 * with bytes 12..15 zeroed. The block counter then runs in those low 32 bits
 * and never carries into the chunk's own prefix (a chunk is at most
 * MAX_CHUNK_SIZE = 2^18 blocks), so no two (item, version, chunk, block)
 * share a keystream block under one key. One fresh 32-byte key per
 * (itemId, version) makes that hold across versions too.
 *
 * Pure: the AES-CTR primitive is handed in (`AesCtr`), WebCrypto's by
 * default, which Node and browsers both have. No randomness here: main makes
 * the key.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { MAX_CHUNK_SIZE, MAX_ID_LENGTH } from './limits.ts'
import type { Manifest } from './types.ts'

/** AES-256 key length. */
export const CONTENT_KEY_BYTES = 32
/** The AES block, and the CTR counter block. */
export const AES_BLOCK_BYTES = 16
/** The manifest's `encryption.alg`. */
export const CONTENT_ALG = 'aes-256-ctr'
/** Domain separation of the counter blocks from every other SHA-256 use in reelnet. */
const IV_DOMAIN = new TextEncoder().encode('reelnet/chunk-iv/1')

/**
 * CTR over `data` from the given counter block: ciphertext = plaintext XOR keystream (so the same call decrypts).
 * The counter must increment at least in its low 32 bits (WebCrypto `length: 32`, or OpenSSL's full 128-bit
 * counter: identical here, since the low 32 bits never overflow within a chunk).
 */
export type AesCtr = (key: Uint8Array, counter: Uint8Array, data: Uint8Array) => Promise<Uint8Array>

function checkKey (key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) throw new TypeError('content key must be a Uint8Array')
  if (key.length !== CONTENT_KEY_BYTES) throw new RangeError(`content key must be ${CONTENT_KEY_BYTES} bytes, got ${key.length}`)
}

function u32 (n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${what} must be an integer in [0, 2^32), got ${n}`)
}

/** The counter block chunk `index` of (itemId, version) starts at (see the header). */
export function chunkCounterBlock (itemId: string, version: number, index: number): Uint8Array {
  if (typeof itemId !== 'string' || itemId.length === 0 || itemId.length > MAX_ID_LENGTH) throw new TypeError('itemId must be a non-empty id')
  u32(version, 'version')
  u32(index, 'chunk index')
  const id = new TextEncoder().encode(itemId)
  const msg = new Uint8Array(IV_DOMAIN.length + id.length + 8)
  msg.set(IV_DOMAIN, 0)
  msg.set(id, IV_DOMAIN.length)
  const view = new DataView(msg.buffer)
  view.setUint32(IV_DOMAIN.length + id.length, version)
  view.setUint32(IV_DOMAIN.length + id.length + 4, index)
  const block = sha256(msg).slice(0, AES_BLOCK_BYTES)
  block.fill(0, 12, 16)
  return block
}

/** The counter block `blocks` AES blocks after chunk `index`'s first (low 32 bits only, as they never carry). */
function counterAt (itemId: string, version: number, index: number, blocks: number): Uint8Array {
  const c = chunkCounterBlock(itemId, version, index)
  new DataView(c.buffer, c.byteOffset, c.byteLength).setUint32(12, blocks)
  return c
}

export interface ChunkPlace {
  itemId: string
  version: number
  chunkSize: number
}

/**
 * Encrypt (or decrypt: CTR is its own inverse) `data`, which sits at byte `position` of the item. `data` may
 * span several chunks and start anywhere: it is split at chunk boundaries and each piece runs from its chunk's
 * counter block advanced to its offset. Returns a new array of the same length.
 */
export async function cryptAt (aes: AesCtr, key: Uint8Array, place: ChunkPlace, position: number, data: Uint8Array): Promise<Uint8Array> {
  checkKey(key)
  if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array')
  const { itemId, version, chunkSize } = place
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0 || chunkSize > MAX_CHUNK_SIZE || chunkSize % AES_BLOCK_BYTES !== 0) {
    throw new RangeError(`chunkSize must be a multiple of ${AES_BLOCK_BYTES} in (0, ${MAX_CHUNK_SIZE}], got ${chunkSize}`)
  }
  if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`position must be a non-negative integer, got ${position}`)
  // the common case (a whole chunk, or a range within one starting on a block edge): one call, no copy
  const first = Math.floor(position / chunkSize)
  const firstOffset = position - first * chunkSize
  if (firstOffset % AES_BLOCK_BYTES === 0 && firstOffset + data.length <= chunkSize) {
    const crypted = await aes(key, counterAt(itemId, version, first, firstOffset / AES_BLOCK_BYTES), data)
    if (crypted.length !== data.length) throw new Error('AES-CTR returned the wrong length')
    return crypted
  }
  const out = new Uint8Array(data.length)
  let done = 0
  while (done < data.length) {
    const at = position + done
    const index = Math.floor(at / chunkSize)
    const offset = at - index * chunkSize
    const take = Math.min(chunkSize - offset, data.length - done)
    const skip = offset % AES_BLOCK_BYTES
    const counter = counterAt(itemId, version, index, (offset - skip) / AES_BLOCK_BYTES)
    let piece = data.subarray(done, done + take)
    if (skip !== 0) {
      // start mid-block: run the keystream from the block's start and drop the first `skip` bytes
      const padded = new Uint8Array(skip + take)
      padded.set(piece, skip)
      piece = padded
    }
    const crypted = await aes(key, counter, piece)
    if (crypted.length !== piece.length) throw new Error('AES-CTR returned the wrong length')
    out.set(skip === 0 ? crypted : crypted.subarray(skip), done)
    done += take
  }
  return out
}

/** Encrypt (= decrypt) whole chunk `index`. */
export async function cryptChunk (aes: AesCtr, key: Uint8Array, place: ChunkPlace, index: number, data: Uint8Array): Promise<Uint8Array> {
  u32(index, 'chunk index')
  if (data.length > place.chunkSize) throw new RangeError(`chunk ${index} is ${data.length} bytes, more than chunkSize ${place.chunkSize}`)
  return await cryptAt(aes, key, place, index * place.chunkSize, data)
}

/** Where an item's chunks sit for the cipher: its id, version and chunk size. */
export function placeOf (manifest: Manifest): ChunkPlace {
  return { itemId: manifest.itemId, version: manifest.version, chunkSize: manifest.chunkSize }
}

/**
 * A received chunk's plaintext: `verify` (the manifest's hash check, which throws on a mismatch) runs first, so
 * bytes that are not the chunk never reach the cipher. A manifest without `encryption` hands the bytes back.
 */
export async function openChunk (aes: AesCtr, key: Uint8Array | undefined, manifest: Manifest, index: number, bytes: Uint8Array,
  verify: (manifest: Manifest, index: number, bytes: Uint8Array) => void | Promise<void>): Promise<Uint8Array> {
  await verify(manifest, index, bytes)
  if (manifest.encryption === undefined) return bytes
  if (key === undefined) throw new TypeError(`item ${manifest.itemId} is encrypted: its content key is needed`)
  return await cryptChunk(aes, key, placeOf(manifest), index, bytes)
}

/** Keys imported into WebCrypto, by the key's bytes (an item's key is used for every chunk): bounded. */
const IMPORTED_KEYS_MAX = 64

/** The two calls of WebCrypto's SubtleCrypto used here (typed locally: protocol/ is compiled without the DOM library). */
export interface SubtleAesCtr {
  importKey: (format: 'raw', key: Uint8Array<ArrayBuffer>, algorithm: { name: 'AES-CTR' }, extractable: false, usages: Array<'encrypt' | 'decrypt'>) => Promise<unknown>
  encrypt: (algorithm: { name: 'AES-CTR', counter: Uint8Array<ArrayBuffer>, length: number }, key: any, data: Uint8Array<ArrayBuffer>) => Promise<ArrayBuffer>
}

/** AES-CTR from WebCrypto (`crypto.subtle`, in Node and browsers). */
export function webCryptoAesCtr (subtle: SubtleAesCtr = (globalThis.crypto as unknown as { subtle: SubtleAesCtr }).subtle): AesCtr {
  const keys = new Map<string, Promise<unknown>>()
  const keyOf = (raw: Uint8Array): Promise<unknown> => {
    let id = ''
    for (const b of raw) id += b.toString(16).padStart(2, '0')
    let k = keys.get(id)
    if (k === undefined) {
      k = subtle.importKey('raw', raw.slice() as Uint8Array<ArrayBuffer>, { name: 'AES-CTR' }, false, ['encrypt', 'decrypt'])
      if (keys.size >= IMPORTED_KEYS_MAX) keys.clear()
      keys.set(id, k)
    }
    return k
  }
  return async (key, counter, data) => {
    const k = await keyOf(key)
    const out = await subtle.encrypt({ name: 'AES-CTR', counter: counter as Uint8Array<ArrayBuffer>, length: 32 }, k, data as Uint8Array<ArrayBuffer>)
    return new Uint8Array(out)
  }
}
