/**
 * Download sources: one per peer a directive names (over its fast lane when
 * it has one and the transport has the lane on, else libp2p), each
 * presenting the current directive as its credential (fetched fresh at every
 * request, so a renewed directive takes effect at once). A peer that answers
 * `not_found` for some chunks is not failing: it lacks them (a customer peer
 * holds part of the item), and the scheduler asks elsewhere.
 */
import type { Libp2p } from '@libp2p/interface'
import { fetchChunks } from '../net/chunk-client.ts'
import type { ChunkTransport } from '../net/fast-lane/transport.ts'
import type { Directive, DirectivePeer } from '../../protocol/types.ts'
import type { DownloadSource, SourceKind } from '../download/source.ts'

export interface SourceContext {
  host: Libp2p
  itemId: string
  /** The directive envelope bytes to present, current at the time of the call. */
  credential: () => Uint8Array
  /** Fast lane with libp2p fallback; absent: libp2p only. */
  transport?: ChunkTransport
}

export function sourceOf (ctx: SourceContext, peer: DirectivePeer): DownloadSource {
  const kind: SourceKind = peer.role
  return {
    id: peer.peerId,
    kind,
    recycle: ctx.transport === undefined ? undefined : bytes => { ctx.transport?.recycle?.(bytes) },
    async fetch (indexes, { signal, onChunk, onBytes }) {
      try {
        const req = { itemId: ctx.itemId, indexes, credential: ctx.credential() }
        if (ctx.transport !== undefined) await ctx.transport.fetch(peer, req, { signal, onChunk, onBytes })
        else await fetchChunks(ctx.host, { peerId: peer.peerId, addrs: peer.addrs }, req, { signal, onChunk, onBytes })
      } catch (err) {
        // lacking some chunks is an answer, not a failure: the undelivered ones become "lacks"
        if ((err as Error).name === 'ChunkNotFoundError') return
        throw err
      }
    }
  }
}

/** Sources for every peer the directive names, except ourselves. */
export function directiveSources (ctx: SourceContext, directive: Directive, selfPeerId: string): DownloadSource[] {
  return directive.peers.filter(p => p.peerId !== selfPeerId).map(p => sourceOf(ctx, p))
}
