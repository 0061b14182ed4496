/**
 * Peer-assist: a customer's client serves the chunks it holds and has
 * verified to other licensed peers of its region, on the same
 * `/reelnet/chunk/1.0.0` and `/reelnet/have/1.0.0` protocols the edges
 * speak. A requester must present an unexpired directive, signed by main,
 * that names it (its Noise-authenticated PeerId), this item, this region and
 * this client among its peers; and nothing is served once this client's own
 * license has expired. Upload is capped when asked.
 */
import type { Libp2p } from '@libp2p/interface'
import { serveChunks, type ServeOptions } from '../net/chunk-server.ts'
import { createAuthorizer } from '../net/access.ts'
import { AccessDeniedError } from '../net/errors.ts'
import { TokenBucket } from '../net/token-bucket.ts'
import { Bitfield } from '../../protocol/wire/have.ts'
import { sha256 } from '../../protocol/chunking.ts'
import { bytesEqual } from '../../protocol/encoding.ts'
import type { PartFile } from './resume.ts'
import { contentKeyOf } from '../../protocol/item-key.ts'
import type { RevocationGuard } from '../control/revocations.ts'

export interface SeederOptions {
  host: Libp2p
  part: PartFile
  region: string
  mainKey: Uint8Array
  /** This client's own license: nothing is served after it. */
  licenseExpiresAt: number
  /** Upload cap, bytes/s (none if absent). */
  maxUpload?: number
  now?: () => number
  onServed?: (peer: string, bytes: number) => void
  onRefused?: (peer: string, reason: string) => void
  /** The signed revocation list this client follows (issue 14b): a requester's revoked licence or account is refused. */
  revocations?: RevocationGuard
  /** Why this client's own licence may no longer be served (revoked, or unconfirmed past the offline grace), else undefined. */
  ownRefusal?: () => string | undefined
}

export interface Seeder {
  readonly servedBytes: number
  stop: () => Promise<void>
  /** What it serves, whom it admits, its upload cap and count: the customer's fast lane serves with the very same (issue 17). */
  readonly served: ServeOptions
}

export async function startSeeding (opts: SeederOptions): Promise<Seeder> {
  const now = opts.now ?? Date.now
  const manifest = opts.part.manifest
  // requests name the version's wire key (issue 15): itemId for version 1, itemId@N after a replace
  const key = contentKeyOf(manifest.itemId, manifest.version)
  const selfPeerId = opts.host.peerId.toString()
  const licenseValid = (): boolean => now() < opts.licenseExpiresAt && opts.ownRefusal?.() === undefined
  const { authorize, mayAskHave } = createAuthorizer({
    mainPublicKey: () => opts.mainKey,
    selfPeerId,
    isMember: () => false,
    now,
    revocations: opts.revocations,
    extraCheck: d => {
      const own = opts.ownRefusal?.()
      if (own !== undefined) throw new AccessDeniedError(`this peer no longer serves the item: ${own}`)
      if (!licenseValid()) throw new AccessDeniedError('this peer\'s license has expired: it no longer serves the item')
      if (d.region !== opts.region) throw new AccessDeniedError(`the directive is for region ${d.region}, this peer serves ${opts.region}`)
    },
    onRefused: opts.onRefused
  })
  let servedBytes = 0
  const served: ServeOptions = {
    source: {
      async getChunk (itemId, index) {
        if (!licenseValid()) throw new AccessDeniedError(opts.ownRefusal?.() ?? 'this peer\'s license has expired')
        if (itemId !== key || index < 0 || index >= manifest.chunkCount || !opts.part.has(index)) return null
        const bytes = await opts.part.readChunk(index)
        // verified before it was written; checked again before it is passed on (a disk can rot)
        if (!bytesEqual(sha256(bytes), manifest.chunkHashes[index] as Uint8Array)) return null
        return bytes
      },
      async have (itemId) {
        if (itemId !== key || !licenseValid()) return null
        const bits = new Bitfield(manifest.chunkCount)
        for (let i = 0; i < manifest.chunkCount; i++) if (opts.part.has(i)) bits.set(i)
        return bits
      }
    },
    authorize,
    mayAskHave,
    uploadLimiter: opts.maxUpload !== undefined && opts.maxUpload > 0 ? new TokenBucket(opts.maxUpload) : undefined,
    onServed: (peer, bytes) => { servedBytes += bytes; opts.onServed?.(peer, bytes) },
    // a peer that breaks the framing gets no more of this seeder's time
    onMalformed: (connection, protocol, err) => {
      opts.onRefused?.(connection.remotePeer.toString(), `malformed frame on ${protocol}: ${err.message}`)
      void connection.close().catch(() => { connection.abort(err) })
    }
  }
  const unhandle = await serveChunks(opts.host, served)
  return {
    get servedBytes () { return servedBytes },
    stop: unhandle,
    served
  }
}
