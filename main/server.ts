/**
 * Put a main instance on a TCP port with @hono/node-server, and close it
 * gracefully: stop accepting, let requests in flight finish (bounded by
 * CLOSE_GRACE_MS), then close the database.
 */
import { serve, type ServerType } from '@hono/node-server'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createMain, type Main, type MainOptions } from './app.ts'
import { listenMetrics, type MetricsListener } from './metrics-server.ts'

/** In-flight requests get this long to finish on shutdown before their connections are cut. */
export const CLOSE_GRACE_MS = 5_000
/** Idle keep-alive connections are closed after this: bounds sockets held by clients that went quiet. */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000
/** Headers must arrive within this (slowloris). */
export const HEADERS_TIMEOUT_MS = 10_000

export interface RunningMain {
  main: Main
  server: ServerType
  url: string
  host: string
  port: number
  /** The separate metrics listener's URL, when asked for one. */
  metricsUrl?: string
  close: () => Promise<void>
}

/** HTTPS instead of HTTP: a PEM certificate (chain) and its key, as read from the files given. */
export interface TlsFiles { cert: Buffer, key: Buffer }

export async function startMain (opts: MainOptions & { host?: string, port?: number, tls?: TlsFiles, metricsPort?: number, metricsHost?: string }): Promise<RunningMain> {
  const main = await createMain(opts)
  const host = opts.host ?? '127.0.0.1'
  let server: ServerType
  let info: AddressInfo
  try {
    info = await new Promise<AddressInfo>((resolve, reject) => {
      server = opts.tls === undefined
        ? serve({ fetch: main.app.fetch, port: opts.port ?? 0, hostname: host }, resolve)
        : serve({ fetch: main.app.fetch, port: opts.port ?? 0, hostname: host, createServer: createHttpsServer, serverOptions: { cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' } }, resolve)
      server.once('error', reject)
    })
  } catch (err) {
    await main.close()
    throw err
  }
  let metrics: MetricsListener | undefined
  if (opts.metricsPort !== undefined) {
    try {
      metrics = await listenMetrics(main.services.metrics.registry, { host: opts.metricsHost ?? '127.0.0.1', port: opts.metricsPort })
    } catch (err) {
      await new Promise<void>(resolve => server!.close(() => { resolve() }))
      await main.close()
      const e = err as NodeJS.ErrnoException
      throw Object.assign(new Error(e.code === 'EADDRINUSE' ? `metrics port ${opts.metricsPort} is already in use` : `cannot serve metrics: ${e.message}`), { code: e.code === 'EADDRINUSE' ? 'METRICS_EADDRINUSE' : e.code })
    }
  }
  const http = server! as Server
  http.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
  http.headersTimeout = HEADERS_TIMEOUT_MS
  const shownHost = host.includes(':') ? `[${host}]` : host
  let closing: Promise<void> | undefined
  return {
    main,
    server: http,
    url: `${opts.tls === undefined ? 'http' : 'https'}://${shownHost}:${info.port}`,
    host,
    port: info.port,
    metricsUrl: metrics?.url,
    close: async () => {
      closing ??= (async () => {
        await metrics?.close()
        const done = new Promise<void>(resolve => http.close(() => { resolve() }))
        http.closeIdleConnections()
        const timer = setTimeout(() => { http.closeAllConnections() }, CLOSE_GRACE_MS)
        await done
        clearTimeout(timer)
        await main.close()
      })()
      await closing
    }
  }
}
