/**
 * How chunks are fetched from a peer: over its fast lane when it has one
 * (and the lane is on), else — and whenever its fast lane cannot be reached
 * or does not prove the PeerId — over libp2p `/reelnet/chunk/1.0.0`. Both
 * paths hand raw bytes to onChunk; the caller verifies every chunk.
 */
import type { Libp2p } from '@libp2p/interface'
import { fetchChunks, type ChunkFetchOptions, type ChunkFetchRequest } from '../chunk-client.ts'
import type { PeerRef } from '../host.ts'
import { FastLaneClient } from './client.ts'

/** A peer whose fast lane could not be reached is fetched from over libp2p for this long before the lane is tried again. */
export const LANE_RETRY_MS = 30_000
/** Peers remembered as unreachable on the fast lane (forgotten all at once beyond: the cost is one failed connect each). */
export const MAX_UNREACHABLE_TRACKED = 10_000

export interface ChunkPeer extends PeerRef { fastLane?: string }

export interface TransportStats {
  /** Requests answered over each path. */
  fastLane: number
  libp2p: number
  /** Fast-lane connects that failed (the request then went over libp2p). */
  fallbacks: number
}

export interface ChunkTransport {
  readonly stats: TransportStats
  fetch: (peer: ChunkPeer, req: ChunkFetchRequest, opts: ChunkFetchOptions) => Promise<void>
  /** A chunk this transport delivered is referenced nowhere else any more: its buffer may be reused (FastLaneClient.recycle). */
  recycle?: (bytes: Uint8Array) => void
  close: () => void
}

export interface ChunkTransportOptions {
  host: Libp2p
  /** Absent: libp2p only (the fast lane is off). */
  lanes?: FastLaneClient
  log?: (msg: string) => void
  now?: () => number
}

export function createChunkTransport (opts: ChunkTransportOptions): ChunkTransport {
  const now = opts.now ?? Date.now
  const unreachableUntil = new Map<string, number>()
  const stats: TransportStats = { fastLane: 0, libp2p: 0, fallbacks: 0 }
  return {
    stats,
    async fetch (peer, req, o) {
      const lanes = opts.lanes
      if (lanes !== undefined && peer.fastLane !== undefined && (unreachableUntil.get(peer.peerId) ?? 0) <= now()) {
        try {
          await lanes.fetch({ peerId: peer.peerId, fastLane: peer.fastLane }, req, o)
          stats.fastLane++
          return
        } catch (err) {
          if ((err as Error).name !== 'FastLaneUnreachableError') throw err
          stats.fallbacks++
          if (unreachableUntil.size >= MAX_UNREACHABLE_TRACKED) unreachableUntil.clear()
          unreachableUntil.set(peer.peerId, now() + LANE_RETRY_MS)
          opts.log?.(`${(err as Error).message}; using libp2p for ${LANE_RETRY_MS / 1000} s`)
        }
      }
      await fetchChunks(opts.host, peer, req, o)
      stats.libp2p++
    },
    recycle (bytes) { opts.lanes?.recycle(bytes) },
    close () { opts.lanes?.close() }
  }
}
