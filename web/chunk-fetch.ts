/**
 * `/reelnet/chunk/1.0.0` from the browser: one stream per request, the
 * request frame (with the directive as credential), then one frame per chunk
 * or a typed error, then the end frame — the codecs are protocol/wire's.
 * Bytes are returned raw: the engine verifies every chunk before use.
 */
import { lpStream } from '@libp2p/utils'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { CHUNK_PROTOCOL, decodeChunkFrame, encodeChunkRequest } from '../protocol/wire/chunk.ts'
import { MAX_CHUNK_FRAME_BYTES } from '../protocol/wire/limits.ts'
import { trace } from './trace.ts'

/** Buffered, unread response bytes allowed per stream: a few of the largest frames. */
export const MAX_BUFFER_BYTES = 4 * MAX_CHUNK_FRAME_BYTES

export class SourceError extends Error {
  name = 'SourceError'
  constructor (message: string, readonly code: string) { super(message) }
}

export async function fetchChunks (node: Libp2p, peer: PeerId, req: { itemId: string, indexes: number[], credential: Uint8Array }, signal: AbortSignal, onChunk: (index: number, bytes: Uint8Array) => Promise<void>): Promise<void> {
  // the protocol's name goes with the request in one message: no round trip before asking (a seek's chunk waits on it)
  const stream = await node.dialProtocol(peer, CHUNK_PROTOCOL, { signal, negotiateFully: false })
  trace('stream-open', { indexes: req.indexes })
  const lp = lpStream(stream, { maxDataLength: MAX_CHUNK_FRAME_BYTES, maxBufferSize: MAX_BUFFER_BYTES })
  const wanted = new Set(req.indexes)
  try {
    await lp.write(encodeChunkRequest(req), { signal })
    // Always close our write side: half-open streams pile up and the node resets new ones (FACTS.md).
    await stream.close({ signal }).catch(() => {})
    while (wanted.size > 0) {
      let raw
      try { raw = await lp.read({ signal }) } catch (err) {
        signal.throwIfAborted()
        throw new SourceError(`the stream broke with ${wanted.size} chunks missing: ${(err as Error).message}`, 'broken')
      }
      const frame = decodeChunkFrame(raw)
      if (frame.type === 'end') break
      if (frame.type === 'error') throw new SourceError(frame.message, frame.code)
      if (!wanted.delete(frame.index)) throw new SourceError(`sent chunk ${frame.index}, which was not asked for`, 'protocol')
      await onChunk(frame.index, frame.bytes)
    }
    if (wanted.size > 0) throw new SourceError(`ended with ${wanted.size} chunks missing`, 'protocol')
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}
