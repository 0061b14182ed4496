/**
 * Message bodies of `/reelnet/chunk/1.0.0`. The transport frames each body
 * with an unsigned-varint length prefix (`lpStream`); this file only encodes
 * and decodes the bodies. All integers are big-endian.
 *
 * Request (client → server), one per stream:
 *   u8 idLen | itemId (ASCII) | u16 n | n × u32 index | u32 credLen | credential
 *   (credLen 0 = no credential; indexes distinct, each < MAX_WIRE_CHUNK_COUNT,
 *   in the order the client wants them)
 *
 * Response frames (server → client), any number, then normally an end frame:
 *   data   0x01 | u32 index | chunk bytes (1..MAX_WIRE_CHUNK_BYTES)
 *   error  0x02 | u8 code | u32 index (0xffffffff = not about one chunk) | UTF-8 message
 *   end    0x03
 *
 * Decoders throw only MalformedError and TooLargeError, and check the body's
 * size before reading any field.
 */
import { Uint8ArrayList } from 'uint8arraylist'
import { MalformedError, TooLargeError } from '../errors.ts'
import {
  CHUNK_DATA_HEADER_BYTES, MAX_CHUNK_FRAME_BYTES, MAX_CHUNK_REQUEST_BYTES, MAX_CREDENTIAL_BYTES,
  MAX_ERROR_MESSAGE_BYTES, MAX_INDEXES_PER_REQUEST, MAX_WIRE_CHUNK_BYTES, MAX_WIRE_CHUNK_COUNT
} from './limits.ts'
import { bodyOf, encodeId, Reader } from './reader.ts'

export const CHUNK_PROTOCOL = '/reelnet/chunk/1.0.0'

export interface ChunkRequest {
  itemId: string
  indexes: number[]
  /** A signed directive envelope naming the caller; absent for nodes named in the rules. */
  credential?: Uint8Array
}

export type ChunkErrorCode = 'not_found' | 'unauthorized' | 'busy' | 'bad_request' | 'internal'

export type ChunkFrame =
  | { type: 'data', index: number, bytes: Uint8Array }
  | { type: 'error', code: ChunkErrorCode, message: string, index?: number }
  | { type: 'end' }

export const FRAME_DATA = 0x01
export const FRAME_ERROR = 0x02
export const FRAME_END = 0x03

/** Wire numbers of the error codes; never renumber, only add (with a new protocol version). */
const ERROR_CODES: readonly ChunkErrorCode[] = ['not_found', 'unauthorized', 'busy', 'bad_request', 'internal']
const NO_INDEX = 0xffffffff

function isChunkIndex (i: unknown): i is number {
  return Number.isInteger(i) && (i as number) >= 0 && (i as number) < MAX_WIRE_CHUNK_COUNT
}

export function encodeChunkRequest (req: ChunkRequest): Uint8Array {
  const id = encodeId(req.itemId)
  const { indexes, credential } = req
  if (!Array.isArray(indexes) || indexes.length < 1 || indexes.length > MAX_INDEXES_PER_REQUEST) {
    throw new RangeError(`a request names 1..${MAX_INDEXES_PER_REQUEST} chunk indexes`)
  }
  if (new Set(indexes).size !== indexes.length) throw new RangeError('chunk indexes must be distinct')
  for (const i of indexes) if (!isChunkIndex(i)) throw new RangeError(`chunk index ${i} out of range`)
  const credLen = credential?.length ?? 0
  if (credential !== undefined) {
    if (!(credential instanceof Uint8Array)) throw new TypeError('credential must be a Uint8Array')
    if (credLen === 0 || credLen > MAX_CREDENTIAL_BYTES) throw new RangeError(`credential must be 1..${MAX_CREDENTIAL_BYTES} bytes`)
  }
  const out = new Uint8Array(id.length + 2 + 4 * indexes.length + 4 + credLen)
  const view = new DataView(out.buffer)
  out.set(id, 0)
  let o = id.length
  view.setUint16(o, indexes.length); o += 2
  for (const i of indexes) { view.setUint32(o, i); o += 4 }
  view.setUint32(o, credLen); o += 4
  if (credential !== undefined) out.set(credential, o)
  return out
}

export function decodeChunkRequest (input: Uint8Array | Uint8ArrayList): ChunkRequest {
  const r = new Reader(bodyOf(input, MAX_CHUNK_REQUEST_BYTES, 'chunk request'), 'chunk request')
  const itemId = r.id()
  const n = r.u16()
  if (n < 1 || n > MAX_INDEXES_PER_REQUEST) throw new MalformedError(`chunk request: ${n} indexes, expected 1..${MAX_INDEXES_PER_REQUEST}`)
  const indexes: number[] = []
  const seen = new Set<number>()
  for (let k = 0; k < n; k++) {
    const i = r.u32()
    if (i >= MAX_WIRE_CHUNK_COUNT) throw new MalformedError(`chunk request: index ${i} out of range`)
    if (seen.has(i)) throw new MalformedError(`chunk request: index ${i} repeated`)
    seen.add(i)
    indexes.push(i)
  }
  const credLen = r.u32()
  if (credLen > MAX_CREDENTIAL_BYTES) throw new TooLargeError(`chunk request: credential of ${credLen} bytes exceeds ${MAX_CREDENTIAL_BYTES}`)
  const req: ChunkRequest = { itemId, indexes }
  // Copied so a retained credential does not pin the whole receive buffer.
  if (credLen > 0) req.credential = r.take(credLen).slice()
  r.end()
  return req
}

/** The 5-byte header of a data frame; send it followed by the chunk bytes. */
export function encodeChunkDataHeader (index: number): Uint8Array {
  if (!isChunkIndex(index)) throw new RangeError(`chunk index ${index} out of range`)
  const out = new Uint8Array(CHUNK_DATA_HEADER_BYTES)
  out[0] = FRAME_DATA
  new DataView(out.buffer).setUint32(1, index)
  return out
}

/** A data frame as header + chunk, without copying the chunk (lpStream.write takes a Uint8ArrayList). */
export function encodeChunkDataFrame (index: number, bytes: Uint8Array): Uint8ArrayList {
  if (!(bytes instanceof Uint8Array) || bytes.length < 1 || bytes.length > MAX_WIRE_CHUNK_BYTES) {
    throw new RangeError(`a chunk on the wire is 1..${MAX_WIRE_CHUNK_BYTES} bytes`)
  }
  return new Uint8ArrayList(encodeChunkDataHeader(index), bytes)
}

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Cut a message to at most MAX_ERROR_MESSAGE_BYTES of UTF-8 without splitting a character. */
function errorMessageBytes (message: string): Uint8Array {
  let b = utf8.encode(message)
  if (b.length <= MAX_ERROR_MESSAGE_BYTES) return b
  let end = MAX_ERROR_MESSAGE_BYTES
  while (end > 0 && ((b[end] as number) & 0xc0) === 0x80) end--
  b = b.subarray(0, end)
  return b
}

/**
 * Any frame as one contiguous body (copies a data frame's chunk once; use
 * encodeChunkDataFrame on the hot path). An error message longer than
 * MAX_ERROR_MESSAGE_BYTES is truncated.
 */
export function encodeChunkFrame (frame: ChunkFrame): Uint8Array {
  switch (frame.type) {
    case 'data':
      return encodeChunkDataFrame(frame.index, frame.bytes).subarray()
    case 'error': {
      const code = ERROR_CODES.indexOf(frame.code)
      if (code < 0) throw new RangeError(`unknown chunk error code ${String(frame.code)}`)
      if (frame.index !== undefined && !isChunkIndex(frame.index)) throw new RangeError(`chunk index ${frame.index} out of range`)
      const msg = errorMessageBytes(String(frame.message))
      const out = new Uint8Array(6 + msg.length)
      out[0] = FRAME_ERROR
      out[1] = code + 1
      new DataView(out.buffer).setUint32(2, frame.index ?? NO_INDEX)
      out.set(msg, 6)
      return out
    }
    case 'end':
      return Uint8Array.of(FRAME_END)
    default:
      throw new RangeError(`unknown chunk frame type ${String((frame as { type: unknown }).type)}`)
  }
}

/** Decode one response frame. A data frame's `bytes` is a view into the (flattened) input. */
export function decodeChunkFrame (input: Uint8Array | Uint8ArrayList): ChunkFrame {
  const r = new Reader(bodyOf(input, MAX_CHUNK_FRAME_BYTES, 'chunk frame'), 'chunk frame')
  const type = r.u8()
  switch (type) {
    case FRAME_DATA: {
      const index = r.u32()
      if (index >= MAX_WIRE_CHUNK_COUNT) throw new MalformedError(`chunk frame: index ${index} out of range`)
      if (r.remaining < 1) throw new MalformedError('chunk frame: empty chunk')
      return { type: 'data', index, bytes: r.rest() }
    }
    case FRAME_ERROR: {
      const codeNum = r.u8()
      const code = ERROR_CODES[codeNum - 1]
      if (code === undefined) throw new MalformedError(`chunk frame: unknown error code ${codeNum}`)
      const index = r.u32()
      if (index !== NO_INDEX && index >= MAX_WIRE_CHUNK_COUNT) throw new MalformedError(`chunk frame: index ${index} out of range`)
      if (r.remaining > MAX_ERROR_MESSAGE_BYTES) throw new TooLargeError('chunk frame: error message too long')
      let message: string
      try {
        message = utf8Strict.decode(r.rest())
      } catch {
        throw new MalformedError('chunk frame: error message is not UTF-8')
      }
      const frame: ChunkFrame = { type: 'error', code, message }
      if (index !== NO_INDEX) frame.index = index
      return frame
    }
    case FRAME_END:
      r.end()
      return { type: 'end' }
    default:
      throw new MalformedError(`chunk frame: unknown type ${type}`)
  }
}
