/**
 * `createMain(options)`: one main instance — its stores, services and the
 * Hono app with one sub-app per resource under /v1. Tests drive `app.request()`;
 * main/server.ts puts it on a port.
 */
import { mkdir } from 'node:fs/promises'
import { Hono, type MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { routePath } from 'hono/route'
import type { Signer } from '../protocol/keys.ts'
import { DEFAULT_CHUNK_SIZE } from '../protocol/chunking.ts'
import { openStore, type MainStore } from './store.ts'
import { loadOrCreateSigner } from './signing-key.ts'
import { resolveTokens, type Tokens } from './tokens.ts'
import { PasswordHasher, type ScryptParams } from './passwords.ts'
import { Accounts, DEFAULT_LOGIN_LIMITS, type LoginLimits } from './accounts.ts'
import { OriginStore } from './origin.ts'
import { Catalog } from './catalog.ts'
import { Licenses } from './licenses.ts'
import { Registry } from './registry.ts'
import { RulesPublisher, AUTO_PREPOSITION_TOP_N, AUTO_PREPOSITION_MIN_REQUESTS } from './rules.ts'
import { Directives } from './directives.ts'
import { createMetrics } from './metrics.ts'
import { toErrorResponse, tooLarge } from './errors.ts'
import { requireOperator, type MainEnv } from './auth.ts'
import type { MainServices } from './services.ts'
import type { TrustedProxies } from './client-address.ts'
import { accountRoutes } from './routes/accounts.ts'
import { itemRoutes } from './routes/items.ts'
import { rentalRoutes } from './routes/rentals.ts'
import { directiveRoutes } from './routes/directives.ts'
import { nodeRoutes } from './routes/nodes.ts'
import { ruleRoutes } from './routes/rules.ts'
import { operatorPage, operatorScript, OPERATOR_PAGE_CSP } from './page.ts'
import { operatorRoutes } from './routes/operator.ts'
import { storefrontRoutes } from './storefront/routes.tsx'
import { NodeTokens, OperatorActivity } from './operator.ts'
import { DeviceSlots } from './devices.ts'
import { DEFAULT_NODE_REMOVAL_MS, nodeSweepIntervalMs, removeSilentNodes } from './node-removal.ts'
import { Reports } from './reports.ts'
import { wireLifecycle, VERSION_COLLECT_MS } from './lifecycle.ts'
import { reportRoutes } from './routes/reports.ts'
import { Revocations, REVOCATIONS_TTL_MS } from './revocations.ts'
import { revocationRoutes } from './routes/revocations.ts'
import {
  DEFAULT_DIRECTIVE_TTL_MS, DEFAULT_HEARTBEAT_TIMEOUT_MS, DEFAULT_RENTAL_MS, MAX_HEARTBEAT_BODY_BYTES, MAX_JSON_BODY_BYTES, RULES_TTL_MS
} from './limits.ts'

/** How often main checks whether the rules need re-signing before they expire. */
export const RULES_REFRESH_CHECK_MS = 60_000

/** How often main re-plans prepositioning from demand (a new rules version only when a list changes). */
export const PREPOSITION_PLAN_INTERVAL_MS = 5 * 60_000

export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void

export interface MainOptions {
  dataDir: string
  /** A postgres:// URL to keep state in PostgreSQL (shared by several mains); default the level database in DATA/db. */
  db?: string
  adminToken?: string
  operatorToken?: string
  rentalMs?: number
  heartbeatTimeoutMs?: number
  directiveTtlMs?: number
  rulesTtlMs?: number
  chunkSize?: number
  /** Largest item ingest accepts (default MAX_ITEM_BYTES). */
  maxItemBytes?: number
  /** Encrypt every ingest that does not say otherwise (`reelnet main --encrypt`; issue 14). */
  encryptItems?: boolean
  /** What licences state as their offline grace (default DEFAULT_OFFLINE_GRACE_MS). */
  offlineGraceMs?: number
  /** Password hashing cost; OWASP's by default. Tests lower it to stay fast. */
  scrypt?: ScryptParams
  loginLimits?: LoginLimits
  /** The clock (ms since epoch); tests pass a fake one. */
  now?: () => number
  log?: LogFn
  /** Re-plan prepositioning from demand this often; 0 turns automatic prepositioning off. */
  prepositionPlanIntervalMs?: number
  /** Add prom-client's process metrics (CPU, memory, event loop) to /metrics. */
  processMetrics?: boolean
  /** Take the signing key from this file (`reelnet keygen`'s format) instead of DATA/main-key.json. */
  keyFile?: string
  /** A node silent this long leaves the rules (default DEFAULT_NODE_REMOVAL_MS, a week). */
  nodeRemovalMs?: number
  /** Lifetime of each signed revocation list (default REVOCATIONS_TTL_MS); re-signed at half of it. */
  revocationsTtlMs?: number
  /** Take the client's address for sign-up and log-in limits from X-Forwarded-For when the peer is one of these (`--trusted-proxy`). */
  trustedProxies?: TrustedProxies
}

export interface Main {
  app: Hono<MainEnv>
  services: MainServices
  tokens: Tokens
  signer: Signer
  /** True if this start generated the signing key. */
  keyCreated: boolean
  store: MainStore
  close: () => Promise<void>
}

export async function createMain (opts: MainOptions): Promise<Main> {
  const now = opts.now ?? Date.now
  const activity = new OperatorActivity(now)
  const given: LogFn = opts.log ?? (() => {})
  // warnings and errors also go to the operator page's "recent errors"
  const log: LogFn = (level, msg, extra) => {
    if (level === 'warn' || level === 'error') activity.recordError(level, extra?.err !== undefined ? `${msg}: ${String(extra.err).split('\n')[0]}` : msg)
    given(level, msg, extra)
  }
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 })
  const { signer, created: keyCreated } = await loadOrCreateSigner(opts.dataDir, opts.keyFile)
  const tokens = await resolveTokens(opts.dataDir, { adminToken: opts.adminToken, operatorToken: opts.operatorToken })
  const store = await openStore(opts.dataDir, opts.db)
  let directives: Directives | undefined
  try {
    const origin = new OriginStore(opts.dataDir)
    await origin.init()
    const accounts = new Accounts(store, new PasswordHasher(opts.scrypt), now, opts.loginLimits ?? DEFAULT_LOGIN_LIMITS)
    const catalog = new Catalog(store, origin, signer, now, opts.maxItemBytes, opts.encryptItems === true)
    await catalog.load()
    const licenses = new Licenses(store, signer, now, opts.rentalMs ?? DEFAULT_RENTAL_MS, opts.offlineGraceMs)
    const registry = new Registry(store, now, opts.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS)
    await registry.load()
    const rules = new RulesPublisher(store, registry, signer, now, opts.chunkSize ?? DEFAULT_CHUNK_SIZE, opts.rulesTtlMs ?? RULES_TTL_MS)
    registry.onRulesChange = async () => { await rules.publish() }
    const reports = new Reports(store, now)
    await reports.load()
    const metrics = createMetrics({ upByRegion: () => registry.upCountByRegion(), quarantinedCount: () => reports.quarantined().length, defaultMetrics: opts.processMetrics })
    rules.onPublish = (state) => { metrics.rulesVersion.set(state.version) }
    wireLifecycle(catalog, rules, now)
    await rules.load()
    directives = new Directives(store, registry, rules, signer, now, opts.directiveTtlMs ?? DEFAULT_DIRECTIVE_TTL_MS)
    await directives.load()
    directives.excluded = { has: id => reports.isQuarantined(id), get generation () { return reports.generation } }
    reports.onQuarantine = (e) => { log('warn', 'source quarantined after agreeing reports', { peerId: e.peerId, role: e.role, region: e.region, reporters: e.reporters.length }) }
    directives.onIssued = (d) => {
      metrics.directives.inc()
      activity.recordDirective()
      log('info', 'directive issued', { directiveId: d.directiveId, licenseId: d.licenseId, itemId: d.itemId, clientPeerId: d.clientPeerId, region: d.region, peers: d.peers.map(p => `${p.role}:${p.peerId}`) })
    }
    const revocations = new Revocations(store, signer, now, () => reports.quarantined().map(e => e.peerId), opts.revocationsTtlMs ?? REVOCATIONS_TTL_MS)
    await revocations.load()
    accounts.revoked = { session: id => revocations.isSessionRevoked(id), account: id => revocations.isAccountRevoked(id) }
    reports.onChange = () => { revocations.nodesChanged().catch(err => { log('error', 'publishing the revocation list failed', { err: String(err) }) }) }
    revocations.onPublish = (state, list) => { log('info', 'revocation list published', { version: state.version, licenses: list.licenses.length, accounts: list.accounts.length, nodes: list.nodes.length }) }
    directives.onFlushError = (err) => { log('error', 'writing admissions failed; will retry', { err: String(err) }) }
    reports.onFlushError = (err) => { log('error', 'writing directive clients failed; will retry', { err: String(err) }) }
    accounts.onLoginFailed = () => { metrics.loginsFailed.inc() }

    const services: MainServices = {
      signer, now, accounts, catalog, licenses, registry, rules, directives, origin, metrics,
      adminToken: tokens.adminToken, operatorToken: tokens.operatorToken, startedAt: now(),
      nodeTokens: new NodeTokens(store, now), activity, reports, revocations, store, devices: new DeviceSlots(store), trustedProxies: opts.trustedProxies
    }
    const app = buildApp(services, log)
    // periodic work runs on one main at a time where several share the store (a lease; always this one on level)
    const timer = setInterval(() => {
      store.exclusive('rules-refresh', async () => await rules.refreshIfAging()).catch(err => { log('error', 'rules refresh failed', { err: String(err) }) })
    }, RULES_REFRESH_CHECK_MS)
    timer.unref()
    // the revocation list lives far shorter than the rules: checked at least four times per lifetime
    const revocationsTimer = setInterval(() => {
      store.exclusive('revocations-refresh', async () => await revocations.refreshIfAging()).catch(err => { log('error', 'revocation list refresh failed', { err: String(err) }) })
    }, Math.max(1_000, Math.min(RULES_REFRESH_CHECK_MS, Math.floor(revocations.ttlMs / 4))))
    revocationsTimer.unref()
    const planEvery = opts.prepositionPlanIntervalMs ?? PREPOSITION_PLAN_INTERVAL_MS
    const planTimer = planEvery > 0
      ? setInterval(() => { store.exclusive('preposition-plan', async () => await replanPreposition(services)).catch(err => { log('error', 'preposition plan failed', { err: String(err) }) }) }, planEvery)
      : undefined
    planTimer?.unref()
    const removalMs = opts.nodeRemovalMs ?? DEFAULT_NODE_REMOVAL_MS
    const sweepTimer = setInterval(() => {
      store.exclusive('node-removal', async () => await removeSilentNodes(services, removalMs)).then(r => {
        for (const n of r.ran ? r.value : []) log('warn', 'node removed after silence', { peerId: n.peerId, role: n.role, region: n.region, silentMs: now() - n.lastSeen })
      }, err => { log('error', 'removing silent nodes failed', { err: String(err) }) })
    }, nodeSweepIntervalMs(removalMs))
    sweepTimer.unref()
    // issue 15: older versions no download runs on any more leave the rules and main's origin
    const collectTimer = setInterval(() => {
      store.exclusive('version-collect', async () => await catalog.collectVersions(now())).then(r => {
        for (const v of r.ran ? r.value : []) log('info', 'old item version collected', v)
      }, err => { log('error', 'collecting old item versions failed', { err: String(err) }) })
    }, VERSION_COLLECT_MS)
    collectTimer.unref()
    let syncing = false
    const syncTimer = store.kind === 'level'
      ? undefined
      : setInterval(() => {
        if (syncing) return
        syncing = true
        syncShared(services)
          .catch(err => { log('warn', 'reading other mains\' changes failed; will retry', { err: String(err) }) })
          .finally(() => { syncing = false })
      }, SHARED_SYNC_MS)
    syncTimer?.unref()
    let closed = false
    return {
      app, services, tokens, signer, keyCreated, store,
      close: async () => {
        if (closed) return
        closed = true
        clearInterval(timer)
        clearInterval(revocationsTimer)
        clearInterval(planTimer)
        clearInterval(sweepTimer)
        clearInterval(collectTimer)
        clearInterval(syncTimer)
        await directives?.close().catch(err => { log('error', 'admission flush failed', { err: String(err) }) })
        await services.reports.close().catch(err => { log('error', 'flushing directive clients failed', { err: String(err) }) })
        await store.close()
      }
    }
  } catch (err) {
    await directives?.close().catch(() => {})
    await store.close()
    throw err
  }
}

/**
 * Where several mains share a PostgreSQL store, each reads the others' changes this often: nodes registered and
 * heartbeats received elsewhere (for ranking), items ingested elsewhere, customers' holdings reported elsewhere, and
 * newer rules versions. Accounts, sessions and licences need no sync: a cache miss reads the store.
 */
export const SHARED_SYNC_MS = 1_000

export async function syncShared (s: MainServices): Promise<void> {
  await s.registry.reload()
  await s.catalog.reload()
  await s.reports.reload()
  await s.directives.syncHoldings()
  await s.rules.sync()
  await s.revocations.sync()
}

/** Re-plan every region's automatic preposition list from the directives of the last hour. */
export async function replanPreposition (s: MainServices): Promise<boolean> {
  const now = s.now()
  // every main's demand, through the store (main/directives.ts planDemand); and forget stale pending reports
  await s.reports.prune()
  const { plan, count } = await s.directives.planDemand(now, AUTO_PREPOSITION_TOP_N * 4, s.registry.regions())
  const filtered = new Map<string, string[]>()
  for (const [region, items] of plan) {
    filtered.set(region, items.filter(id => count(region, id) >= AUTO_PREPOSITION_MIN_REQUESTS).slice(0, AUTO_PREPOSITION_TOP_N))
  }
  return await s.rules.setAutoPlan(filtered)
}

/**
 * Bound a request body to maxSize bytes (413 beyond). A body with a
 * Content-Length and no Transfer-Encoding is judged by that header alone:
 * node's HTTP parser delivers exactly that many bytes, never more, so the
 * body is left untouched for the route to read straight from the socket
 * (hono's bodyLimit asks for `req.raw.body` first, which makes
 * @hono/node-server build a full Request and a web stream per request). Any
 * other body (chunked, or a Request handed to `app.request()` without a
 * length) is counted as it streams by hono's bodyLimit.
 */
export function boundBody (maxSize: number, message: string): MiddlewareHandler<MainEnv> {
  const streamed = bodyLimit({ maxSize, onError: () => { throw tooLarge(message) } })
  return async function limitBodySize (c, next) {
    const length = c.req.header('content-length')
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      // The same reading as hono's bodyLimit; over HTTP, node has already refused a malformed or repeated Content-Length.
      if (parseInt(length, 10) > maxSize) throw tooLarge(message)
      return await next()
    }
    return await streamed(c, next)
  }
}

export function buildApp (s: MainServices, log: LogFn): Hono<MainEnv> {
  const app = new Hono<MainEnv>()
  const jsonLimit = boundBody(MAX_JSON_BODY_BYTES, `request body larger than ${MAX_JSON_BODY_BYTES} bytes`)
  const heartbeatLimit = boundBody(MAX_HEARTBEAT_BODY_BYTES, `heartbeat larger than ${MAX_HEARTBEAT_BODY_BYTES} bytes`)

  app.use('*', async function measure (c, next) {
    const started = performance.now()
    await next()
    const route = c.res.status === 404 && c.req.routePath === '*' ? 'unmatched' : routePath(c)
    s.metrics.requests.inc({ method: c.req.method, route, status: String(c.res.status) })
    s.metrics.latency.observe({ method: c.req.method, route }, (performance.now() - started) / 1000)
  })

  // Every body is bounded: ingest streams and counts itself; heartbeats may list many held items.
  app.use('/v1/*', async function limitBody (c, next) {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return await next()
    const path = c.req.path
    if (path === '/v1/items') return await next()
    if (path.endsWith('/heartbeat')) return await heartbeatLimit(c, next)
    return await jsonLimit(c, next)
  })

  app.onError((err, c) => {
    const r = toErrorResponse(err)
    if (r.internal) log('error', 'request failed', { method: c.req.method, path: c.req.path, err: (err as Error)?.stack ?? String(err) })
    return c.json(r.body, r.status, r.headers)
  })
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}` } }, 404))

  app.get('/healthz', (c) => c.json({
    ok: true,
    rulesVersion: s.rules.version,
    keyId: s.signer.keyId,
    items: s.catalog.list().length,
    nodes: s.registry.all().length,
    uptimeS: Math.round((s.now() - s.startedAt) / 1000)
  }))
  // the operator token (or admin), or a scrape of the separate metrics listener (main/metrics-server.ts)
  app.get('/metrics', requireOperator(s), async (c) => {
    c.header('Content-Type', s.metrics.registry.contentType)
    return c.body(await s.metrics.registry.metrics())
  })
  app.get('/', (c) => {
    c.header('Content-Security-Policy', OPERATOR_PAGE_CSP)
    c.header('X-Frame-Options', 'DENY')
    return c.html(operatorPage())
  })
  app.get('/operator.js', (c) => {
    c.header('Content-Type', 'text/javascript; charset=utf-8')
    c.header('Cache-Control', 'no-cache')
    return c.body(operatorScript())
  })

  app.route('/v1', accountRoutes(s))
  app.route('/v1', itemRoutes(s))
  app.route('/v1', rentalRoutes(s))
  app.route('/v1', directiveRoutes(s))
  app.route('/v1', nodeRoutes(s))
  app.route('/v1', ruleRoutes(s))
  app.route('/v1', operatorRoutes(s))
  app.route('/v1', reportRoutes(s))
  app.route('/v1', revocationRoutes(s))
  // the customers' pages (main/storefront/routes.tsx lists them)
  app.route('/store', storefrontRoutes(s))
  return app
}
