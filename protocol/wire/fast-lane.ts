/**
 * Frames of the fast lane (DESIGN "Data plane"): `/reelnet/chunk/1.0.0`'s
 * bodies, multiplexed on one TLS 1.3 connection by a request id. Each frame
 * is an unsigned-varint length prefix (protocol/wire/length-prefix.ts, with
 * its hard bound) and a body:
 *
 *   client → server   u32 requestId | chunk request body (wire/chunk.ts)
 *   server → client   u32 requestId | chunk response frame body (data, error or end)
 *
 * A server answers each request with its data/error frames and one end
 * frame, all under the request's id; frames of different requests may
 * interleave (each data frame is a whole chunk). Request ids are chosen by
 * the client, distinct among its requests in flight.
 */
import type { Uint8ArrayList } from 'uint8arraylist'
import { MalformedError } from '../errors.ts'
import { decodeChunkFrame, decodeChunkRequest, encodeChunkFrame, encodeChunkRequest, FRAME_DATA, type ChunkFrame, type ChunkRequest } from './chunk.ts'
import { CHUNK_DATA_HEADER_BYTES, MAX_CHUNK_FRAME_BYTES, MAX_CHUNK_REQUEST_BYTES, MAX_WIRE_CHUNK_BYTES, MAX_WIRE_CHUNK_COUNT } from './limits.ts'
import { bodyOf } from './reader.ts'
import { varintLength } from './length-prefix.ts'

/** ALPN protocol id of the fast lane: a TLS peer that does not speak it is refused in the handshake. */
export const FAST_LANE_ALPN = 'reelnet-chunk/1'
/** The request id in front of every body. */
export const REQUEST_ID_BYTES = 4
/** The largest client → server body: a chunk request and its id. */
export const MAX_FAST_LANE_REQUEST_BYTES = REQUEST_ID_BYTES + MAX_CHUNK_REQUEST_BYTES
/** The largest server → client body: the largest chunk frame and its id. */
export const MAX_FAST_LANE_FRAME_BYTES = REQUEST_ID_BYTES + MAX_CHUNK_FRAME_BYTES

function checkRequestId (id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new RangeError(`request id ${id} out of range`)
}

function writeVarint (out: Uint8Array, offset: number, n: number): number {
  while (n >= 0x80) { out[offset++] = (n & 0x7f) | 0x80; n = Math.floor(n / 0x80) }
  out[offset++] = n
  return offset
}

/** A body with its length prefix, ready to write. */
function framed (requestId: number, body: Uint8Array): Uint8Array {
  const len = REQUEST_ID_BYTES + body.length
  const out = new Uint8Array(varintLength(len) + len)
  let o = writeVarint(out, 0, len)
  new DataView(out.buffer).setUint32(o, requestId); o += 4
  out.set(body, o)
  return out
}

/** A whole request frame (prefix included). */
export function encodeFastLaneRequest (requestId: number, req: ChunkRequest): Uint8Array {
  checkRequestId(requestId)
  return framed(requestId, encodeChunkRequest(req))
}

/** A whole error or end frame (prefix included). For data frames use encodeFastLaneDataHeader. */
export function encodeFastLaneFrame (requestId: number, frame: ChunkFrame): Uint8Array {
  checkRequestId(requestId)
  return framed(requestId, encodeChunkFrame(frame))
}

/**
 * The prefix, request id and data header of a data frame carrying `chunkLength` bytes of chunk `index`:
 * write it, then the chunk itself, with nothing in between (the chunk is never copied).
 */
export function encodeFastLaneDataHeader (requestId: number, index: number, chunkLength: number): Uint8Array {
  checkRequestId(requestId)
  if (!Number.isInteger(index) || index < 0 || index >= MAX_WIRE_CHUNK_COUNT) throw new RangeError(`chunk index ${index} out of range`)
  if (!Number.isInteger(chunkLength) || chunkLength < 1 || chunkLength > MAX_WIRE_CHUNK_BYTES) throw new RangeError(`a chunk on the wire is 1..${MAX_WIRE_CHUNK_BYTES} bytes`)
  const len = REQUEST_ID_BYTES + CHUNK_DATA_HEADER_BYTES + chunkLength
  const out = new Uint8Array(varintLength(len) + REQUEST_ID_BYTES + CHUNK_DATA_HEADER_BYTES)
  let o = writeVarint(out, 0, len)
  const view = new DataView(out.buffer)
  view.setUint32(o, requestId); o += 4
  out[o++] = FRAME_DATA
  view.setUint32(o, index)
  return out
}

function split (input: Uint8Array | Uint8ArrayList, max: number, what: string): { requestId: number, body: Uint8Array } {
  const bytes = bodyOf(input, max, what)
  if (bytes.length < REQUEST_ID_BYTES) throw new MalformedError(`${what}: truncated`)
  const requestId = new DataView(bytes.buffer, bytes.byteOffset, REQUEST_ID_BYTES).getUint32(0)
  return { requestId, body: bytes.subarray(REQUEST_ID_BYTES) }
}

/** Decode a request body (without its length prefix). Throws MalformedError or TooLargeError. */
export function decodeFastLaneRequest (input: Uint8Array | Uint8ArrayList): { requestId: number, request: ChunkRequest } {
  const { requestId, body } = split(input, MAX_FAST_LANE_REQUEST_BYTES, 'fast-lane request')
  return { requestId, request: decodeChunkRequest(body) }
}

/** Decode a response body (without its length prefix). A data frame's bytes are a view into `input`. */
export function decodeFastLaneFrame (input: Uint8Array | Uint8ArrayList): { requestId: number, frame: ChunkFrame } {
  const { requestId, body } = split(input, MAX_FAST_LANE_FRAME_BYTES, 'fast-lane frame')
  return { requestId, frame: decodeChunkFrame(body) }
}
