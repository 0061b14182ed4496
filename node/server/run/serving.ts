/**
 * Serving chunks as a parent or edge: the chunk source (what the rules let
 * this node hold, filled on a miss), admission by directive, one upload cap
 * and one served count for both paths (libp2p and the fast lane).
 */
import { Bitfield } from '../../../protocol/wire/have.ts'
import type { Manifest } from '../../../protocol/types.ts'
import type { Connection } from '@libp2p/interface'
import { MainHttpError } from '../../control/main-client.ts'
import { mayHold } from '../lifecycle.ts'
import type { Filler } from '../fill.ts'
import type { AccessGater } from '../../net/gater.ts'
import { createAuthorizer } from '../../net/access.ts'
import { bareAddrs, type ReelnetHost } from '../../net/host.ts'
import { serveChunks, type ChunkSource } from '../../net/chunk-server.ts'
import { TokenBucket } from '../../net/token-bucket.ts'
import type { FastLaneCredentials } from '../../net/fast-lane/certificate.ts'
import { startNodeLane, type NodeLane } from '../../net/fast-lane/node-lane.ts'
import type { NodeParts } from './parts.ts'
import type { Teardown } from './teardown.ts'

/** The least time between two rules polls that requests for an item the rules do not list can cause. */
const RULES_CATCH_UP_MS = 250
/** Polls one such request may wait for before it is answered "not here" (about RULES_CATCH_UP_MS apart). */
const RULES_CATCH_UP_TRIES = 3

/** Bytes served, by the requester's role in this node's region ('peer' and 'client' are not members). */
export interface ServedBytes { edge: number, parent: number, peer: number, client: number }

/**
 * What this node serves: chunks of items the rules let it hold, from the store or filled, and have-bitfields of
 * what it holds.
 */
export function createChunkSource (parts: NodeParts, filler: Filler): ChunkSource {
  const { rules, items, store, metrics, holdings, signal } = parts
  // A directive main issued under newer rules can name an item this node's rules do not list yet (ingested since
  // its last poll, or published a moment after the directive): before saying "not here", poll the rules — one poll
  // at a time, at least RULES_CATCH_UP_MS apart, RULES_CATCH_UP_TRIES times at most — so a request for an item the
  // rules really do not list is answered within about a second and cannot make a node hammer main.
  let catchUp: Promise<unknown> | undefined
  let lastCatchUp = 0
  const mayHoldNow = async (itemId: string): Promise<boolean> => {
    for (let attempt = 0; attempt < RULES_CATCH_UP_TRIES; attempt++) {
      if (mayHold(holdings.now(), itemId)) return true
      if (catchUp === undefined) {
        const wait = lastCatchUp + RULES_CATCH_UP_MS - Date.now()
        if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
        if (catchUp === undefined) {
          lastCatchUp = Date.now()
          catchUp = rules.poll({ signal }).finally(() => { catchUp = undefined })
        }
      }
      await catchUp
    }
    return mayHold(holdings.now(), itemId)
  }

  return {
    async getChunk (itemId, index, o) {
      if (!await mayHoldNow(itemId)) return null
      let manifest: Manifest
      try {
        manifest = await items.get(itemId, o)
      } catch (err) {
        if (err instanceof MainHttpError && err.status === 404) return null
        throw err
      }
      if (index >= manifest.chunkCount) return null
      if (store.has(manifest.chunkHashes[index]!)) metrics.cacheHits.inc()
      else metrics.cacheMisses.inc()
      return await filler.get(manifest, index, o.signal)
    },
    async have (itemId) {
      if (!mayHold(holdings.now(), itemId)) return null
      const manifest = items.known(itemId)
      if (manifest === undefined) return null
      const bits = new Bitfield(manifest.chunkCount)
      manifest.chunkHashes.forEach((hash, i) => { if (store.has(hash)) bits.set(i) })
      return bits
    }
  }
}

export interface ServingOptions {
  host: ReelnetHost
  source: ChunkSource
  gater: AccessGater
  /** A peer the rules name and the revocation list does not. */
  isMember: (peerId: string) => boolean
  /** What a peer that broke the framing of the libp2p chunk protocol gets. */
  onMalformed: (connection: Connection, protocol: string, err: Error) => void
  /** Absent: no fast lane (libp2p only). */
  laneCredentials?: FastLaneCredentials
}

export interface Serving {
  served: ServedBytes
  /** Chunk requests being served now: libp2p chunk streams and fast-lane requests. */
  streams: () => number
  /** The fast lane's listener (absent when it is off). */
  lane?: NodeLane
}

/**
 * Admits requesters by directive (gater and authorizer), serves the libp2p chunk protocol, then the fast lane's listener; each pushes its stop onto `teardown` as soon as
 * it runs.
 */
export async function startServing (parts: NodeParts, o: ServingOptions, teardown: Teardown): Promise<Serving> {
  const { opts, rules, metrics, event, log } = parts
  const { gater } = o
  const authorizer = createAuthorizer({
    mainPublicKey: () => parts.mainPublicKey,
    selfPeerId: parts.peerId,
    isMember: o.isMember,
    revocations: parts.revocations,
    onAdmitted: (id, d) => {
      gater.admit(id, d.expiresAt)
      event('info', 'directive accepted', { clientPeerId: id, licenseId: d.licenseId, directiveId: d.directiveId, itemId: d.itemId })
    },
    onRefused: (id, reason) => { log(`refused ${id}: ${reason}`) }
  })
  const served: ServedBytes = { edge: 0, parent: 0, peer: 0, client: 0 }
  let libp2pStreams = 0
  // one upload cap and one served count for both paths
  const uploadLimiter = opts.maxUploadBytesPerSec !== undefined ? new TokenBucket(opts.maxUploadBytesPerSec) : undefined
  const onServed = (remote: string, bytes: number): void => {
    const to = rules.roleOf(remote) ?? 'client'
    served[to] += bytes
    metrics.chunksServed.inc({ to })
    metrics.bytesServed.inc({ to }, bytes)
    event('debug', 'chunk served', { to, peerId: remote, bytes })
  }
  const unserve = await serveChunks(o.host, {
    source: o.source,
    authorize: authorizer.authorize,
    mayAskHave: conn => authorizer.mayAskHave(conn) || (gater.isAdmitted(conn.remotePeer.toString()) && !authorizer.isRevokedPeer(conn.remotePeer.toString())),
    uploadLimiter,
    onServed,
    onMalformed: o.onMalformed,
    onStreams: d => { libp2pStreams += d },
    log
  })
  teardown.push('libp2p chunk server', unserve)

  let lane: NodeLane | undefined
  if (o.laneCredentials !== undefined) {
    lane = await startNodeLane({
      credentials: o.laneCredentials, listen: opts.listen, announced: bareAddrs(o.host), port: opts.fastLanePort,
      source: o.source, authorize: authorizer.authorize, isDenied: id => gater.isDenied(id), uploadLimiter, onServed, log,
      onMalformed: (id, err) => {
        metrics.peersPenalised.inc({ penalty: 'ban' })
        event('warn', 'malformed frame', { peerId: id, protocol: 'fast-lane', err: `${err.name}: ${err.message}` })
        gater.deny(id)
      }
    })
    const server = lane.server
    teardown.push('fast lane', async () => { await server.close() })
    log(`fast lane on ${lane.addr}`)
  }
  return { served, streams: () => libp2pStreams + (lane?.server.requests ?? 0), lane }
}
