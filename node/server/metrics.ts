/**
 * A node's Prometheus metrics: one prom-client registry per node holding
 * reelnet's own counters (chunks and bytes served by requester role, fetched
 * by source, cache hits and misses, evictions, verification failures,
 * penalties, store bytes) beside libp2p's (@libp2p/prometheus-metrics is
 * handed the same registry), served as text by `serveMetrics` on
 * `reelnet node --metrics-port P`.
 */
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { Counter, Gauge, Registry } from 'prom-client'

/** Who asked a node for chunks: a region member by its role, or a customer's client. */
export type RequesterRole = 'edge' | 'parent' | 'client'
/** Where a node's fill came from. */
export type FetchSource = 'edge' | 'parent' | 'origin'

export interface NodeMetrics {
  registry: Registry
  chunksServed: Counter<'to'>
  bytesServed: Counter<'to'>
  chunksFetched: Counter<'source'>
  bytesFetched: Counter<'source'>
  cacheHits: Counter
  cacheMisses: Counter
  evictions: Counter
  verificationFailures: Counter<'source'>
  peersPenalised: Counter<'penalty'>
  /** Where the fill-queue gauge reads from (the filler is made after the metrics). */
  setFillQueue: (inFlight: () => number) => void
}

export interface StoreGauges {
  usedBytes: () => number
  capacityBytes: () => number
  chunks: () => number
}

export function createNodeMetrics (store: StoreGauges): NodeMetrics {
  const registry = new Registry()
  const registers = [registry]
  const chunksServed = new Counter({ name: 'reelnet_node_chunks_served_total', help: 'Chunks sent, by the role of the requester', labelNames: ['to'] as const, registers })
  const bytesServed = new Counter({ name: 'reelnet_node_served_bytes_total', help: 'Chunk bytes sent, by the role of the requester', labelNames: ['to'] as const, registers })
  const chunksFetched = new Counter({ name: 'reelnet_node_chunks_fetched_total', help: 'Verified chunks fetched into the store, by source', labelNames: ['source'] as const, registers })
  const bytesFetched = new Counter({ name: 'reelnet_node_fetched_bytes_total', help: 'Verified chunk bytes fetched into the store, by source', labelNames: ['source'] as const, registers })
  const cacheHits = new Counter({ name: 'reelnet_node_cache_hits_total', help: 'Chunk requests answered from the store', registers })
  const cacheMisses = new Counter({ name: 'reelnet_node_cache_misses_total', help: 'Chunk requests that had to be fetched first', registers })
  const evictions = new Counter({ name: 'reelnet_node_evictions_total', help: 'Chunks evicted from the store by the eviction policy', registers })
  const verificationFailures = new Counter({ name: 'reelnet_node_verification_failures_total', help: 'Fetched chunks that did not match the manifest, by source', labelNames: ['source'] as const, registers })
  const peersPenalised = new Counter({ name: 'reelnet_node_peers_penalised_total', help: 'Sources avoided or banned after an error', labelNames: ['penalty'] as const, registers })
  // every label an operator may graph starts at 0, so a panel shows a line before the first chunk moves
  for (const to of ['edge', 'parent', 'client'] as const) { chunksServed.inc({ to }, 0); bytesServed.inc({ to }, 0) }
  for (const source of ['edge', 'parent', 'origin'] as const) { chunksFetched.inc({ source }, 0); bytesFetched.inc({ source }, 0); verificationFailures.inc({ source }, 0) }
  for (const penalty of ['avoid', 'ban'] as const) peersPenalised.inc({ penalty }, 0)
  new Gauge({ name: 'reelnet_node_store_used_bytes', help: 'Bytes held in the chunk store', registers, collect () { this.set(store.usedBytes()) } })
  new Gauge({ name: 'reelnet_node_store_capacity_bytes', help: 'Capacity of the chunk store', registers, collect () { this.set(store.capacityBytes()) } })
  new Gauge({ name: 'reelnet_node_store_chunks', help: 'Chunks held in the chunk store', registers, collect () { this.set(store.chunks()) } })
  let fillQueue: () => number = () => 0
  new Gauge({ name: 'reelnet_node_fill_in_flight', help: 'Chunks being fetched into the store now (the fill queue)', registers, collect () { this.set(fillQueue()) } })
  return { registry, chunksServed, bytesServed, chunksFetched, bytesFetched, cacheHits, cacheMisses, evictions, verificationFailures, peersPenalised, setFillQueue: f => { fillQueue = f } }
}

export interface MetricsServer {
  port: number
  url: string
  /** GET this for the node's status as JSON (404 when the server was started without a status source). */
  statusUrl: string
  close: () => Promise<void>
}

/** Serve `GET /metrics` (Prometheus text) and `GET /status` (JSON) on host:port; anything else is 404, any method but GET/HEAD 405. */
export interface MetricsServeOptions {
  host: string
  port: number
  /** The node's status now, served as JSON at GET /status (computed per request: never a stale snapshot). */
  status?: () => unknown
  /** Serve HTTPS with this PEM certificate (chain) and key instead of plain HTTP (`--metrics-tls-cert/--metrics-tls-key`). */
  tls?: { cert: Buffer, key: Buffer }
}

export async function serveMetrics (registry: Registry, opts: MetricsServeOptions): Promise<MetricsServer> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]
    const status = opts.status
    if (path !== '/metrics' && (path !== '/status' || status === undefined)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: try /metrics${status !== undefined ? ' or /status' : ''}\n`)
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { allow: 'GET, HEAD' }).end(); return }
    if (path === '/status' && status !== undefined) {
      let body: string
      try { body = JSON.stringify(status()) } catch { res.writeHead(500, { 'content-type': 'text/plain' }).end('status unavailable\n'); return }
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(req.method === 'HEAD' ? undefined : body)
      return
    }
    registry.metrics().then(text => {
      res.writeHead(200, { 'content-type': registry.contentType })
      res.end(req.method === 'HEAD' ? undefined : text)
    }, () => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n')
    })
  }
  const server: Server = opts.tls === undefined ? createServer(handler) : createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handler)
  server.headersTimeout = 10_000
  server.requestTimeout = 30_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve() })
  })
  const port = (server.address() as AddressInfo).port
  const shownHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host
  const scheme = opts.tls === undefined ? 'http' : 'https'
  return {
    port,
    url: `${scheme}://${shownHost}:${port}/metrics`,
    statusUrl: `${scheme}://${shownHost}:${port}/status`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}
