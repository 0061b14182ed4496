/**
 * The serving side of `/reelnet/chunk/1.0.0` (and of `/reelnet/have/1.0.0`).
 * Mounted by parents, edges and seeding clients, each with its own
 * ChunkSource (what it holds; an edge fetches on miss inside getChunk) and
 * Authorize. Chunks are sent in the order asked, with a small lookahead
 * so a miss upstream overlaps with sending; writes wait for the stream to
 * drain, and a node-wide in-flight byte budget bounds memory.
 */
import type { LengthPrefixedStream } from '@libp2p/utils'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import {
  CHUNK_PROTOCOL, decodeChunkRequest, encodeChunkDataFrame, encodeChunkFrame, type ChunkErrorCode
} from '../../protocol/wire/chunk.ts'
import { Bitfield, decodeHaveRequest, encodeHaveResponse, HAVE_PROTOCOL } from '../../protocol/wire/have.ts'
import {
  MAX_CHUNK_FRAME_BYTES, MAX_CHUNK_REQUEST_BYTES, MAX_HAVE_REQUEST_BYTES, MAX_WIRE_CHUNK_BYTES
} from '../../protocol/wire/limits.ts'
import type { Authorize } from './access.ts'
import type { TokenBucket } from './token-bucket.ts'
import { boundedLpStream, isFramingError } from './length-prefixed.ts'
import { chunkReadBuffers } from './chunk-buffers.ts'

/** A request that has not arrived this long after the stream opened is dropped (slowloris). */
export const REQUEST_TIMEOUT_MS = 10_000
/** Concurrent chunk streams one peer may hold open on this node; more get `busy`. */
export const MAX_STREAMS_PER_PEER = 16
/** libp2p's own per-connection cap for the protocol: a little above ours so we answer `busy` instead of a reset. */
export const MAX_INBOUND_STREAMS_PER_CONNECTION = MAX_STREAMS_PER_PEER + 4
/** Chunks fetched ahead of the one being sent, per stream: hides an upstream round trip. */
export const LOOKAHEAD_CHUNKS = 8
/** Node-wide bytes read or fetched but not yet sent: bounds memory under many slow readers. */
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 256 * 1024 * 1024
/** Each chunk in flight holds this much of the budget (the default chunk size; chunk sizes are known only after the read). */
export const IN_FLIGHT_SLOT_BYTES = MAX_WIRE_CHUNK_BYTES / 4
/** A single send that stays blocked this long means the reader stopped reading: give up on it. */
export const SEND_STALL_TIMEOUT_MS = 30_000

export interface ChunkSource {
  /** Verified bytes of chunk `index` of `itemId`; null when not held and not fetchable. */
  getChunk: (itemId: string, index: number, opts: { signal: AbortSignal }) => Promise<Uint8Array | null>
  /** What is held of itemId now, or null when the item is unknown. */
  have: (itemId: string) => Promise<Bitfield | null>
}

export interface ServeOptions {
  source: ChunkSource
  authorize: Authorize
  /** May this connection ask the have protocol? Default: everyone allowed by `authorize` for some item… so pass one. */
  mayAskHave: (connection: Connection) => boolean
  uploadLimiter?: TokenBucket
  maxStreamsPerPeer?: number
  maxInFlightBytes?: number
  onServed?: (remotePeer: string, bytes: number) => void
  /**
   * The remote broke the framing (an overlong or oversized length prefix): its stream is already reset; the
   * node penalises it like any malformed frame (a stranger is denied at the gater and hung up on).
   */
  onMalformed?: (connection: Connection, protocol: string, err: Error) => void
  log?: (msg: string) => void
  /** Chunk streams being answered went up (+1) or down (-1): the heartbeat's `serving.streams`. */
  onStreams?: (delta: 1 | -1) => void
}

/** A counting semaphore over bytes. */
export class ByteBudget {
  private used = 0
  private readonly waiters: Array<{ n: number, resolve: () => void }> = []
  constructor (readonly limit: number) {}
  get inUse (): number { return this.used }
  async acquire (n: number, signal: AbortSignal): Promise<void> {
    n = Math.min(n, this.limit)
    if (this.used + n <= this.limit && this.waiters.length === 0) { this.used += n; return }
    await new Promise<void>((resolve, reject) => {
      const w = { n, resolve: () => { signal.removeEventListener('abort', onAbort); resolve() } }
      const onAbort = (): void => {
        const i = this.waiters.indexOf(w)
        if (i >= 0) this.waiters.splice(i, 1)
        reject(signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(w)
    })
  }
  release (n: number): void {
    this.used -= Math.min(n, this.limit)
    while (this.waiters.length > 0 && this.used + this.waiters[0]!.n <= this.limit) {
      const w = this.waiters.shift()!
      this.used += w.n
      w.resolve()
    }
  }
}

/** The wire's error code for an error thrown while serving (both the libp2p chunk protocol and the fast lane). */
export function chunkErrorCodeOf (err: unknown): ChunkErrorCode {
  switch ((err as Error | undefined)?.name) {
    case 'AccessDeniedError': return 'unauthorized'
    case 'BusyError': return 'busy'
    case 'ChunkNotFoundError': case 'NoSourceError': return 'not_found'
    case 'MalformedError': case 'TooLargeError': return 'bad_request'
    default: return 'internal'
  }
}

/** Where `sendInOrder` puts each requested chunk: its bytes, or a typed refusal naming its index. */
export interface ChunkSink {
  /**
   * Send one chunk. `bytes` may be a buffer of the store's pool (node/net/chunk-buffers.ts): a sink that
   * knows when the bytes have left may recycle them then; one that does not leaves them to the GC.
   */
  data: (index: number, bytes: Uint8Array) => Promise<void>
  error: (code: ChunkErrorCode, message: string, index: number) => Promise<void>
}

/**
 * Send `indexes` of `itemId` from `source` in request order, with up to LOOKAHEAD_CHUNKS fetches started ahead,
 * each holding a slot of `budget` until its chunk is written or refused; `uploadLimiter` paces the bytes.
 * The libp2p chunk protocol and the fast lane serve through this one loop.
 */
export async function sendInOrder (
  o: { source: ChunkSource, budget: ByteBudget, uploadLimiter?: TokenBucket, itemId: string, indexes: number[], signal: AbortSignal },
  sink: ChunkSink
): Promise<void> {
  const { source, budget, itemId, indexes, signal } = o
  const pending: Array<{ index: number, p: Promise<Uint8Array | null | Error> }> = []
  let next = 0
  const start = async (): Promise<void> => {
    const index = indexes[next++]!
    await budget.acquire(IN_FLIGHT_SLOT_BYTES, signal)
    const p = source.getChunk(itemId, index, { signal }).catch((err: unknown) => err as Error)
    pending.push({ index, p })
  }
  try {
    while (next < indexes.length && pending.length < LOOKAHEAD_CHUNKS) await start()
    while (pending.length > 0) {
      const { index, p } = pending.shift()!
      const bytes = await p
      if (next < indexes.length) await start()
      if (bytes === null) { budget.release(IN_FLIGHT_SLOT_BYTES); await sink.error('not_found', `chunk ${index} of ${itemId} is not available here`, index); continue }
      if (bytes instanceof Error) { budget.release(IN_FLIGHT_SLOT_BYTES); await sink.error(chunkErrorCodeOf(bytes), bytes.message, index); continue }
      let handedOn = false
      try {
        if (o.uploadLimiter !== undefined) await o.uploadLimiter.take(bytes.length, { signal })
        handedOn = true
        await sink.data(index, bytes)
      } finally {
        budget.release(IN_FLIGHT_SLOT_BYTES)
        // a chunk the sink never got goes back to the store's pool (the sink answers for those it got)
        if (!handedOn) chunkReadBuffers.recycle(bytes)
      }
    }
  } finally {
    // release the slots of lookahead fetches we will not send, and their buffers once they arrive
    for (const { p } of pending) {
      budget.release(IN_FLIGHT_SLOT_BYTES)
      void p.then(b => { if (b instanceof Uint8Array) chunkReadBuffers.recycle(b) })
    }
  }
}

/** Mount the chunk and have protocols on `host`. Returns a function that unmounts them. */
export async function serveChunks (host: Libp2p, opts: ServeOptions): Promise<() => Promise<void>> {
  const maxPerPeer = opts.maxStreamsPerPeer ?? MAX_STREAMS_PER_PEER
  const budget = new ByteBudget(opts.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT_BYTES)
  const perPeer = new Map<string, number>()
  const active = new Set<AbortController>()

  async function handleChunk (stream: Stream, connection: Connection): Promise<void> {
    const remote = connection.remotePeer.toString()
    const ctl = new AbortController()
    active.add(ctl)
    opts.onStreams?.(1)
    const onClose = (evt: Event): void => { ctl.abort(new Error(`stream closed: ${String((evt as Event & { error?: Error }).error?.message)}`)) }
    stream.addEventListener('close', onClose)
    // the requests this side reads are at most MAX_CHUNK_REQUEST_BYTES; the frames it writes are not bounded by the reader
    const lp = boundedLpStream(stream, { maxDataLength: MAX_CHUNK_REQUEST_BYTES, maxBufferSize: 2 * MAX_CHUNK_REQUEST_BYTES })
    const count = (perPeer.get(remote) ?? 0) + 1
    perPeer.set(remote, count)
    const sendError = async (code: ChunkErrorCode, message: string, index?: number): Promise<void> => {
      await lp.write(encodeChunkFrame({ type: 'error', code, message, index }), { signal: ctl.signal })
    }
    try {
      if (count > maxPerPeer) {
        await sendError('busy', `more than ${maxPerPeer} chunk streams from one peer`)
        await stream.close()
        return
      }
      let req
      // A timer, not AbortSignal.timeout: a timeout signal handed to a stream read outlives the read
      // and, when it fires later, closed streams mid-transfer (seen on transfers longer than 10 s).
      const deadline = setTimeout(() => { ctl.abort(new Error('no request in time')) }, REQUEST_TIMEOUT_MS)
      try {
        const raw = await lp.read({ signal: ctl.signal })
        req = decodeChunkRequest(raw)
      } catch (err) {
        clearTimeout(deadline)
        if (isFramingError(err)) {
          // no answer to a sender that breaks the framing: cut it off now, before more of its bytes are read
          stream.abort(err as Error)
          opts.onMalformed?.(connection, CHUNK_PROTOCOL, err as Error)
          return
        }
        await sendError('bad_request', `bad request: ${(err as Error).message}`).catch(() => {})
        await stream.close().catch(() => {})
        return
      }
      clearTimeout(deadline)
      try {
        await opts.authorize({ connection, itemId: req.itemId, credential: req.credential })
      } catch (err) {
        await sendError(chunkErrorCodeOf(err), (err as Error).message)
        await stream.close()
        return
      }
      await sendChunks(lp, remote, req.itemId, req.indexes, ctl.signal, sendError)
      await lp.write(encodeChunkFrame({ type: 'end' }), { signal: ctl.signal })
      await stream.close()
    } catch (err) {
      opts.log?.(`chunk stream from ${remote} failed: ${(err as Error).name}: ${(err as Error).message}${ctl.signal.aborted ? ` (${String((ctl.signal.reason as Error)?.message)})` : ''}`)
      stream.abort(err as Error)
    } finally {
      stream.removeEventListener('close', onClose)
      active.delete(ctl)
      opts.onStreams?.(-1)
      const n = (perPeer.get(remote) ?? 1) - 1
      if (n <= 0) perPeer.delete(remote)
      else perPeer.set(remote, n)
    }
  }

  async function sendChunks (
    lp: LengthPrefixedStream<Stream>, remote: string, itemId: string, indexes: number[], signal: AbortSignal,
    sendError: (code: ChunkErrorCode, message: string, index?: number) => Promise<void>
  ): Promise<void> {
    await sendInOrder({ source: opts.source, budget, uploadLimiter: opts.uploadLimiter, itemId, indexes, signal }, {
      data: async (index, bytes) => {
        const frame: Uint8ArrayList = encodeChunkDataFrame(index, bytes)
        await lp.write(frame, { signal })
        opts.onServed?.(remote, bytes.length)
      },
      error: sendError
    })
  }

  async function handleHave (stream: Stream, connection: Connection): Promise<void> {
    const lp = boundedLpStream(stream, { maxDataLength: MAX_HAVE_REQUEST_BYTES, maxBufferSize: 4 * MAX_HAVE_REQUEST_BYTES })
    try {
      if (!opts.mayAskHave(connection)) { stream.abort(new Error('not admitted')); return }
      const req = decodeHaveRequest(await lp.read({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }))
      const bits = await opts.source.have(req.itemId)
      const bitfield = bits ?? new Bitfield(0)
      await lp.write(encodeHaveResponse({ itemId: req.itemId, chunkCount: bitfield.length, bitfield }), { signal: AbortSignal.timeout(SEND_STALL_TIMEOUT_MS) })
      await stream.close({ signal: AbortSignal.timeout(SEND_STALL_TIMEOUT_MS) })
    } catch (err) {
      stream.abort(err as Error)
      if (isFramingError(err)) opts.onMalformed?.(connection, HAVE_PROTOCOL, err as Error)
    }
  }

  await host.handle(CHUNK_PROTOCOL, (stream, connection) => { void handleChunk(stream, connection) }, { maxInboundStreams: MAX_INBOUND_STREAMS_PER_CONNECTION })
  await host.handle(HAVE_PROTOCOL, (stream, connection) => { void handleHave(stream, connection) }, { maxInboundStreams: 8 })
  return async () => {
    await host.unhandle(CHUNK_PROTOCOL)
    await host.unhandle(HAVE_PROTOCOL)
    for (const c of active) c.abort(new Error('shutting down'))
  }
}
