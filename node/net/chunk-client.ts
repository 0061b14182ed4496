/**
 * The requesting side of `/reelnet/chunk/1.0.0`: one stream per request,
 * one request frame out, one frame per chunk back (or a typed error), then
 * an end frame. Returns raw bytes: the caller verifies each chunk against
 * the manifest (protocol/chunking.ts verifyChunk) before using it.
 */
import type { Libp2p, Stream, StreamMessageEvent } from '@libp2p/interface'
import {
  CHUNK_PROTOCOL, decodeChunkFrame, encodeChunkRequest, type ChunkErrorCode
} from '../../protocol/wire/chunk.ts'
import { MAX_CHUNK_FRAME_BYTES, MAX_INDEXES_PER_REQUEST } from '../../protocol/wire/limits.ts'
import { AccessDeniedError, BusyError, ChunkNotFoundError, PeerProtocolError, RemoteError } from './errors.ts'
import { rememberPeer, type PeerRef } from './host.ts'
import { boundedLpStream, isFramingError } from './length-prefixed.ts'

export { CHUNK_PROTOCOL }

/** Yamux lets a sender run this far ahead of our reads (its largest stream window). */
export const YAMUX_MAX_WINDOW_BYTES = 16 * 1024 * 1024
/**
 * What may sit unread in our buffer while onChunk works: yamux grants window as data arrives, not
 * as it is consumed (FACTS.md), so this must absorb a consumer that falls behind for a while:
 * sixteen of the largest frames plus a full window.
 */
export const CLIENT_MAX_BUFFER_BYTES = 16 * MAX_CHUNK_FRAME_BYTES + YAMUX_MAX_WINDOW_BYTES
/**
 * Opening a stream (dial included: TCP, Noise, yamux, identify, protocol select) longer than this is a dead
 * peer. 10 s, libp2p's own dial timeout: at 5 s, opens to live edges timed out on loaded CI machines
 * (node-regions and faults in clean-clone runs), and the client's first-chunk deadline (15 s) still bounds it.
 */
export const OPEN_STREAM_TIMEOUT_MS = 10_000

export interface ChunkFetchRequest {
  itemId: string
  indexes: number[]
  credential?: Uint8Array
}

export interface ChunkFetchOptions {
  signal: AbortSignal
  /** Awaited before the next frame is read. Frames arriving meanwhile are buffered (up to CLIENT_MAX_BUFFER_BYTES). */
  onChunk: (index: number, bytes: Uint8Array) => void | Promise<void>
  /** Told the size of every piece of the response as it arrives off the connection, before frames are whole. */
  onBytes?: (n: number) => void
}

/** Map a wire error frame to a typed error. */
export function errorOfFrame (code: ChunkErrorCode, message: string, index?: number): Error {
  switch (code) {
    case 'unauthorized': return new AccessDeniedError(message)
    case 'not_found': return new ChunkNotFoundError(message, index)
    case 'busy': return new BusyError(message)
    default: return new RemoteError(message, code)
  }
}

export async function openStream (host: Libp2p, peer: PeerRef, protocol: string, signal: AbortSignal): Promise<Stream> {
  const id = await rememberPeer(host, peer)
  // A cleared timer rather than AbortSignal.timeout: the signal given to dialProtocol stays tied to
  // the stream, and a timeout signal firing later would abort a long transfer.
  const ctl = new AbortController()
  const timer = setTimeout(() => { ctl.abort(new Error(`could not open ${protocol} within ${OPEN_STREAM_TIMEOUT_MS} ms`)) }, OPEN_STREAM_TIMEOUT_MS)
  try {
    return await host.dialProtocol(id, protocol, { signal: AbortSignal.any([signal, ctl.signal]) })
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Fetch `req.indexes` of an item from `peer`. Resolves when every index was
 * delivered to onChunk; throws the first error otherwise (onChunk has then
 * been called for exactly the chunks received). A `not_found` for one index
 * is thrown as ChunkNotFoundError after the other chunks were delivered.
 */
export async function fetchChunks (host: Libp2p, peer: PeerRef, req: ChunkFetchRequest, opts: ChunkFetchOptions): Promise<void> {
  if (req.indexes.length === 0) return
  if (req.indexes.length > MAX_INDEXES_PER_REQUEST) {
    // split into several requests on the same connection, in order
    for (let i = 0; i < req.indexes.length; i += MAX_INDEXES_PER_REQUEST) {
      await fetchChunks(host, peer, { ...req, indexes: req.indexes.slice(i, i + MAX_INDEXES_PER_REQUEST) }, opts)
    }
    return
  }
  const body = encodeChunkRequest(req)
  const stream = await openStream(host, peer, CHUNK_PROTOCOL, opts.signal)
  stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength ?? 0, CLIENT_MAX_BUFFER_BYTES)
  const lp = boundedLpStream(stream, { maxDataLength: MAX_CHUNK_FRAME_BYTES, maxBufferSize: CLIENT_MAX_BUFFER_BYTES })
  const wanted = new Set(req.indexes)
  let notFound: ChunkNotFoundError | undefined
  const onAbort = (): void => { stream.abort(opts.signal.reason instanceof Error ? opts.signal.reason : new Error('aborted')) }
  opts.signal.addEventListener('abort', onAbort, { once: true })
  // beside lpStream's own listener: each 'message' is a piece of the stream as yamux delivers it
  const onBytes = opts.onBytes
  const onMessage = onBytes === undefined ? undefined : (evt: StreamMessageEvent): void => { onBytes(evt.data.byteLength) }
  if (onMessage !== undefined) stream.addEventListener('message', onMessage)
  try {
    await lp.write(body, { signal: opts.signal })
    await stream.close({ signal: opts.signal }).catch(() => {})
    while (true) {
      let raw
      try {
        raw = await lp.read({ signal: opts.signal })
      } catch (err) {
        opts.signal.throwIfAborted()
        const name = (err as Error).name
        if (name === 'UnexpectedEOFError' && wanted.size > 0) throw new PeerProtocolError(`stream ended with ${wanted.size} chunks missing`)
        if (isFramingError(err)) {
          throw new PeerProtocolError(`bad frame: ${(err as Error).message}`)
        }
        if (name === 'UnexpectedEOFError') break
        throw err
      }
      let frame
      try { frame = decodeChunkFrame(raw) } catch (err) { throw new PeerProtocolError(`bad frame: ${(err as Error).message}`) }
      if (frame.type === 'end') break
      if (frame.type === 'error') {
        const e = errorOfFrame(frame.code, frame.message, frame.index)
        if (e instanceof ChunkNotFoundError && frame.index !== undefined && wanted.has(frame.index)) {
          wanted.delete(frame.index)
          notFound ??= e
          continue
        }
        throw e
      }
      if (!wanted.delete(frame.index)) throw new PeerProtocolError(`peer sent chunk ${frame.index}, which was not asked for (or twice)`)
      // No stream.pause()/resume() here: resuming sends a window update, which fails once our
      // write side is closed and broke transfers under load. The read buffer bound
      // (CLIENT_MAX_BUFFER_BYTES) absorbs a consumer that falls behind for a while.
      await opts.onChunk(frame.index, frame.bytes)
    }
    if (wanted.size > 0) throw new PeerProtocolError(`peer ended the response with ${wanted.size} chunks missing`)
    if (notFound !== undefined) throw notFound
  } catch (err) {
    stream.abort(err as Error)
    throw err
  } finally {
    opts.signal.removeEventListener('abort', onAbort)
    if (onMessage !== undefined) stream.removeEventListener('message', onMessage)
  }
}
