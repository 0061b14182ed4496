/**
 * Prometheus metrics, one registry per main instance (so tests and several
 * mains in one process never share counters).
 */
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client'

export interface MainMetrics {
  registry: Registry
  requests: Counter<'method' | 'route' | 'status'>
  latency: Histogram<'method' | 'route'>
  directives: Counter
  loginsFailed: Counter
  nodesUp: Gauge<'region'>
  itemsIngested: Counter
  licensesIssued: Counter
  rulesVersion: Gauge
  nodesRemoved: Counter<'reason'>
  sourceReports: Counter<'outcome'>
  quarantined: Gauge
}

/**
 * How often prom-client samples event-loop delay. Its default (10 ms) wakes an
 * idle main a hundred times a second, which cost a third of a core here; lag
 * finer than 100 ms is not worth that.
 */
export const EVENT_LOOP_PRECISION_MS = 100

export function createMetrics (opts: { upByRegion: () => Map<string, number>, quarantinedCount?: () => number, defaultMetrics?: boolean }): MainMetrics {
  const registry = new Registry()
  if (opts.defaultMetrics === true) collectDefaultMetrics({ register: registry, prefix: 'reelnet_main_', eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS })
  const requests = new Counter({ name: 'reelnet_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry] })
  const latency = new Histogram({
    name: 'reelnet_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry]
  })
  const directives = new Counter({ name: 'reelnet_directives_issued_total', help: 'Signed directives issued', registers: [registry] })
  const loginsFailed = new Counter({ name: 'reelnet_logins_failed_total', help: 'Logins refused for a wrong username or password', registers: [registry] })
  const itemsIngested = new Counter({ name: 'reelnet_items_ingested_total', help: 'Items added to the catalog', registers: [registry] })
  const licensesIssued = new Counter({ name: 'reelnet_licenses_issued_total', help: 'Licenses (rentals) issued', registers: [registry] })
  const rulesVersion = new Gauge({ name: 'reelnet_rules_version', help: 'Version of the current signed rules', registers: [registry] })
  const nodesRemoved = new Counter({ name: 'reelnet_nodes_removed_total', help: 'Nodes taken out of the rules, by an operator or after the silence period', labelNames: ['reason'] as const, registers: [registry] })
  const sourceReports = new Counter({ name: 'reelnet_source_reports_total', help: 'Reports of sources that sent a bad chunk, by outcome', labelNames: ['outcome'] as const, registers: [registry] })
  const quarantined = new Gauge({ name: 'reelnet_sources_quarantined', help: 'Sources (nodes or seeding customers) quarantined after agreeing reports', registers: [registry], collect () { this.set(opts.quarantinedCount?.() ?? 0) } })
  // every label a dashboard graphs starts at 0, so its panel shows a line before the first event
  for (const reason of ['operator', 'silent'] as const) nodesRemoved.inc({ reason }, 0)
  for (const outcome of ['accepted', 'unauthenticated', 'unlicensed', 'rate_limited'] as const) sourceReports.inc({ outcome }, 0)
  const nodesUp = new Gauge({
    name: 'reelnet_nodes_up',
    help: 'Registered nodes that are up and not drained, by region',
    labelNames: ['region'] as const,
    registers: [registry],
    collect () {
      this.reset()
      for (const [region, n] of opts.upByRegion()) this.set({ region }, n)
    }
  })
  return { registry, requests, latency, directives, loginsFailed, nodesUp, itemsIngested, licensesIssued, rulesVersion, nodesRemoved, sourceReports, quarantined }
}
