/**
 * main's optional separate metrics listener (`reelnet main --metrics-port P`): GET /metrics without a token,
 * for a Prometheus that scrapes on a private address, while /metrics on main's public port needs the operator
 * token. (node/server/metrics.ts has the node's own; main/ and node/ never import each other.)
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'

/** Headers must arrive within this, and a whole request within the next: a scrape is one small GET. */
const HEADERS_TIMEOUT_MS = 10_000
const REQUEST_TIMEOUT_MS = 30_000

export interface MetricsListener { url: string, close: () => Promise<void> }

export async function listenMetrics (registry: Registry, opts: { host: string, port: number }): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path !== '/metrics') { res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n'); return }
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { allow: 'GET, HEAD' }).end(); return }
    registry.metrics().then(text => {
      res.writeHead(200, { 'content-type': registry.contentType })
      res.end(req.method === 'HEAD' ? undefined : text)
    }, () => { res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n') })
  })
  server.headersTimeout = HEADERS_TIMEOUT_MS
  server.requestTimeout = REQUEST_TIMEOUT_MS
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve() })
  })
  const { port } = server.address() as AddressInfo
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host
  return {
    url: `http://${host}:${port}/metrics`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}
