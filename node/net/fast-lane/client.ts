/**
 * The requesting side of the fast lane: one TLS 1.3 connection per peer,
 * several requests in flight on it. The server must prove the PeerId the
 * directive or the rules name (its libp2p certificate); ours proves this
 * node's or client's PeerId to it. Bytes are read with `onread` into one
 * reused buffer and copied once into a buffer per frame (FACTS "Data
 * path": ~2.2 ms/MiB at a requester that hashes), taken from a FramePool: a
 * caller that is done with a chunk nobody else holds hands it back with
 * `recycle` (frame-pool.ts says when that is safe). `fetch` has the contract
 * of node/net/chunk-client.ts fetchChunks: raw bytes to onChunk (the caller
 * verifies each before use), onChunk awaited in order per request, typed
 * errors; a slow onChunk pauses the socket once CLIENT_MAX_BUFFER_BYTES sit
 * unconsumed (disk back-pressure reaches the sender through TCP).
 */
import tls, { type TLSSocket } from 'node:tls'
import type { OnReadOpts } from 'node:net'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  decodeFastLaneFrame, encodeFastLaneRequest, FAST_LANE_ALPN, MAX_FAST_LANE_FRAME_BYTES
} from '../../../protocol/wire/fast-lane.ts'
import { MAX_INDEXES_PER_REQUEST } from '../../../protocol/wire/limits.ts'
import { CLIENT_MAX_BUFFER_BYTES, errorOfFrame, type ChunkFetchOptions, type ChunkFetchRequest } from '../chunk-client.ts'
import { ChunkNotFoundError, ConnectionLostError, PeerProtocolError } from '../errors.ts'
import { remotePeerOf, type FastLaneCredentials } from './certificate.ts'
import { FAST_LANE_TLS, HANDSHAKE_TIMEOUT_MS } from './tls-options.ts'
import { FrameAssembler } from './frame-assembler.ts'
import { FramePool } from './frame-pool.ts'
import { parseFastLaneAddr } from './address.ts'

/** The reused read buffer: a TLS record is at most 16 KiB; several fit, so one callback drains a burst. */
export const READ_BUFFER_BYTES = 256 * 1024
/** A connection with no request in flight this long is closed. */
export const CLIENT_IDLE_MS = 30_000

/** The fast lane could not be reached or did not prove its PeerId: nothing was asked, the caller may use libp2p. */
export class FastLaneUnreachableError extends Error {
  name = 'FastLaneUnreachableError'
}

export interface FastLaneTarget { peerId: string, fastLane: string }

interface Pending {
  wanted: Set<number>
  notFound?: ChunkNotFoundError
  opts: ChunkFetchOptions
  /** onChunk calls, in order. */
  chain: Promise<void>
  failed?: Error
  settle: (err?: Error) => void
}

class LaneConnection {
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private queued = 0
  private idleTimer: ReturnType<typeof setTimeout> | undefined
  closedWith: Error | undefined
  private readonly assembler: FrameAssembler

  constructor (private readonly socket: TLSSocket, private readonly onGone: () => void, private readonly pool: FramePool) {
    this.assembler = new FrameAssembler(MAX_FAST_LANE_FRAME_BYTES, body => { this.onFrame(body) }, length => pool.alloc(length))
    // a peer that restarts or prunes us closes the connection: that is no protocol violation (which bans it)
    socket.on('error', err => { this.fail(new ConnectionLostError(`fast-lane connection failed: ${err.message}`)) })
    socket.on('close', () => { this.fail(new ConnectionLostError('fast-lane connection closed by the peer')) })
    this.armIdle()
  }

  /** Fed by onread with a view into the reused buffer. */
  onPiece (piece: Uint8Array): void {
    if (this.closedWith !== undefined) return
    try {
      this.assembler.feed(piece)
    } catch (err) {
      this.fail(err instanceof PeerProtocolError ? err : new PeerProtocolError(`bad frame: ${(err as Error).message}`))
      return
    }
    // progress of a frame still arriving, for the caller's stall timer
    const p = this.assembler.midFrame ? this.pending.get(this.assembler.currentRequestId() ?? -1) : undefined
    p?.opts.onBytes?.(piece.length)
  }

  private armIdle (): void {
    clearTimeout(this.idleTimer)
    if (this.pending.size > 0) return
    this.idleTimer = setTimeout(() => { if (this.pending.size === 0) this.close() }, CLIENT_IDLE_MS)
    this.idleTimer.unref()
  }

  private onFrame (body: Uint8Array): void {
    let decoded
    try { decoded = decodeFastLaneFrame(body) } catch (err) { throw new PeerProtocolError(`bad frame: ${(err as Error).message}`) }
    const { requestId, frame } = decoded
    const p = this.pending.get(requestId)
    if (p === undefined) throw new PeerProtocolError(`peer answered request ${requestId}, which is not in flight`)
    // nothing but a data frame's bytes leave this function: every other body is ours alone
    if (frame.type !== 'data' || p.failed !== undefined) this.pool.recycle(body)
    if (frame.type === 'end') {
      this.finish(requestId, p, p.wanted.size > 0 ? new PeerProtocolError(`peer ended the response with ${p.wanted.size} chunks missing`) : p.notFound)
      return
    }
    if (frame.type === 'error') {
      const e = errorOfFrame(frame.code, frame.message, frame.index)
      if (e instanceof ChunkNotFoundError && frame.index !== undefined && p.wanted.delete(frame.index)) { p.notFound ??= e; return }
      // any other error ends the request (the server sends nothing more for it)
      this.finish(requestId, p, e)
      return
    }
    if (!p.wanted.delete(frame.index)) throw new PeerProtocolError(`peer sent chunk ${frame.index}, which was not asked for (or twice)`)
    if (p.failed !== undefined) return // the caller gave up on this request: what still arrives is dropped
    const n = frame.bytes.length
    this.queued += n
    if (this.queued > CLIENT_MAX_BUFFER_BYTES) this.socket.pause()
    const index = frame.index
    const bytes = frame.bytes
    p.chain = p.chain.then(async () => {
      if (p.failed === undefined) await p.opts.onChunk(index, bytes)
    }).catch((err: unknown) => { p.failed ??= err as Error }).finally(() => {
      this.queued -= n
      if (this.queued <= CLIENT_MAX_BUFFER_BYTES / 2 && this.socket.isPaused()) this.socket.resume()
    })
  }

  private finish (requestId: number, p: Pending, err?: Error): void {
    this.pending.delete(requestId)
    this.armIdle()
    void p.chain.then(() => { p.settle(p.failed ?? err) })
  }

  private fail (err: Error): void {
    if (this.closedWith !== undefined) return
    this.closedWith = err
    clearTimeout(this.idleTimer)
    this.socket.destroy()
    for (const [id, p] of this.pending) { this.pending.delete(id); void p.chain.then(() => { p.settle(p.failed ?? err) }) }
    this.onGone()
  }

  close (): void { this.fail(new Error('fast-lane connection closed by us')) }

  async request (req: ChunkFetchRequest, opts: ChunkFetchOptions): Promise<void> {
    if (this.closedWith !== undefined) throw this.closedWith
    let id = this.nextId
    while (this.pending.has(id)) id = (id + 1) >>> 0
    this.nextId = (id + 1) >>> 0
    const frame = encodeFastLaneRequest(id, req)
    clearTimeout(this.idleTimer)
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        // the server still answers; its frames for this id are read and dropped, so the id stays reserved until the end
        p.failed ??= opts.signal.reason instanceof Error ? opts.signal.reason : new Error('aborted')
        p.settle(p.failed)
      }
      let settled = false
      const p: Pending = {
        wanted: new Set(req.indexes),
        opts,
        chain: Promise.resolve(),
        settle: err => {
          if (settled) return
          settled = true
          opts.signal.removeEventListener('abort', onAbort)
          if (err === undefined) resolve(); else reject(err)
        }
      }
      if (opts.signal.aborted) { reject(opts.signal.reason); return }
      opts.signal.addEventListener('abort', onAbort, { once: true })
      this.pending.set(id, p)
      this.socket.write(frame)
    })
  }
}

export interface FastLaneClientOptions {
  credentials: FastLaneCredentials
  log?: (msg: string) => void
}

export class FastLaneClient {
  private readonly conns = new Map<string, Promise<LaneConnection>>()
  private readonly pool = new FramePool()
  private closed = false

  constructor (private readonly opts: FastLaneClientOptions) {}

  /**
   * `bytes`, a chunk this client handed to an onChunk, is no longer referenced anywhere: its frame body may take
   * the next frame. Only the sole holder may call it (frame-pool.ts); anything else is ignored.
   */
  recycle (bytes: Uint8Array): void { this.pool.recycle(bytes) }

  /** Fetch `req.indexes` from `peer` over its fast lane; FastLaneUnreachableError when no connection could be made. */
  async fetch (peer: FastLaneTarget, req: ChunkFetchRequest, opts: ChunkFetchOptions): Promise<void> {
    if (req.indexes.length === 0) return
    for (let i = 0; i < req.indexes.length; i += MAX_INDEXES_PER_REQUEST) {
      const conn = await this.connection(peer, opts.signal)
      await conn.request({ ...req, indexes: req.indexes.slice(i, i + MAX_INDEXES_PER_REQUEST) }, opts)
    }
  }

  private async connection (peer: FastLaneTarget, signal: AbortSignal): Promise<LaneConnection> {
    if (this.closed) throw new FastLaneUnreachableError('fast-lane client closed')
    const key = `${peer.peerId} ${peer.fastLane}`
    let c = this.conns.get(key)
    if (c === undefined) {
      c = this.connect(peer, () => { if (this.conns.get(key) === c) this.conns.delete(key) })
      this.conns.set(key, c)
      c.catch(() => { if (this.conns.get(key) === c) this.conns.delete(key) })
    }
    signal.throwIfAborted()
    return await c
  }

  private async connect (peer: FastLaneTarget, onGone: () => void): Promise<LaneConnection> {
    const { host, port } = parseFastLaneAddr(peer.fastLane)
    const expected = peerIdFromString(peer.peerId)
    let conn: LaneConnection | undefined
    // onread is a documented tls.connect option (as for net.connect) that @types/node leaves out
    const connectOptions: tls.ConnectionOptions & { onread: OnReadOpts } = {
      ...FAST_LANE_TLS,
      host,
      port,
      secureContext: secureContextOf(this.opts.credentials),
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
        callback: (n: number, buf: Uint8Array) => { conn?.onPiece(buf.subarray(0, n)); return true }
      }
    }
    const socket = tls.connect(connectOptions)
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`no TLS handshake within ${HANDSHAKE_TIMEOUT_MS} ms`)) }, HANDSHAKE_TIMEOUT_MS)
        socket.once('secureConnect', () => { clearTimeout(timer); resolve() })
        socket.once('error', err => { clearTimeout(timer); reject(err) })
        socket.once('close', () => { clearTimeout(timer); reject(new Error('closed during the handshake')) })
      })
      if (socket.alpnProtocol !== FAST_LANE_ALPN) throw new Error('the peer does not speak the fast lane')
      await remotePeerOf(socket, expected)
    } catch (err) {
      socket.destroy()
      throw new FastLaneUnreachableError(`fast lane of ${peer.peerId.slice(-8)} at ${peer.fastLane}: ${(err as Error).message}`)
    }
    socket.setNoDelay(true)
    socket.removeAllListeners('error')
    socket.removeAllListeners('close')
    conn = new LaneConnection(socket, onGone, this.pool)
    return conn
  }

  /** Connections open now. */
  get connections (): number { return this.conns.size }

  close (): void {
    this.closed = true
    for (const c of this.conns.values()) void c.then(x => { x.close() }, () => {})
    this.conns.clear()
  }
}

/**
 * One TLS context per identity, made once: tls.connect with `cert`/`key` parses both PEMs into a new context on
 * every connect (a customer connects to every edge of its directive, per download).
 */
const contexts = new WeakMap<FastLaneCredentials, tls.SecureContext>()
function secureContextOf (credentials: FastLaneCredentials): tls.SecureContext {
  let c = contexts.get(credentials)
  if (c === undefined) {
    c = tls.createSecureContext({ cert: credentials.cert, key: credentials.key, minVersion: FAST_LANE_TLS.minVersion, maxVersion: FAST_LANE_TLS.maxVersion, ciphers: FAST_LANE_TLS.ciphers })
    contexts.set(credentials, c)
  }
  return c
}
