/**
 * The asking side of `/reelnet/have/1.0.0`: which chunks of an item a peer
 * holds. The request carries no credential: a customer's peer is admitted
 * on the connection by the directive it presented on the chunk protocol
 * (or by main's heartbeat answer), region members by the rules.
 */
import type { Libp2p } from '@libp2p/interface'
import { Bitfield, decodeHaveResponse, encodeHaveRequest, HAVE_PROTOCOL } from '../../protocol/wire/have.ts'
import { MAX_HAVE_RESPONSE_BYTES } from '../../protocol/wire/limits.ts'
import { PeerProtocolError } from './errors.ts'
import { openStream } from './chunk-client.ts'
import type { PeerRef } from './host.ts'
import { boundedLpStream } from './length-prefixed.ts'

export { HAVE_PROTOCOL, Bitfield }

/** A have exchange is one small round trip; longer than this and the peer is not worth asking. */
export const HAVE_TIMEOUT_MS = 5_000

/** The peer's bitfield for the item, or null when it holds nothing of it. */
export async function fetchHave (host: Libp2p, peer: PeerRef, req: { itemId: string }, opts: { signal: AbortSignal }): Promise<Bitfield | null> {
  const signal = AbortSignal.any([opts.signal, AbortSignal.timeout(HAVE_TIMEOUT_MS)])
  const stream = await openStream(host, peer, HAVE_PROTOCOL, signal)
  const lp = boundedLpStream(stream, { maxDataLength: MAX_HAVE_RESPONSE_BYTES, maxBufferSize: 2 * MAX_HAVE_RESPONSE_BYTES })
  try {
    await lp.write(encodeHaveRequest(req), { signal })
    await stream.close({ signal }).catch(() => {})
    let res
    try {
      res = decodeHaveResponse(await lp.read({ signal }))
    } catch (err) {
      signal.throwIfAborted()
      throw new PeerProtocolError(`bad have response: ${(err as Error).message}`)
    }
    if (res.itemId !== req.itemId) throw new PeerProtocolError(`have response for ${res.itemId}, asked for ${req.itemId}`)
    return res.chunkCount === 0 ? null : res.bitfield
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}
