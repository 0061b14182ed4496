/**
 * The serving side of the fast lane (DESIGN "Data plane"): a TLS 1.3
 * listener on parents, edges and seeding customers. The client presents a
 * libp2p certificate; its PeerId goes through the same Authorize as on
 * `/reelnet/chunk/1.0.0` (node/net/access.ts: a rules member, or an unexpired
 * directive naming it, the item and this node). Requests are
 * protocol/wire/fast-lane.ts frames, several in flight per connection, each
 * answered like a chunk stream: data frames in the order asked (with a
 * lookahead, under a node-wide in-flight byte budget), typed error frames,
 * an end frame.
 *
 * The libp2p path's limits hold here too: frames bounded before they are
 * buffered, requests in flight per peer (beyond: `busy`), connections per
 * peer and in all, a handshake deadline, a whole request frame within
 * REQUEST_TIMEOUT_MS of its first byte (slowloris), a stranger that is not
 * admitted for some item within REQUEST_TIMEOUT_MS of connecting is cut off
 * (and at its first refusal), a reader that stops reading is dropped after
 * SEND_STALL_TIMEOUT_MS, a denied peer is hung up on after the handshake.
 */
import tls, { type TLSSocket } from 'node:tls'
import type { AddressInfo } from 'node:net'
import type { Connection, PeerId } from '@libp2p/interface'
import {
  decodeFastLaneRequest, encodeFastLaneDataHeader, encodeFastLaneFrame, FAST_LANE_ALPN, MAX_FAST_LANE_REQUEST_BYTES
} from '../../../protocol/wire/fast-lane.ts'
import type { ChunkErrorCode, ChunkRequest } from '../../../protocol/wire/chunk.ts'
import { isFramingError } from '../length-prefixed.ts'
import type { Authorize } from '../access.ts'
import type { TokenBucket } from '../token-bucket.ts'
import {
  ByteBudget, DEFAULT_MAX_IN_FLIGHT_BYTES, MAX_STREAMS_PER_PEER, REQUEST_TIMEOUT_MS, SEND_STALL_TIMEOUT_MS,
  chunkErrorCodeOf, sendInOrder, type ChunkSource
} from '../chunk-server.ts'
import { remotePeerOf, type FastLaneCredentials } from './certificate.ts'
import { FAST_LANE_TLS, HANDSHAKE_TIMEOUT_MS } from './tls-options.ts'
import { FrameAssembler } from './frame-assembler.ts'
import { chunkReadBuffers } from '../chunk-buffers.ts'

/** Fast-lane connections one PeerId may hold at once: a client needs one; a few allow reconnects to overlap. */
export const MAX_CONNECTIONS_PER_PEER = 4
/** Fast-lane connections in all: the same bound as the libp2p host's (node/net/host.ts MAX_CONNECTIONS). */
export const MAX_FAST_LANE_CONNECTIONS = 512
/** A connection with no request in flight for this long is closed (the client reconnects when it needs to). */
export const IDLE_TIMEOUT_MS = 60_000
/**
 * Requests a peer may keep waiting beyond its in-flight limit (each answered `busy`) before the connection is
 * cut: a client that ignores `busy` is flooding.
 */
export const MAX_BUSY_ANSWERS_IN_A_ROW = 64

export interface FastLaneServerOptions {
  credentials: FastLaneCredentials
  /** Address to listen on (an IPv4 or IPv6 literal). */
  host: string
  /** 0: any free port. */
  port: number
  source: ChunkSource
  authorize: Authorize
  /** A peer refused at the libp2p gater is refused here too. */
  isDenied?: (peerId: string) => boolean
  uploadLimiter?: TokenBucket
  maxStreamsPerPeer?: number
  maxInFlightBytes?: number
  /** Default REQUEST_TIMEOUT_MS (tests shorten it). */
  requestTimeoutMs?: number
  onServed?: (remotePeer: string, bytes: number) => void
  /** The remote broke the framing (its connection is already cut): penalise it like on libp2p. */
  onMalformed?: (remotePeer: string, err: Error) => void
  log?: (msg: string) => void
}

export interface FastLaneServer {
  readonly host: string
  readonly port: number
  /** Open (handshaken) connections now. */
  readonly connections: number
  /** Requests being answered now. */
  readonly requests: number
  close: () => Promise<void>
}

/**
 * Authorize reads only `remotePeer` of the connection it is handed and keys its per-connection cache on the
 * object: one such object per TLS connection gives the fast lane the very same admission as libp2p.
 */
function admissionSubject (peer: PeerId): Connection {
  return { remotePeer: peer } as unknown as Connection
}

export async function startFastLaneServer (opts: FastLaneServerOptions): Promise<FastLaneServer> {
  const maxPerPeer = opts.maxStreamsPerPeer ?? MAX_STREAMS_PER_PEER
  const requestTimeoutMs = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
  const budget = new ByteBudget(opts.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT_BYTES)
  const requestsOf = new Map<string, number>()
  const connectionsOf = new Map<string, number>()
  const sockets = new Set<TLSSocket>()
  let open = 0
  let answering = 0

  const server = tls.createServer({
    ...FAST_LANE_TLS,
    cert: opts.credentials.cert,
    key: opts.credentials.key,
    requestCert: true,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS
  })
  server.maxConnections = MAX_FAST_LANE_CONNECTIONS
  // every TCP connection, handshaken or not, so close() never waits out a handshake deadline
  const raw = new Set<import('node:net').Socket>()
  server.on('connection', (s: import('node:net').Socket) => { raw.add(s); s.once('close', () => { raw.delete(s) }) })
  // a failed handshake (TLS < 1.3, no ALPN overlap, garbage) only ever concerns that socket
  server.on('tlsClientError', (err, socket) => { opts.log?.(`fast lane: handshake refused: ${err.message}`); socket.destroy() })
  server.on('secureConnection', socket => {
    sockets.add(socket)
    socket.once('close', () => { sockets.delete(socket) })
    socket.on('error', () => {})
    void admit(socket)
  })

  async function admit (socket: TLSSocket): Promise<void> {
    if (socket.alpnProtocol !== FAST_LANE_ALPN) { socket.destroy(); return }
    let peer: PeerId
    try {
      peer = await remotePeerOf(socket)
    } catch (err) {
      opts.log?.(`fast lane: ${(err as Error).message}`)
      socket.destroy()
      return
    }
    const remote = peer.toString()
    if (opts.isDenied?.(remote) === true || socket.destroyed) { socket.destroy(); return }
    const conns = (connectionsOf.get(remote) ?? 0) + 1
    if (conns > MAX_CONNECTIONS_PER_PEER) { socket.destroy(); return }
    connectionsOf.set(remote, conns)
    open++
    socket.once('close', () => {
      open--
      const n = (connectionsOf.get(remote) ?? 1) - 1
      if (n <= 0) connectionsOf.delete(remote)
      else connectionsOf.set(remote, n)
    })
    serveConnection(socket, peer, remote)
  }

  function serveConnection (socket: TLSSocket, peer: PeerId, remote: string): void {
    socket.setNoDelay(true)
    const subject = admissionSubject(peer)
    const ctl = new AbortController()
    const inFlight = new Set<number>()
    let admitted = false
    let busyInARow = 0
    const cut = (why: Error): void => {
      if (!ctl.signal.aborted) ctl.abort(why)
      socket.destroy()
    }
    socket.once('close', () => { if (!ctl.signal.aborted) ctl.abort(new Error('connection closed')) })

    // a stranger gets REQUEST_TIMEOUT_MS to be admitted for something
    const strangerTimer = setTimeout(() => { if (!admitted) cut(new Error('not admitted in time')) }, requestTimeoutMs)
    strangerTimer.unref()
    socket.setTimeout(IDLE_TIMEOUT_MS, () => { if (inFlight.size === 0) cut(new Error('idle')) })
    let frameTimer: ReturnType<typeof setTimeout> | undefined
    ctl.signal.addEventListener('abort', () => { clearTimeout(strangerTimer); clearTimeout(frameTimer) }, { once: true })

    // ---- writing: whole frames only, one write at a time; a reader that stops reading is dropped ----
    // One write in flight, the next only after its callback: net.Socket hands writes that queue up behind a
    // pending one to TLS as a writev, and TLS copies a writev's buffers into one new buffer before it
    // encrypts (a 1 MiB allocation and copy per chunk, a quarter of a warm edge's CPU). A data frame is one
    // buffer when its chunk came from the store's pool (the header goes into the pool's headroom), else
    // two writes. The callback fires once TLS has encrypted the bytes and the kernel took them all: a
    // reader that stops reading leaves it pending, and after SEND_STALL_TIMEOUT_MS it is cut off.
    let tail: Promise<void> = Promise.resolve()
    async function write (...parts: Uint8Array[]): Promise<void> {
      const mine = tail.then(async () => { for (const p of parts) await writeOne(p) })
      tail = mine.catch(() => {})
      await mine
    }
    async function writeOne (buf: Uint8Array): Promise<void> {
      ctl.signal.throwIfAborted()
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          const err = new Error(`send blocked for ${SEND_STALL_TIMEOUT_MS} ms`)
          cut(err)
          reject(err)
        }, SEND_STALL_TIMEOUT_MS)
        socket.write(buf, err => {
          clearTimeout(timer)
          if (err === null || err === undefined) resolve(); else reject(err)
        })
      })
    }
    const sendError = async (id: number, code: ChunkErrorCode, message: string, index?: number): Promise<void> => {
      await write(encodeFastLaneFrame(id, { type: 'error', code, message, index }))
    }

    // ---- reading: bounded frames, each request frame whole within REQUEST_TIMEOUT_MS --------------
    const assembler = new FrameAssembler(MAX_FAST_LANE_REQUEST_BYTES, body => { onRequest(body) })
    socket.on('data', (piece: Buffer) => {
      try {
        assembler.feed(piece)
      } catch (err) {
        if (isFramingError(err)) opts.onMalformed?.(remote, err as Error)
        cut(err as Error)
        return
      }
      if (assembler.midFrame && frameTimer === undefined) {
        frameTimer = setTimeout(() => { cut(new Error(`request frame not complete within ${requestTimeoutMs} ms`)) }, requestTimeoutMs)
      } else if (!assembler.midFrame && frameTimer !== undefined) {
        clearTimeout(frameTimer)
        frameTimer = undefined
      }
    })

    function onRequest (body: Uint8Array): void {
      let requestId: number
      let request: ChunkRequest
      try {
        ({ requestId, request } = decodeFastLaneRequest(body))
      } catch (err) {
        // no request id to answer under: the sender broke the protocol
        opts.onMalformed?.(remote, err as Error)
        throw err
      }
      if (inFlight.has(requestId)) throw Object.assign(new Error(`request id ${requestId} already in flight`), { name: 'MalformedError' })
      const count = (requestsOf.get(remote) ?? 0) + 1
      if (count > maxPerPeer) {
        if (++busyInARow > MAX_BUSY_ANSWERS_IN_A_ROW) throw new Error('keeps asking beyond its limit')
        void sendError(requestId, 'busy', `more than ${maxPerPeer} chunk requests in flight from one peer`).catch(() => {})
        return
      }
      busyInARow = 0
      requestsOf.set(remote, count)
      inFlight.add(requestId)
      answering++
      void answer(requestId, request).finally(() => {
        answering--
        inFlight.delete(requestId)
        const n = (requestsOf.get(remote) ?? 1) - 1
        if (n <= 0) requestsOf.delete(remote)
        else requestsOf.set(remote, n)
      })
    }

    async function answer (id: number, req: ChunkRequest): Promise<void> {
      try {
        try {
          await opts.authorize({ connection: subject, itemId: req.itemId, credential: req.credential })
        } catch (err) {
          await sendError(id, chunkErrorCodeOf(err), (err as Error).message)
          // a stranger is cut off at its first refusal (after the answer is out); an admitted peer may just have
          // asked for an item its directive does not name
          if (!admitted) { socket.end(); setTimeout(() => { socket.destroy() }, 1_000).unref() }
          return
        }
        admitted = true
        await sendChunks(id, req.itemId, req.indexes)
        await write(encodeFastLaneFrame(id, { type: 'end' }))
      } catch (err) {
        if (!ctl.signal.aborted) opts.log?.(`fast lane: request from ${remote} failed: ${(err as Error).name}: ${(err as Error).message}`)
      }
    }

    async function sendChunks (id: number, itemId: string, indexes: number[]): Promise<void> {
      await sendInOrder({ source: opts.source, budget, uploadLimiter: opts.uploadLimiter, itemId, indexes, signal: ctl.signal }, {
        data: async (index, bytes) => {
          const header = encodeFastLaneDataHeader(id, index, bytes.length)
          const whole = chunkReadBuffers.withHeader(bytes, header)
          try {
            if (whole !== null) await write(whole)
            else await write(header, bytes)
          } finally {
            // written (or never to be): the store's buffer may be read into again
            chunkReadBuffers.recycle(bytes)
          }
          opts.onServed?.(remote, bytes.length)
        },
        error: async (code, message, index) => { await sendError(id, code, message, index) }
      })
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve() })
  })
  server.on('error', err => { opts.log?.(`fast lane: ${err.message}`) })
  const port = (server.address() as AddressInfo).port
  return {
    host: opts.host,
    port,
    get connections () { return open },
    get requests () { return answering },
    async close () {
      const closed = new Promise<void>(resolve => { server.close(() => { resolve() }) })
      for (const s of sockets) s.destroy()
      for (const s of raw) s.destroy()
      await closed
    }
  }
}
