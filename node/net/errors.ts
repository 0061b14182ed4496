/**
 * The errors node/ throws, each with a stable `name` (and `code` where it
 * travels on the wire). `penaltyFor` is the one place that maps them to
 * how a peer is treated afterwards.
 */

/** The remote refused us (not in the rules, no or bad directive), or we refuse it. */
export class AccessDeniedError extends Error {
  name = 'AccessDeniedError'
  code = 'denied'
}

/** The remote does not hold this chunk and could not fetch it. */
export class ChunkNotFoundError extends Error {
  name = 'ChunkNotFoundError'
  code = 'not_found'
  constructor (message: string, readonly index?: number) { super(message) }
}

/** An error frame from the remote with a code we have no class for. */
export class RemoteError extends Error {
  name = 'RemoteError'
  constructor (message: string, readonly code: string) { super(message) }
}

/** The remote broke the protocol: bad frame, too large, an index not asked for, a premature end. */
export class PeerProtocolError extends Error {
  name = 'PeerProtocolError'
  code = 'protocol_error'
}

/** The server is at its limit of in-flight bytes or streams for this peer. */
export class BusyError extends Error {
  name = 'BusyError'
  code = 'busy'
}

/** A source sent no chunk within its deadline, and its bytes were not moving at the floor rate (node/download/). */
export class StallError extends Error {
  name = 'StallError'
  code = 'stalled'
}

/**
 * The connection to a peer closed or reset under a request: a node restarting, a connection pruned, a network
 * blip. The peer is avoided for a while, never banned (what it sent so far was well-formed).
 */
export class ConnectionLostError extends Error {
  name = 'ConnectionLostError'
  code = 'connection_lost'
}

/** No source (edge, parent, main) could provide a chunk. */
export class NoSourceError extends Error {
  name = 'NoSourceError'
  code = 'no_source'
}

export type Penalty = 'none' | 'retry-later' | 'avoid' | 'ban'

/** How to treat a peer after an error from it. */
export function penaltyFor (err: unknown): Penalty {
  const name = (err as Error | undefined)?.name
  switch (name) {
    case 'ChunkHashMismatchError':
    case 'PeerProtocolError':
      return 'ban'
    case 'AccessDeniedError':
    case 'StallError':
    case 'ConnectionLostError':
      return 'avoid'
    case 'ChunkNotFoundError':
    case 'BusyError':
      return 'retry-later'
    case 'AbortError':
      return 'none'
    default:
      return 'avoid'
  }
}
