/**
 * The libp2p host every reelnet node runs: TCP (and WebSockets, for
 * browsers, when a `/ws` address is among `listen`) + Noise + Yamux, identify,
 * ping, and one Kademlia DHT for its region only (protocol
 * `/reelnet/<region>/kad/1.0.0`), tuned for private and loopback networks
 * (FACTS.md: clientMode false, a peerInfoMapper that keeps private
 * addresses, loopback allowed in the connection manager).
 */
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { ConnectionGater, PeerId, PrivateKey } from '@libp2p/interface'
import { noiseCrypto } from './noise-crypto.ts'

/** Region names travel in protocol ids and DHT prefixes: keep them short and plain. */
export const REGION_RE = /^[a-z0-9][a-z0-9-]{0,31}$/
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0']
/** Many nodes share 127.0.0.1 in tests and the demo; the default per-IP inbound rate limit (5/s) would refuse them. */
export const LOOPBACK_ALLOW = ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128']
/** Enough connections for a region's members plus many customers. */
export const MAX_CONNECTIONS = 512
/** A bootstrap dial that takes longer than this is given up (the peer is down or gated). */
export const BOOTSTRAP_DIAL_TIMEOUT_MS = 5_000

export interface PeerRef { peerId: string, addrs: string[] }

export interface HostOptions {
  privateKey: PrivateKey
  region: string
  listen?: string[]
  gater?: ConnectionGater
  /** Default true. A host without a DHT (e.g. a short-lived probe) only speaks the reelnet protocols. */
  dht?: boolean
  /** libp2p's metrics implementation (a node with --metrics-port hands it @libp2p/prometheus-metrics). */
  metrics?: Libp2pOptions['metrics']
}

export interface HostServices extends Record<string, unknown> {
  identify: Identify
  ping: Ping
  dht: KadDHT
}
export type ReelnetHost = Libp2p<HostServices>

export function dhtProtocol (region: string): string {
  return `/reelnet/${region}/kad/1.0.0`
}

/** Create and start a host. */
export async function createHost (opts: HostOptions): Promise<ReelnetHost> {
  if (!REGION_RE.test(opts.region)) throw new RangeError(`region must match ${REGION_RE.source}, got '${opts.region}'`)
  const services: Record<string, unknown> = {
    identify: identify(),
    ping: ping()
  }
  if (opts.dht !== false) {
    services.dht = kadDHT({
      protocol: dhtProtocol(opts.region),
      clientMode: false,
      peerInfoMapper: passthroughMapper,
      datastorePrefix: `/reelnet/${opts.region}/dht`,
      logPrefix: `reelnet:${opts.region}:dht`,
      metricsPrefix: `reelnet_${opts.region.replaceAll('-', '_')}_dht`
    })
  }
  const node = await createLibp2p({
    privateKey: opts.privateKey,
    addresses: { listen: opts.listen ?? DEFAULT_LISTEN },
    // WebSockets lets the browser player dial; the gater and chunk admission are the same on either transport.
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [yamux()],
    connectionGater: opts.gater,
    metrics: opts.metrics,
    connectionManager: {
      allow: LOOPBACK_ALLOW,
      maxConnections: MAX_CONNECTIONS
    },
    services: services as any
  })
  return node as unknown as ReelnetHost
}

/** The host's listen addresses with `/p2p/<peerId>`, as strings. */
export function listenAddrs (host: Libp2p): string[] {
  return host.getMultiaddrs().map(ma => ma.toString())
}

/** Addresses of a peer without the trailing `/p2p/<id>`, as the rules carry them. */
export function bareAddrs (host: Libp2p): string[] {
  const suffix = `/p2p/${host.peerId.toString()}`
  return listenAddrs(host).map(a => a.endsWith(suffix) ? a.slice(0, -suffix.length) : a)
}

/** Teach the peer store a peer's addresses (so `dialProtocol(peerId)` can find it). */
export async function rememberPeer (host: Libp2p, peer: PeerRef): Promise<PeerId> {
  const id = peerIdFromString(peer.peerId)
  const addrs = []
  for (const a of peer.addrs) {
    try { addrs.push(multiaddr(a)) } catch { /* a malformed address in a document is skipped */ }
  }
  if (addrs.length > 0 && !id.equals(host.peerId)) {
    await host.peerStore.merge(id, { multiaddrs: addrs })
  }
  return id
}

/** Dial each peer (own region only); returns how many are connected. Failures are not errors: peers come and go. */
export async function connectBootstrap (host: Libp2p, peers: PeerRef[], opts: { signal?: AbortSignal } = {}): Promise<number> {
  let connected = 0
  await Promise.all(peers.map(async p => {
    if (p.peerId === host.peerId.toString()) return
    try {
      const id = await rememberPeer(host, p)
      if (host.getConnections(id).length > 0) { connected++; return }
      const signal = AbortSignal.any([AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT_MS), ...(opts.signal !== undefined ? [opts.signal] : [])])
      await host.dial(id, { signal })
      connected++
    } catch { /* unreachable now; the next rules poll retries */ }
  }))
  return connected
}

/** PeerIds currently in the host's DHT routing table (for status and the region-isolation test). */
export function routingTablePeers (host: ReelnetHost): string[] {
  const dht = host.services.dht as unknown as { routingTable?: { kb?: { toIterable?: () => Iterable<{ peerId: PeerId }> } } } | undefined
  const it = dht?.routingTable?.kb?.toIterable?.()
  if (it === undefined) return []
  return [...it].map(p => p.peerId.toString())
}
