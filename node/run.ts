/**
 * A whole parent or edge node: identity, main's pinned key, registration,
 * the signed rules, the libp2p host with its region DHT and gater, the
 * chunk store, serving, filling, the parent's catalog copy, the edge's
 * prepositioning, heartbeats, and a status file for operators and tests.
 */
import { mkdir } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createSigner } from '../protocol/keys.ts'
import { signHeartbeat } from '../protocol/documents.ts'
import { toText } from '../protocol/signing.ts'
import { itemCid } from '../protocol/cid.ts'
import { Bitfield } from '../protocol/wire/have.ts'
import type { Manifest } from '../protocol/types.ts'
import { loadOrCreateKey } from './key.ts'
import { createMainClient, MainHttpError } from './main-client.ts'
import { resolveMainKey } from './main-key.ts'
import { StateDb } from './state.ts'
import { ChunkStore } from './store/chunk-store.ts'
import { DEFAULT_POLICY, evictionPolicyFor } from './store/policy.ts'
import { RulesFollower } from './rules.ts'
import { RevocationsFollower } from './revocations.ts'
import { ManifestCache } from './items.ts'
import { createAccessGater } from './gater.ts'
import { createAuthorizer } from './access.ts'
import { bareAddrs, connectBootstrap, createHost, dhtProtocol, listenAddrs, routingTablePeers, type ReelnetHost } from './host.ts'
import { serveChunks, type ChunkSource } from './chunk-server.ts'
import { Filler } from './fill.ts'
import { TokenBucket } from './token-bucket.ts'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import type { Connection } from '@libp2p/interface'
import { createNodeMetrics, serveMetrics, type MetricsServer, type NodeMetrics } from './metrics.ts'
import { MAX_SWEPT_SHOWN, holdingsOf, mayHold, missingBytes, newestKey, parentPlan, sweep } from './lifecycle.ts'
import { parseContentKey } from '../protocol/item-key.ts'
import { MAX_LACKING_ITEMS } from '../protocol/limits.ts'
import { fastLaneCredentials } from './fast-lane/certificate.ts'
import { FastLaneClient } from './fast-lane/client.ts'
import { createChunkTransport } from './fast-lane/transport.ts'
import { startNodeLane, type NodeLane } from './fast-lane/node-lane.ts'

/** The least time between two rules polls that requests for an item the rules do not list can cause. */
const RULES_CATCH_UP_MS = 250
/** Polls one such request may wait for before it is answered "not here" (about RULES_CATCH_UP_MS apart). */
const RULES_CATCH_UP_TRIES = 3

/** Chunks a parent copies from main at once (each a readahead batch of the filler). */
export const PARENT_COPY_WORKERS = 4
/** Chunks an edge prepositions at once: less than a parent, it also serves customers. */
export const PREPOSITION_WORKERS = 2
/** A DHT provide that has not finished by then is retried on the next tick (an empty routing table makes it hang). */
export const PROVIDE_TIMEOUT_MS = 10_000
/** This node's software version, sent in every heartbeat (package.json's: one level above node/ and above the test runner's .build/). */
export const SOFTWARE_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
/** Registration is retried this long while main starts up. */
export const REGISTER_DEADLINE_MS = 60_000
/** A source that keeps sending bad chunks is reported to main again only after this long: one report per source is what main counts. */
export const REPORT_AGAIN_AFTER_MS = 3600_000
/** Sources remembered as reported (forgotten all at once beyond: the cost is only a repeated report). */
export const MAX_REPORTED_SOURCES = 1_000

export interface NodeOptions {
  role: 'parent' | 'edge'
  region: string
  mainUrl: string
  dataDir: string
  listen: string[]
  operatorToken: string
  capacityBytes: number
  mainKey?: string
  heartbeatMs: number
  rulesPollMs: number
  maxUploadBytesPerSec?: number
  /** Serve Prometheus text at http://metricsHost:metricsPort/metrics (0: any free port; undefined: no metrics server). */
  metricsPort?: number
  metricsHost?: string
  /** Serve the metrics listener over HTTPS with this PEM certificate and key (for metrics that leave the host). */
  metricsTls?: { cert: Buffer, key: Buffer }
  log: (line: string) => void
  /** Structured events with the ids that let an operator follow a download (licenseId, directiveId, peer ids). */
  event?: EventLog
  /** Serve and fetch chunks over the TLS 1.3 fast lane (libp2p stays the fallback). Default true. */
  fastLane?: boolean
  /** The fast lane's port (default 0: any free port). */
  fastLanePort?: number
}

export type EventLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void

/** A node's state as GET /status serves it (node/API.md). */
export interface NodeStatus {
  peerId: string
  role: 'parent' | 'edge'
  region: string
  addrs: string[]
  rulesVersion: number | null
  /** The revocation list held (issue 14b): version, whether the node is frozen (none in force), counts. */
  revocations: ReturnType<RevocationsFollower['status']>
  routingTable: string[]
  connections: string[]
  heldItems: string[]
  /** Items a parent could not hold for want of space (issue 15). */
  lacking: string[]
  /** Items (wire keys) deleted after a takedown, a collected version or a region change, since start. */
  swept: string[]
  store: { usedBytes: number, capacityBytes: number, chunks: number, corruptOnRead: number, reconcile: unknown }
  fetched: unknown
  served: Record<string, number>
  /** The fast lane's address and use (absent when it is off). */
  fastLane?: { addr: string, connections: number, requests: number }
  /** Requests this node's fills sent over each path. */
  transport: { fastLane: number, libp2p: number, fallbacks: number }
  /** main's clock is not involved: the node's own time of the answer, ms since the epoch. */
  at: number
}

export interface RunningNode {
  peerId: string
  addrs: string[]
  host: ReelnetHost
  /** Where /metrics is served, if --metrics-port was given. */
  metricsUrl?: string
  /** Where /status is served (beside /metrics). */
  statusUrl?: string
  metrics: NodeMetrics
  stop: () => Promise<void>
  /** Resolves when the node stopped (by stop() or a fatal error). */
  done: Promise<void>
}

export async function startNode (opts: NodeOptions): Promise<RunningNode> {
  const log = opts.log
  const event: EventLog = opts.event ?? (() => {})
  const ctl = new AbortController()
  const signal = ctl.signal
  await mkdir(opts.dataDir, { recursive: true })
  const key = await loadOrCreateKey(opts.dataDir)
  const peerId = key.peerId.toString()
  const signer = createSigner(key.seed)
  const main = createMainClient({ url: opts.mainUrl, operatorToken: opts.operatorToken, peerId, signer })

  const mainKey = await retry(async () => await resolveMainKey(opts.dataDir, main, opts.mainKey, { signal }), REGISTER_DEADLINE_MS, signal)
  if (mainKey.source === 'first-use') log(`trusting main's key ${mainKey.fingerprint} (first use; stored in ${join(opts.dataDir, 'main.pub')})`)

  const state = await StateDb.open(opts.dataDir)
  const policy = opts.role === 'edge' ? evictionPolicyFor(DEFAULT_POLICY, opts.capacityBytes) : null
  const store = await ChunkStore.open(join(opts.dataDir, 'store'), { capacityBytes: opts.capacityBytes, policy })
  const rec = store.reconcile
  if (rec.discarded + rec.tempFilesRemoved + rec.adopted > 0) {
    log(`store reconciled: ${rec.kept} kept, ${rec.adopted} adopted, ${rec.discarded} discarded, ${rec.tempFilesRemoved} partial files removed`)
  }

  const items = new ManifestCache(main, state, mainKey.publicKey)
  await items.load()

  // issue 15: what the rules allow this node to hold; after each new version, what they no longer allow is deleted
  const holdings = (): ReturnType<typeof holdingsOf> => holdingsOf(rules.rules, opts.region)
  const provided = new Set<string>()
  const swept: string[] = []
  let lacking: string[] = []
  let sweeping: Promise<void> = Promise.resolve()
  /** `copied`: a manifest a copy was working on while the rules dropped it (already forgotten by the cache, its chunks not). */
  function sweepNow (copied?: Manifest): Promise<void> {
    sweeping = sweeping.then(async () => {
      if (rules.rules === undefined) return
      const target = copied === undefined
        ? items
        : { all: () => [...items.all().filter(m => m.itemId !== copied.itemId), copied], forget: async (key: string) => { await items.forget(key) } }
      const r = await sweep(holdings(), target, store)
      for (const key of r.dropped) { provided.delete(key); swept.push(key) }
      if (swept.length > MAX_SWEPT_SHOWN) swept.splice(0, swept.length - MAX_SWEPT_SHOWN)
      if (r.dropped.length > 0) event('info', 'items no longer held deleted', { items: r.dropped, chunks: r.chunks, rulesVersion: rules.rules.version })
    }).catch((err: unknown) => { log(`sweep: ${(err as Error).message}`) })
    return sweeping
  }

  let host: ReelnetHost | undefined
  const rules = new RulesFollower({
    main, state, mainPublicKey: mainKey.publicKey, region: opts.region, log,
    onChange: r => {
      log(`rules version ${r.version}`)
      if (host !== undefined) void bootstrap()
      void sweepNow()
    }
  })
  await rules.load()
  // the signed revocation list, polled with the rules: revoked licences, accounts and quarantined nodes (issue 14b)
  const revocations = new RevocationsFollower({
    fetch: async (etag, o) => await main.getRevocations(etag, o), mainPublicKey: mainKey.publicKey, state, log,
    onChange: l => { log(`revocation list version ${l.version}: ${l.licenses.length} licences, ${l.accounts.length} accounts, ${l.nodes.length} nodes revoked`) }
  })
  await revocations.load()
  /** A peer the rules name and the revocation list does not (a quarantined node is nobody's member). */
  const isMember = (id: string): boolean => rules.roleOf(id) !== undefined && !revocations.isNodeRevoked(id)

  const metrics = createNodeMetrics({ usedBytes: () => store.usedBytes, capacityBytes: () => store.capacityBytes, chunks: () => store.count })
  store.onEvict = () => { metrics.evictions.inc() }
  // libp2p's own metrics share the node's registry; preserveExistingMetrics keeps reelnet's counters registered
  const libp2pMetrics = opts.metricsPort !== undefined ? prometheusMetrics({ registry: metrics.registry, preserveExistingMetrics: true }) : undefined

  const gater = createAccessGater({ isMember: id => rules.roleOf(id) !== undefined, log })
  /** A peer that broke the framing of a protocol is penalised like a bad chunk's sender: a stranger is denied and hung up on. */
  const onMalformed = (connection: Connection, protocol: string, err: Error): void => {
    const id = connection.remotePeer.toString()
    metrics.peersPenalised.inc({ penalty: 'ban' })
    event('warn', 'malformed frame', { peerId: id, protocol, err: `${err.name}: ${err.message}` })
    gater.deny(id)
    if (rules.roleOf(id) === undefined) void connection.close().catch(() => { connection.abort(err) })
  }
  host = await createHost({ privateKey: key.privateKey, region: opts.region, listen: opts.listen, gater: gater.gater, metrics: libp2pMetrics, onMalformedFrame: onMalformed })
  const h = host
  // only the region DHT is closed to peers on probation. Not ping: kad-dht checks a new contact with a libp2p ping before
  // it enters the routing table, and libp2p's connection monitor pings every connection; gating ping left members'
  // routing tables empty (a parent never admitted the edge that had dialled it) — test/e2e/node-regions.test.ts
  const unwatch = gater.watch(h, [dhtProtocol(opts.region)])

  async function bootstrap (): Promise<void> {
    const peers = rules.members().filter(m => m.peerId !== peerId)
    if (peers.length > 0) await connectBootstrap(h, peers, { signal })
  }

  const served = { edge: 0, parent: 0, peer: 0, client: 0 }
  async function provide (manifest: Manifest): Promise<void> {
    if (provided.has(manifest.itemId)) return
    provided.add(manifest.itemId)
    try {
      const s = AbortSignal.any([signal, AbortSignal.timeout(PROVIDE_TIMEOUT_MS)])
      for await (const _ of h.services.dht.provide(itemCid(manifest.merkleRoot), { signal: s })) { /* drain */ }
    } catch {
      provided.delete(manifest.itemId) // retried on the next tick
    }
  }

  // a source that sent a bad chunk is reported to main once an hour (main quarantines it when reporters agree)
  const reportedSources = new Map<string, number>()
  function reportBadSource (source: string, at: { itemId: string, chunkIndex: number }): void {
    const now = Date.now()
    if ((reportedSources.get(source) ?? 0) > now - REPORT_AGAIN_AFTER_MS) return
    if (reportedSources.size >= MAX_REPORTED_SOURCES) reportedSources.clear()
    reportedSources.set(source, now)
    main.reportBadSource({ ...at, itemId: baseItemId(at.itemId), source, region: opts.region }, { signal }).then(
      r => { event('warn', 'reported a bad source to main', { sourcePeerId: source, itemId: at.itemId, quarantined: r.quarantined }) },
      (e: unknown) => { log(`reporting ${source}: ${(e as Error).message}`) })
  }

  // the fast lane's requesting side for fills (issue 17); its listener starts once serving is set up below
  const laneCredentials = opts.fastLane === false ? undefined : await fastLaneCredentials(key.privateKey)
  const transport = createChunkTransport({ host: h, lanes: laneCredentials !== undefined ? new FastLaneClient({ credentials: laneCredentials, log }) : undefined, log })
  let lane: NodeLane | undefined
  let libp2pStreams = 0

  const filler = new Filler({
    transport,
    host: h,
    store,
    main,
    selfPeerId: peerId,
    role: opts.role,
    regionMembers: () => ({
      parents: (rules.region()?.parents ?? []).filter(n => !revocations.isNodeRevoked(n.peerId)),
      edges: (rules.region()?.edges ?? []).filter(n => !revocations.isNodeRevoked(n.peerId))
    }),
    signal,
    log,
    onStored: m => { if (opts.role === 'edge' && !provided.has(m.itemId)) void provide(m) },
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

  // A directive main issued under newer rules can name an item this node's rules do not list yet (ingested since
  // its last poll, or published a moment after the directive): before saying "not here", poll the rules — one poll
  // at a time, at least RULES_CATCH_UP_MS apart, RULES_CATCH_UP_TRIES times at most — so a request for an item the
  // rules really do not list is answered within about a second and cannot make a node hammer main.
  let catchUp: Promise<unknown> | undefined
  let lastCatchUp = 0
  const mayHoldNow = async (itemId: string): Promise<boolean> => {
    for (let attempt = 0; attempt < RULES_CATCH_UP_TRIES; attempt++) {
      if (mayHold(holdings(), itemId)) return true
      if (catchUp === undefined) {
        const wait = lastCatchUp + RULES_CATCH_UP_MS - Date.now()
        if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
        if (catchUp === undefined) {
          lastCatchUp = Date.now()
          catchUp = rules.poll({ signal }).finally(() => { catchUp = undefined })
        }
      }
      await catchUp
    }
    return mayHold(holdings(), itemId)
  }

  const source: ChunkSource = {
    async getChunk (itemId, index, o) {
      if (!await mayHoldNow(itemId)) return null
      let manifest: Manifest
      try {
        manifest = await items.get(itemId, o)
      } catch (err) {
        if (err instanceof MainHttpError && err.status === 404) return null
        throw err
      }
      if (index >= manifest.chunkCount) return null
      if (store.has(manifest.chunkHashes[index]!)) metrics.cacheHits.inc()
      else metrics.cacheMisses.inc()
      return await filler.get(manifest, index, o.signal)
    },
    async have (itemId) {
      if (!mayHold(holdings(), itemId)) return null
      const manifest = items.known(itemId)
      if (manifest === undefined) return null
      const bits = new Bitfield(manifest.chunkCount)
      manifest.chunkHashes.forEach((hash, i) => { if (store.has(hash)) bits.set(i) })
      return bits
    }
  }

  const authorizer = createAuthorizer({
    mainPublicKey: () => mainKey.publicKey,
    selfPeerId: peerId,
    isMember,
    revocations,
    onAdmitted: (id, d) => {
      gater.admit(id, d.expiresAt)
      event('info', 'directive accepted', { clientPeerId: id, licenseId: d.licenseId, directiveId: d.directiveId, itemId: d.itemId })
    },
    onRefused: (id, reason) => { log(`refused ${id}: ${reason}`) }
  })
  // one upload cap and one served count for both paths
  const uploadLimiter = opts.maxUploadBytesPerSec !== undefined ? new TokenBucket(opts.maxUploadBytesPerSec) : undefined
  const onServed = (remote: string, bytes: number): void => {
    const to = rules.roleOf(remote) ?? 'client'
    served[to] += bytes
    metrics.chunksServed.inc({ to })
    metrics.bytesServed.inc({ to }, bytes)
    event('debug', 'chunk served', { to, peerId: remote, bytes })
  }
  const unserve = await serveChunks(h, {
    source,
    authorize: authorizer.authorize,
    mayAskHave: conn => authorizer.mayAskHave(conn) || (gater.isAdmitted(conn.remotePeer.toString()) && !authorizer.isRevokedPeer(conn.remotePeer.toString())),
    uploadLimiter,
    onServed,
    onMalformed,
    onStreams: d => { libp2pStreams += d },
    log
  })
  if (laneCredentials !== undefined) {
    lane = await startNodeLane({
      credentials: laneCredentials, listen: opts.listen, announced: bareAddrs(h), port: opts.fastLanePort,
      source, authorize: authorizer.authorize, isDenied: id => gater.isDenied(id), uploadLimiter, onServed, log,
      onMalformed: (id, err) => {
        metrics.peersPenalised.inc({ penalty: 'ban' })
        event('warn', 'malformed frame', { peerId: id, protocol: 'fast-lane', err: `${err.name}: ${err.message}` })
        gater.deny(id)
      }
    })
    log(`fast lane on ${lane.addr}`)
  }
  const closeLane = async (): Promise<void> => { transport.close(); await lane?.server.close().catch(() => {}) }

  let metricsServer: MetricsServer | undefined
  if (opts.metricsPort !== undefined) {
    try {
      metricsServer = await serveMetrics(metrics.registry, { host: opts.metricsHost ?? '127.0.0.1', port: opts.metricsPort, status: statusNow, tls: opts.metricsTls })
    } catch (err) {
      await unserve().catch(() => {})
      await closeLane()
      try { await h.stop() } catch { /* already stopped */ }
      await store.close().catch(() => {})
      await state.close().catch(() => {})
      const e = err as NodeJS.ErrnoException
      throw new Error(e.code === 'EADDRINUSE' ? `metrics port ${opts.metricsPort} is already in use` : `cannot serve metrics: ${e.message}`)
    }
  }

  // register (main may still be starting: retry)
  try {
    await retry(async () => await main.register({ peerId, role: opts.role, region: opts.region, addrs: bareAddrs(h), capacityBytes: opts.capacityBytes, ...(lane !== undefined ? { fastLane: lane.addr } : {}) }, { signal }), REGISTER_DEADLINE_MS, signal)
  } catch (err) {
    // refused (a bad or used token) or main unreachable: release the host, ports and stores, or the process would linger
    ctl.abort(err)
    unwatch()
    await metricsServer?.close().catch(() => {})
    await unserve().catch(() => {})
    await closeLane()
    try { await h.stop() } catch { /* already stopped */ }
    await store.close().catch(() => {})
    await state.close().catch(() => {})
    throw err
  }
  await rules.poll({ signal })
  await revocations.poll({ signal })
  await bootstrap()

  // ---- background work -------------------------------------------------------------------
  let copying = false
  async function copyItems (itemIds: string[], workers: number): Promise<void> {
    if (copying) return
    copying = true
    const short: string[] = []
    try {
      for (const itemId of itemIds) {
        if (signal.aborted) return
        if (!mayHold(holdings(), itemId)) continue
        let manifest: Manifest
        try { manifest = await items.get(itemId, { signal }) } catch (err) { log(`manifest of ${itemId}: ${(err as Error).message}`); continue }
        const missing = filler.missing(manifest)
        // a parent without room says so (heartbeat `lacking`, the operator page) rather than failing chunk by chunk
        if (opts.role === 'parent' && missing.length > 0 && missingBytes(manifest, missing) > store.freeBytes) {
          if (!lacking.includes(itemId)) log(`no space for ${itemId}: ${missingBytes(manifest, missing)} bytes needed, ${store.freeBytes} free`)
          short.push(itemId)
          continue
        }
        if (missing.length > 0) {
          let next = 0
          let failed = 0
          await Promise.all(Array.from({ length: workers }, async () => {
            while (next < missing.length && !signal.aborted) {
              const i = missing[next++]!
              // background: a customer waiting on a miss goes first (node/download/priorities.ts)
              try { await filler.get(manifest, i, signal, 'background') } catch { failed++ }
            }
          }))
          // the rules dropped it while it was being copied (a takedown, a collected version): delete what arrived
          if (!mayHold(holdings(), itemId)) { await sweepNow(manifest); continue }
          if (failed > 0) { log(`${itemId}: ${failed} chunks failed, retrying later`); continue }
          if (filler.isComplete(manifest)) log(`item ${itemId} complete: ${manifest.chunkCount} chunks verified`)
        }
        // announced in the background: a provide in a small region DHT can wait out its whole timeout, and the
        // next item's copy must not queue behind it (it did: a parent took 10 s more per item)
        if (filler.isComplete(manifest)) void provide(manifest)
      }
      if (opts.role === 'parent') lacking = short.map(baseItemId).slice(0, MAX_LACKING_ITEMS)
    } finally {
      copying = false
    }
  }

  async function tickWork (): Promise<void> {
    if (opts.role === 'parent') {
      try {
        // the rules' list for the region when main publishes one (issue 15), else the whole catalog as before
        const plan = parentPlan(holdings()) ?? (await main.getCatalog({ signal })).map(c => c.itemId)
        await copyItems(plan, PARENT_COPY_WORKERS)
      } catch (err) {
        if (!signal.aborted) log(`catalog: ${(err as Error).message}`)
      }
    } else {
      const h = holdings()
      const list = (rules.region()?.preposition ?? []).map(id => newestKey(h, id)).filter((k): k is string => k !== undefined)
      if (list.length > 0) await copyItems(list, PREPOSITION_WORKERS)
    }
  }

  let seq = 0
  // what the heartbeat's `serving` reports: bytes served since the last heartbeat, per second
  let servedAtLastBeat = 0
  let lastBeatAt = Date.now()
  function serving (): { bytesPerSecond: number, uplinkBytesPerSecond: number, streams: number, fillQueue: number } {
    const total = served.edge + served.parent + served.peer + served.client
    const now = Date.now()
    const bytesPerSecond = Math.round((total - servedAtLastBeat) * 1000 / Math.max(1, now - lastBeatAt))
    servedAtLastBeat = total
    lastBeatAt = now
    return { bytesPerSecond, uplinkBytesPerSecond: opts.maxUploadBytesPerSec ?? 0, streams: libp2pStreams + (lane?.server.requests ?? 0), fillQueue: filler.inFlight }
  }
  function heldItems (): string[] {
    return items.all().filter(m => filler.isComplete(m)).map(m => m.itemId)
  }
  async function heartbeat (): Promise<void> {
    const hb = {
      peerId,
      seq: ++seq,
      sentAt: Date.now(),
      load: Math.min(1, filler.inFlight / 64),
      freeBytes: store.freeBytes,
      bytesServed: { ...served },
      heldItems: heldItems().slice(0, 10_000),
      version: SOFTWARE_VERSION,
      ...(lacking.length > 0 ? { lacking } : {}),
      serving: serving()
    }
    try {
      const answer = await main.heartbeat(peerId, toText(signHeartbeat(hb, signer)), { signal })
      gater.setAdmittedByMain(answer.admittedPeers)
      if (rules.rules === undefined || answer.rulesVersion > rules.rules.version) await rules.poll({ signal })
    } catch (err) {
      if (!signal.aborted) log(`heartbeat: ${(err as Error).message}`)
    }
  }

  /** What GET /status on the metrics port answers: computed on request, so a reader never sees a stale snapshot. */
  function statusNow (): NodeStatus {
    return {
      peerId, role: opts.role, region: opts.region, addrs: listenAddrs(h),
      rulesVersion: rules.rules?.version ?? null,
      revocations: revocations.status(),
      routingTable: routingTablePeers(h),
      connections: h.getConnections().map(c => c.remotePeer.toString()),
      heldItems: heldItems(),
      lacking: [...lacking],
      swept: [...swept],
      store: { usedBytes: store.usedBytes, capacityBytes: store.capacityBytes, chunks: store.count, corruptOnRead: store.corruptOnRead, reconcile: store.reconcile },
      fetched: filler.stats,
      served: { ...served },
      ...(lane !== undefined ? { fastLane: { addr: lane.addr, connections: lane.server.connections, requests: lane.server.requests } } : {}),
      transport: { ...transport.stats },
      at: Date.now()
    }
  }

  const timers: Array<ReturnType<typeof setInterval>> = []
  let working = false
  const every = (ms: number, fn: () => Promise<void>): void => {
    let busy = false
    timers.push(setInterval(() => {
      if (busy || signal.aborted) return
      busy = true
      fn().catch(err => { if (!signal.aborted) log(`background: ${(err as Error).message}`) }).finally(() => { busy = false })
    }, ms))
  }
  every(opts.rulesPollMs, async () => { await revocations.poll({ signal }) })
  every(opts.rulesPollMs, async () => { await rules.poll({ signal }); if (!working) { working = true; void tickWork().finally(() => { working = false }) } })
  every(opts.heartbeatMs, heartbeat)
  every(30_000, async () => { await store.flushAccess() })
  working = true
  void tickWork().finally(() => { working = false })
  void heartbeat()

  let resolveDone!: () => void
  const done = new Promise<void>(resolve => { resolveDone = resolve })
  let stopping: Promise<void> | undefined
  async function stop (): Promise<void> {
    stopping ??= (async () => {
      ctl.abort(new Error('node stopping'))
      for (const t of timers) clearInterval(t)
      unwatch()
      await metricsServer?.close().catch(() => {})
      await unserve().catch(() => {})
      await closeLane()
      try { await h.stop() } catch { /* already stopped */ }
      await store.close().catch(() => {})
      await state.close().catch(() => {})
      resolveDone()
    })()
    await stopping
  }

  return { peerId, addrs: listenAddrs(h), host: h, metricsUrl: metricsServer?.url, statusUrl: metricsServer?.statusUrl, metrics, stop, done }
}

/** The itemId of a wire key (itemId@N → itemId); main's reports and the operator page speak itemIds. */
function baseItemId (key: string): string {
  try { return parseContentKey(key).itemId } catch { return key }
}

/** Call fn until it succeeds or the deadline passes (then its last error is thrown). */
async function retry<T> (fn: () => Promise<T>, deadlineMs: number, signal: AbortSignal): Promise<T> {
  const until = Date.now() + deadlineMs
  let wait = 200
  while (true) {
    try {
      return await fn()
    } catch (err) {
      const e = err as Error
      // a refusal by main (bad token, bad request) will not fix itself
      if (e instanceof MainHttpError && e.status >= 400 && e.status < 500 && e.status !== 404 && e.status !== 429) throw e
      if (Date.now() + wait > until || signal.aborted) throw e
      await new Promise(resolve => setTimeout(resolve, wait))
      wait = Math.min(wait * 2, 2000)
    }
  }
}
