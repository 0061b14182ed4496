/**
 * A whole parent or edge node: identity, main's pinned key, registration,
 * the signed rules, the libp2p host with its region DHT and gater, the
 * chunk store, serving, filling, the parent's catalog copy, the edge's
 * prepositioning, heartbeats, and a status file for operators and tests.
 *
 * This file is the order things start in; each part's wiring is in run/.
 * Every part that starts pushes its stop onto one Teardown, and every exit
 * (stop(), a start that fails half-way) runs that stack, last started first.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import type { Connection } from '@libp2p/interface'
import { createSigner } from '../../protocol/keys.ts'
import { loadOrCreateKey } from '../net/key.ts'
import { createMainClient } from '../control/main-client.ts'
import { resolveMainKey } from '../control/main-key.ts'
import { StateDb } from '../control/state.ts'
import { ChunkStore } from './store/chunk-store.ts'
import { DEFAULT_POLICY, evictionPolicyFor } from './store/policy.ts'
import { RulesFollower } from '../control/rules.ts'
import { RevocationsFollower } from '../control/revocations.ts'
import { ManifestCache } from './items.ts'
import { createAccessGater } from '../net/gater.ts'
import { bareAddrs, connectBootstrap, createHost, dhtProtocol, listenAddrs } from '../net/host.ts'
import { createNodeMetrics, serveMetrics, type MetricsServer } from './metrics.ts'
import { fastLaneCredentials } from '../net/fast-lane/certificate.ts'
import { FastLaneClient } from '../net/fast-lane/client.ts'
import { createChunkTransport } from '../net/fast-lane/transport.ts'
import { Teardown } from './run/teardown.ts'
import { NodeHoldings } from './run/holdings.ts'
import { createProvider } from './run/announce.ts'
import { createNodeFiller } from './run/filler.ts'
import { createChunkSource, startServing } from './run/serving.ts'
import { ItemCopier } from './run/copy.ts'
import { REGISTER_DEADLINE_MS, retry, startControlLoop } from './run/control-loop.ts'
import { statusOf } from './run/status.ts'
import type { NodeParts } from './run/parts.ts'
import type { EventLog, NodeOptions, RunningNode } from './run/options.ts'

export type { EventLog, NodeOptions, NodeStatus, RunningNode } from './run/options.ts'
export { PARENT_COPY_WORKERS, PREPOSITION_WORKERS } from './run/copy.ts'
export { PROVIDE_TIMEOUT_MS } from './run/announce.ts'
export { SOFTWARE_VERSION } from './run/version.ts'
export { REGISTER_DEADLINE_MS } from './run/control-loop.ts'
export { MAX_REPORTED_SOURCES, REPORT_AGAIN_AFTER_MS } from './run/bad-sources.ts'

export async function startNode (opts: NodeOptions): Promise<RunningNode> {
  const log = opts.log
  const event: EventLog = opts.event ?? (() => {})
  const ctl = new AbortController()
  const signal = ctl.signal
  const teardown = new Teardown(log)
  /** The one way down, for stop() and for a start that failed: abort every wait, then the stack. */
  const shutDown = async (reason: unknown): Promise<void> => {
    if (!signal.aborted) ctl.abort(reason)
    await teardown.run()
  }

  await mkdir(opts.dataDir, { recursive: true })
  const key = await loadOrCreateKey(opts.dataDir)
  const peerId = key.peerId.toString()
  const signer = createSigner(key.seed)
  const main = createMainClient({ url: opts.mainUrl, operatorToken: opts.operatorToken, peerId, signer })

  const mainKey = await retry(async () => await resolveMainKey(opts.dataDir, main, opts.mainKey, { signal }), REGISTER_DEADLINE_MS, signal)
  if (mainKey.source === 'first-use') log(`trusting main's key ${mainKey.fingerprint} (first use; stored in ${join(opts.dataDir, 'main.pub')})`)

  try {
    const state = await StateDb.open(opts.dataDir)
    teardown.push('state', async () => { await state.close() })
    const policy = opts.role === 'edge' ? evictionPolicyFor(DEFAULT_POLICY, opts.capacityBytes) : null
    const store = await ChunkStore.open(join(opts.dataDir, 'store'), { capacityBytes: opts.capacityBytes, policy })
    teardown.push('chunk store', async () => { await store.close() })
    const rec = store.reconcile
    if (rec.discarded + rec.tempFilesRemoved + rec.adopted > 0) {
      log(`store reconciled: ${rec.kept} kept, ${rec.adopted} adopted, ${rec.discarded} discarded, ${rec.tempFilesRemoved} partial files removed`)
    }

    const items = new ManifestCache(main, state, mainKey.publicKey)
    await items.load()

    // issue 15: what the rules allow this node to hold; after each new version, what they no longer allow is deleted
    const holdings = new NodeHoldings({ rules: () => rules.rules, region: opts.region, items, store, log, event })
    /** Dials the region's members the rules name; set once the host is up. */
    let bootstrap: (() => Promise<void>) | undefined
    const rules = new RulesFollower({
      main, state, mainPublicKey: mainKey.publicKey, region: opts.region, log,
      onChange: r => {
        log(`rules version ${r.version}`)
        if (bootstrap !== undefined) void bootstrap()
        void holdings.sweep()
      }
    })
    await rules.load()
    // the signed revocation list, polled with the rules: revoked licences, accounts and quarantined nodes (issue 14b)
    const revocations = new RevocationsFollower({
      fetch: async (etag, o) => await main.getRevocations(etag, o), mainPublicKey: mainKey.publicKey, state, log,
      onChange: l => { log(`revocation list version ${l.version}: ${l.licenses.length} licences, ${l.accounts.length} accounts, ${l.nodes.length} nodes revoked`) }
    })
    await revocations.load()

    const metrics = createNodeMetrics({ usedBytes: () => store.usedBytes, capacityBytes: () => store.capacityBytes, chunks: () => store.count })
    store.onEvict = () => { metrics.evictions.inc() }
    const parts: NodeParts = { opts, log, event, signal, peerId, main, mainPublicKey: mainKey.publicKey, store, items, rules, revocations, holdings, metrics }

    // ---- the libp2p host, behind the gater -----------------------------------------------------
    const gater = createAccessGater({ isMember: id => rules.roleOf(id) !== undefined, log })
    /** A peer that broke the framing of a protocol is penalised like a bad chunk's sender: a stranger is denied and hung up on. */
    const onMalformed = (connection: Connection, protocol: string, err: Error): void => {
      const id = connection.remotePeer.toString()
      metrics.peersPenalised.inc({ penalty: 'ban' })
      event('warn', 'malformed frame', { peerId: id, protocol, err: `${err.name}: ${err.message}` })
      gater.deny(id)
      if (rules.roleOf(id) === undefined) void connection.close().catch(() => { connection.abort(err) })
    }
    // libp2p's own metrics share the node's registry; preserveExistingMetrics keeps reelnet's counters registered
    const libp2pMetrics = opts.metricsPort !== undefined ? prometheusMetrics({ registry: metrics.registry, preserveExistingMetrics: true }) : undefined
    const h = await createHost({ privateKey: key.privateKey, region: opts.region, listen: opts.listen, gater: gater.gater, metrics: libp2pMetrics, onMalformedFrame: onMalformed })
    teardown.push('libp2p host', async () => { try { await h.stop() } catch { /* already stopped */ } })
    // only the region DHT is closed to peers on probation. Not ping: kad-dht checks a new contact with a libp2p ping before
    // it enters the routing table, and libp2p's connection monitor pings every connection; gating ping left members'
    // routing tables empty (a parent never admitted the edge that had dialled it) — test/e2e/node-regions.test.ts
    const unwatch = gater.watch(h, [dhtProtocol(opts.region)])
    teardown.push('gater', unwatch)
    bootstrap = async () => {
      const peers = rules.members().filter(m => m.peerId !== peerId)
      if (peers.length > 0) await connectBootstrap(h, peers, { signal })
    }
    const provide = createProvider(h, holdings.provided, signal)

    // ---- filling: the fast lane's requesting side (issue 17), libp2p the fallback ----------------
    const laneCredentials = opts.fastLane === false ? undefined : await fastLaneCredentials(key.privateKey)
    const transport = createChunkTransport({ host: h, lanes: laneCredentials !== undefined ? new FastLaneClient({ credentials: laneCredentials, log }) : undefined, log })
    teardown.push('chunk transport', () => { transport.close() })
    const filler = createNodeFiller(parts, { host: h, transport, provide })

    // ---- serving: libp2p chunk protocol, then the fast lane's listener ----------------------------
    /** A peer the rules name and the revocation list does not (a quarantined node is nobody's member). */
    const isMember = (id: string): boolean => rules.roleOf(id) !== undefined && !revocations.isNodeRevoked(id)
    const source = createChunkSource(parts, filler)
    const serving = await startServing(parts, { host: h, source, gater, isMember, onMalformed, laneCredentials }, teardown)

    const heldItems = (): string[] => items.all().filter(m => filler.isComplete(m)).map(m => m.itemId)
    let metricsServer: MetricsServer | undefined
    if (opts.metricsPort !== undefined) {
      const status = (): ReturnType<typeof statusOf> => statusOf(parts, { host: h, filler, transport, serving, heldItems })
      try {
        metricsServer = await serveMetrics(metrics.registry, { host: opts.metricsHost ?? '127.0.0.1', port: opts.metricsPort, status, tls: opts.metricsTls })
      } catch (err) {
        const e = err as NodeJS.ErrnoException
        throw new Error(e.code === 'EADDRINUSE' ? `metrics port ${opts.metricsPort} is already in use` : `cannot serve metrics: ${e.message}`)
      }
      const server = metricsServer
      teardown.push('metrics server', async () => { await server.close() })
    }

    // ---- main: register (main may still be starting: retry), then the control loop ----------------
    // refused (a bad or used token) or main unreachable: the catch below releases the host, ports and stores
    await retry(async () => await main.register({ peerId, role: opts.role, region: opts.region, addrs: bareAddrs(h), capacityBytes: opts.capacityBytes, ...(serving.lane !== undefined ? { fastLane: serving.lane.addr } : {}) }, { signal }), REGISTER_DEADLINE_MS, signal)
    await rules.poll({ signal })
    await revocations.poll({ signal })
    await bootstrap()
    const copier = new ItemCopier(parts, { filler, provide })
    startControlLoop(parts, { signer, filler, gater, serving, copier, heldItems }, teardown)

    let resolveDone!: () => void
    const done = new Promise<void>(resolve => { resolveDone = resolve })
    const stop = async (): Promise<void> => {
      await shutDown(new Error('node stopping'))
      resolveDone()
    }
    return { peerId, addrs: listenAddrs(h), host: h, metricsUrl: metricsServer?.url, statusUrl: metricsServer?.statusUrl, metrics, stop, done }
  } catch (err) {
    await shutDown(err)
    throw err
  }
}
