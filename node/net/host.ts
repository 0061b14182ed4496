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
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, ConnectionGater, PeerId, PrivateKey, StreamMiddleware } from '@libp2p/interface'
import { noiseCrypto } from './noise-crypto.ts'
import { lengthPrefixGuard, type FrameViolation } from './frame-guard.ts'

/** Region names travel in protocol ids and DHT prefixes: keep them short and plain. */
export const REGION_RE = /^[a-z0-9][a-z0-9-]{0,31}$/
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0']
/** Many nodes share 127.0.0.1 in tests and the demo; the default per-IP inbound rate limit (5/s) would refuse them. */
export const LOOPBACK_ALLOW = ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128']
/** Enough connections for a region's members plus many customers. */
export const MAX_CONNECTIONS = 512
/** A bootstrap dial that takes longer than this is given up (the peer is down or gated). */
export const BOOTSTRAP_DIAL_TIMEOUT_MS = 5_000
/** identify's protocol id (libp2p's default prefix) and its own message limit (@libp2p/identify MAX_IDENTIFY_MESSAGE_SIZE). */
export const IDENTIFY_PROTOCOL = '/ipfs/id/1.0.0'
export const IDENTIFY_MAX_MESSAGE_BYTES = 8 * 1024
/** A region DHT message larger than this is refused: the DHT's reader buffers at most 4 MiB anyway (lpStream's default). */
export const DHT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024

export interface PeerRef { peerId: string, addrs: string[] }

export interface HostOptions {
  privateKey: PrivateKey
  region: string
  listen?: string[]
  gater?: ConnectionGater
  /** Default true. A host without a DHT (e.g. a short-lived probe) only speaks the reelnet protocols. */
  dht?: boolean
  /**
   * Run the region DHT as a client: it may look up and announce, but does not answer DHT queries, so other
   * members never put it in their routing tables or route walks through it. For customers, who come and go and
   * are often unreachable; parents and edges are servers (default false).
   */
  dhtClient?: boolean
  /** Which listen addresses (as strings) peers are told about; default: all. */
  announce?: (addrs: string[]) => string[]
  /** libp2p's metrics implementation (a node with --metrics-port hands it @libp2p/prometheus-metrics). */
  metrics?: Libp2pOptions['metrics']
  /**
   * A peer broke the framing of identify or the region DHT (see frame-guard.ts): its stream is already reset.
   * Default: hang up on it. A node also denies a stranger at its gater.
   */
  onMalformedFrame?: (connection: Connection, protocol: string, err: FrameViolation) => void
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
      clientMode: opts.dhtClient === true,
      peerInfoMapper: passthroughMapper,
      datastorePrefix: `/reelnet/${opts.region}/dht`,
      logPrefix: `reelnet:${opts.region}:dht`,
      metricsPrefix: `reelnet_${opts.region.replaceAll('-', '_')}_dht`
    })
  }
  const node = await createLibp2p({
    privateKey: opts.privateKey,
    addresses: { listen: opts.listen ?? DEFAULT_LISTEN, ...(opts.announce === undefined ? {} : { announceFilter: announceFilterOf(opts.announce) }) },
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
  copyMiddlewarePerStream(node)
  const onMalformed = opts.onMalformedFrame ?? ((connection: Connection, _protocol: string, err: FrameViolation) => { void connection.close().catch(() => { connection.abort(err) }) })
  addStreamMiddleware(node, IDENTIFY_PROTOCOL, lengthPrefixGuard(IDENTIFY_MAX_MESSAGE_BYTES, onMalformed))
  if (opts.dht !== false) addStreamMiddleware(node, dhtProtocol(opts.region), lengthPrefixGuard(DHT_MAX_MESSAGE_BYTES, onMalformed))
  return node as unknown as ReelnetHost
}

/**
 * libp2p 3.3's connection appends the protocol handler to the array the registrar keeps for the protocol's
 * middleware, once per inbound stream (connection.js onIncomingStream: `getMiddleware(p).push(handler)`): with any
 * middleware registered, the array grows by one closure per stream for the life of the node, and every later
 * inbound stream runs all the earlier handlers on itself too. Handing out a copy keeps the registered array as set.
 */
function copyMiddlewarePerStream (node: Libp2p): void {
  const registrar = (node as unknown as { components?: { registrar?: { getMiddleware?: (p: string) => StreamMiddleware[] } } }).components?.registrar
  const get = registrar?.getMiddleware
  if (registrar === undefined || typeof get !== 'function') throw new Error('libp2p registrar has no getMiddleware: check copyMiddlewarePerStream against this libp2p version')
  registrar.getMiddleware = (p: string) => [...get.call(registrar, p)]
}

const middlewareOf = new WeakMap<Libp2p, Map<string, StreamMiddleware[]>>()

/**
 * Add `mw` to the middleware of `protocol` (libp2p's `use` replaces what was there); returns a function that
 * removes it again. Middleware runs in the order added.
 */
export function addStreamMiddleware (host: Libp2p, protocol: string, mw: StreamMiddleware): () => void {
  let byProtocol = middlewareOf.get(host)
  if (byProtocol === undefined) { byProtocol = new Map(); middlewareOf.set(host, byProtocol) }
  const list = [...(byProtocol.get(protocol) ?? []), mw]
  byProtocol.set(protocol, list)
  host.use(protocol, [...list])
  return () => {
    const now = (byProtocol.get(protocol) ?? []).filter(m => m !== mw)
    byProtocol.set(protocol, now)
    if (now.length > 0) host.use(protocol, [...now])
    else host.unuse(protocol)
  }
}

function announceFilterOf (announce: (addrs: string[]) => string[]): (mas: Multiaddr[]) => Multiaddr[] {
  return mas => { const keep = new Set(announce(mas.map(ma => ma.toString()))); return mas.filter(ma => keep.has(ma.toString())) }
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
