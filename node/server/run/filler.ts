/**
 * The node's filler as a parent or edge uses it: fetching a missing chunk
 * from the region's members (revoked ones left out) and main's origin, with
 * its metrics, its events and the reports of bad sources.
 */
import { Filler } from '../fill.ts'
import type { ReelnetHost } from '../../net/host.ts'
import type { ChunkTransport } from '../../net/fast-lane/transport.ts'
import type { Manifest } from '../../../protocol/types.ts'
import { createBadSourceReporter } from './bad-sources.ts'
import type { NodeParts } from './parts.ts'

export interface NodeFillerOptions {
  host: ReelnetHost
  transport: ChunkTransport
  /** Announces an item in the region DHT (an edge does so when it stores a chunk of it). */
  provide: (manifest: Manifest) => Promise<void>
}

export function createNodeFiller (parts: NodeParts, o: NodeFillerOptions): Filler {
  const { opts, rules, revocations, metrics, holdings, event, log, signal } = parts
  const reportBadSource = createBadSourceReporter({ main: parts.main, region: opts.region, signal, log, event })
  const filler = new Filler({
    transport: o.transport,
    host: o.host,
    store: parts.store,
    main: parts.main,
    selfPeerId: parts.peerId,
    role: opts.role,
    regionMembers: () => ({
      parents: (rules.region()?.parents ?? []).filter(n => !revocations.isNodeRevoked(n.peerId)),
      edges: (rules.region()?.edges ?? []).filter(n => !revocations.isNodeRevoked(n.peerId))
    }),
    signal,
    log,
    onStored: m => { if (opts.role === 'edge' && !holdings.provided.has(m.itemId)) void o.provide(m) },
    onFetched: (kind, _id, bytes) => {
      metrics.chunksFetched.inc({ source: kind })
      metrics.bytesFetched.inc({ source: kind }, bytes)
    },
    onSourceFailed: (kind, id, err, penalty, at) => {
      if (err.name === 'ChunkHashMismatchError') metrics.verificationFailures.inc({ source: kind })
      if (err.name === 'ChunkHashMismatchError' && kind !== 'origin' && at !== undefined) reportBadSource(id, at)
      if (penalty === 'ban' || penalty === 'avoid') metrics.peersPenalised.inc({ penalty })
      if (err.name !== 'AbortError') event('warn', 'fill source failed', { source: kind, sourcePeerId: kind === 'origin' ? undefined : id, penalty, err: `${err.name}: ${err.message}` })
    }
  })
  metrics.setFillQueue(() => filler.inFlight)
  return filler
}
