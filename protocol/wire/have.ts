/**
 * Message bodies of `/reelnet/have/1.0.0`: which chunks of an item a peer
 * holds, as a bitfield. Integers are big-endian.
 *
 *   request   u8 idLen | itemId (ASCII)
 *   response  u8 idLen | itemId | u32 chunkCount | ⌈chunkCount/8⌉ bitfield bytes
 *
 * Bit i is bit (7 - i % 8) of byte ⌊i/8⌋ (most significant bit first, as in
 * BitTorrent); the spare bits of the last byte must be zero. chunkCount 0
 * means the responder holds nothing of the item (or the item is empty).
 */
import type { Uint8ArrayList } from 'uint8arraylist'
import { MalformedError, TooLargeError } from '../errors.ts'
import { MAX_HAVE_REQUEST_BYTES, MAX_HAVE_RESPONSE_BYTES, MAX_WIRE_CHUNK_COUNT } from './limits.ts'
import { bodyOf, encodeId, Reader } from './reader.ts'

export const HAVE_PROTOCOL = '/reelnet/have/1.0.0'

function popcount8 (b: number): number {
  b = b - ((b >> 1) & 0x55)
  b = (b & 0x33) + ((b >> 2) & 0x33)
  return (b + (b >> 4)) & 0x0f
}

/** A fixed-length set of chunk indexes [0, length). */
export class Bitfield {
  /** Number of chunks the bitfield covers. */
  readonly length: number
  readonly #bytes: Uint8Array

  constructor (count: number) {
    if (!Number.isSafeInteger(count) || count < 0 || count > MAX_WIRE_CHUNK_COUNT) {
      throw new RangeError(`a bitfield covers 0..${MAX_WIRE_CHUNK_COUNT} chunks, got ${count}`)
    }
    this.length = count
    this.#bytes = new Uint8Array(Math.ceil(count / 8))
  }

  #check (i: number): void {
    if (!Number.isSafeInteger(i) || i < 0 || i >= this.length) {
      throw new RangeError(`chunk index ${i} out of range for ${this.length} chunks`)
    }
  }

  set (i: number): void {
    this.#check(i)
    this.#bytes[i >> 3] = (this.#bytes[i >> 3] as number) | (0x80 >> (i & 7))
  }

  clear (i: number): void {
    this.#check(i)
    this.#bytes[i >> 3] = (this.#bytes[i >> 3] as number) & ~(0x80 >> (i & 7))
  }

  get (i: number): boolean {
    this.#check(i)
    return (((this.#bytes[i >> 3] as number) >> (7 - (i & 7))) & 1) === 1
  }

  /** How many chunks are set. */
  count (): number {
    let n = 0
    for (const b of this.#bytes) n += popcount8(b)
    return n
  }

  /** Whether every chunk is set (true for an empty bitfield). */
  isFull (): boolean {
    return this.count() === this.length
  }

  /** The indexes that are set, ascending. */
  * indexes (): IterableIterator<number> {
    for (let byte = 0; byte < this.#bytes.length; byte++) {
      const b = this.#bytes[byte] as number
      if (b === 0) continue
      for (let bit = 0; bit < 8; bit++) if ((b & (0x80 >> bit)) !== 0) yield byte * 8 + bit
    }
  }

  /** A copy of the wire bytes. */
  toBytes (): Uint8Array {
    return this.#bytes.slice()
  }

  /** Parse wire bytes for `count` chunks: exactly ⌈count/8⌉ bytes, spare bits zero. */
  static fromBytes (bytes: Uint8Array, count: number): Bitfield {
    if (!Number.isSafeInteger(count) || count < 0) throw new MalformedError(`bitfield: bad chunk count ${count}`)
    if (count > MAX_WIRE_CHUNK_COUNT) throw new TooLargeError(`bitfield: ${count} chunks exceeds ${MAX_WIRE_CHUNK_COUNT}`)
    if (!(bytes instanceof Uint8Array)) throw new MalformedError('bitfield: expected bytes')
    const want = Math.ceil(count / 8)
    if (bytes.length !== want) throw new MalformedError(`bitfield: ${bytes.length} bytes for ${count} chunks, expected ${want}`)
    const spare = want * 8 - count
    if (spare > 0 && ((bytes[want - 1] as number) & ((1 << spare) - 1)) !== 0) {
      throw new MalformedError('bitfield: spare bits are set')
    }
    const field = new Bitfield(count)
    field.#bytes.set(bytes)
    return field
  }
}

export interface HaveRequest {
  itemId: string
}

export interface HaveResponse {
  itemId: string
  chunkCount: number
  bitfield: Bitfield
}

export function encodeHaveRequest (req: HaveRequest): Uint8Array {
  return encodeId(req.itemId)
}

export function decodeHaveRequest (input: Uint8Array | Uint8ArrayList): HaveRequest {
  const r = new Reader(bodyOf(input, MAX_HAVE_REQUEST_BYTES, 'have request'), 'have request')
  const itemId = r.id()
  r.end()
  return { itemId }
}

export function encodeHaveResponse (res: HaveResponse): Uint8Array {
  const id = encodeId(res.itemId)
  if (!(res.bitfield instanceof Bitfield)) throw new TypeError('bitfield must be a Bitfield')
  if (res.bitfield.length !== res.chunkCount) {
    throw new RangeError(`bitfield covers ${res.bitfield.length} chunks, chunkCount says ${res.chunkCount}`)
  }
  const bits = res.bitfield.toBytes()
  const out = new Uint8Array(id.length + 4 + bits.length)
  out.set(id, 0)
  new DataView(out.buffer).setUint32(id.length, res.chunkCount)
  out.set(bits, id.length + 4)
  return out
}

export function decodeHaveResponse (input: Uint8Array | Uint8ArrayList): HaveResponse {
  const r = new Reader(bodyOf(input, MAX_HAVE_RESPONSE_BYTES, 'have response'), 'have response')
  const itemId = r.id()
  const chunkCount = r.u32()
  if (chunkCount > MAX_WIRE_CHUNK_COUNT) throw new TooLargeError(`have response: ${chunkCount} chunks exceeds ${MAX_WIRE_CHUNK_COUNT}`)
  const bitfield = Bitfield.fromBytes(r.take(Math.ceil(chunkCount / 8)), chunkCount)
  r.end()
  return { itemId, chunkCount, bitfield }
}
