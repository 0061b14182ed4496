/**
 * A parent's or edge's fast-lane listener, as node/server/run.ts starts it: on the
 * host of the node's first TCP listen address (port `port`, 0 = any),
 * announced at the host its libp2p addresses announce when that host is a
 * wildcard.
 */
import { startFastLaneServer, type FastLaneServer, type FastLaneServerOptions } from './server.ts'
import { formatFastLaneAddr } from './address.ts'

const TCP_ADDR = /^\/(ip4|ip6)\/([^/]+)\/tcp\/\d+(\/p2p\/[^/]+)?$/

/** The host of the first plain TCP multiaddr (not /ws), or undefined. */
export function tcpHostOf (addrs: string[]): string | undefined {
  for (const a of addrs) {
    const m = TCP_ADDR.exec(a)
    if (m !== null) return m[2]
  }
  return undefined
}

export interface NodeLane {
  /** What the node registers as its fastLane. */
  addr: string
  server: FastLaneServer
}

export interface NodeLaneOptions extends Omit<FastLaneServerOptions, 'host' | 'port'> {
  /** The node's libp2p listen addresses (the lane listens on the first TCP one's host). */
  listen: string[]
  /** The node's announced libp2p addresses (the lane's host when it listens on a wildcard). */
  announced: string[]
  port?: number
}

export async function startNodeLane (opts: NodeLaneOptions): Promise<NodeLane> {
  const listenHost = tcpHostOf(opts.listen) ?? '127.0.0.1'
  const server = await startFastLaneServer({ ...opts, host: listenHost, port: opts.port ?? 0 })
  return { addr: formatFastLaneAddr(announceHostFor(listenHost, opts.announced), server.port), server }
}

/** The host to register: the listen host, or on a wildcard the first announced interface others can reach (loopback only if that is all). */
export function announceHostFor (listenHost: string, announced: string[]): string {
  if (listenHost !== '0.0.0.0' && listenHost !== '::') return listenHost
  const concrete = announced.filter(a => !a.includes('/0.0.0.0/') && !a.startsWith('/ip6/::/'))
  const reachable = concrete.filter(a => !a.startsWith('/ip4/127.') && !a.startsWith('/ip6/::1/'))
  return tcpHostOf(reachable) ?? tcpHostOf(concrete) ?? '127.0.0.1'
}
