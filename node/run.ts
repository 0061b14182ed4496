/**
 * A whole parent or edge node: identity, main's pinned key, registration,
 * the signed rules, the libp2p host with its region DHT and gater, the
 * chunk store, serving, filling, the parent's catalog copy, the edge's
 * prepositioning, heartbeats, and a status file for operators and tests.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises'
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
import { ManifestCache } from './items.ts'
import { createAccessGater } from './gater.ts'
import { createAuthorizer } from './access.ts'
import { bareAddrs, connectBootstrap, createHost, dhtProtocol, listenAddrs, routingTablePeers, type ReelnetHost } from './host.ts'
import { serveChunks, type ChunkSource } from './chunk-server.ts'
import { Filler } from './fill.ts'
import { TokenBucket } from './token-bucket.ts'

/** Chunks a parent copies from main at once (each a readahead batch of the filler). */
export const PARENT_COPY_WORKERS = 4
/** Chunks an edge prepositions at once: less than a parent, it also serves customers. */
export const PREPOSITION_WORKERS = 2
/** A DHT provide that has not finished by then is retried on the next tick (an empty routing table makes it hang). */
export const PROVIDE_TIMEOUT_MS = 10_000
/** Registration is retried this long while main starts up. */
export const REGISTER_DEADLINE_MS = 60_000
/** The libp2p ping protocol id (blocked for peers on probation, like the DHT). */
export const PING_PROTOCOL = '/ipfs/ping/1.0.0'
export const STATUS_FILE = 'status.json'

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
  log: (line: string) => void
}

export interface RunningNode {
  peerId: string
  addrs: string[]
  host: ReelnetHost
  stop: () => Promise<void>
  /** Resolves when the node stopped (by stop() or a fatal error). */
  done: Promise<void>
}

export async function startNode (opts: NodeOptions): Promise<RunningNode> {
  const log = opts.log
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

  let host: ReelnetHost | undefined
  const rules = new RulesFollower({
    main, state, mainPublicKey: mainKey.publicKey, region: opts.region, log,
    onChange: r => {
      log(`rules version ${r.version}`)
      if (host !== undefined) void bootstrap()
    }
  })
  await rules.load()

  const gater = createAccessGater({ isMember: id => rules.roleOf(id) !== undefined, log })
  host = await createHost({ privateKey: key.privateKey, region: opts.region, listen: opts.listen, gater: gater.gater })
  const h = host
  const unwatch = gater.watch(h, [dhtProtocol(opts.region), PING_PROTOCOL])

  async function bootstrap (): Promise<void> {
    const peers = rules.members().filter(m => m.peerId !== peerId)
    if (peers.length > 0) await connectBootstrap(h, peers, { signal })
  }

  const served = { edge: 0, parent: 0, peer: 0, client: 0 }
  const provided = new Set<string>()
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

  const filler = new Filler({
    host: h,
    store,
    main,
    selfPeerId: peerId,
    role: opts.role,
    regionMembers: () => ({ parents: rules.region()?.parents ?? [], edges: rules.region()?.edges ?? [] }),
    signal,
    log,
    onStored: m => { if (opts.role === 'edge' && !provided.has(m.itemId)) void provide(m) }
  })

  const source: ChunkSource = {
    async getChunk (itemId, index, o) {
      let manifest: Manifest
      try {
        manifest = await items.get(itemId, o)
      } catch (err) {
        if (err instanceof MainHttpError && err.status === 404) return null
        throw err
      }
      if (index >= manifest.chunkCount) return null
      return await filler.get(manifest, index, o.signal)
    },
    async have (itemId) {
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
    isMember: id => rules.roleOf(id) !== undefined,
    onAdmitted: (id, d) => { gater.admit(id, d.expiresAt) },
    onRefused: (id, reason) => { log(`refused ${id}: ${reason}`) }
  })
  const unserve = await serveChunks(h, {
    source,
    authorize: authorizer.authorize,
    mayAskHave: conn => authorizer.mayAskHave(conn) || gater.isAdmitted(conn.remotePeer.toString()),
    uploadLimiter: opts.maxUploadBytesPerSec !== undefined ? new TokenBucket(opts.maxUploadBytesPerSec) : undefined,
    onServed: (remote, bytes) => { served[rules.roleOf(remote) ?? 'client'] += bytes },
    log
  })

  // register (main may still be starting: retry)
  await retry(async () => await main.register({ peerId, role: opts.role, region: opts.region, addrs: bareAddrs(h), capacityBytes: opts.capacityBytes }, { signal }), REGISTER_DEADLINE_MS, signal)
  await rules.poll({ signal })
  await bootstrap()

  // ---- background work -------------------------------------------------------------------
  let copying = false
  async function copyItems (itemIds: string[], workers: number): Promise<void> {
    if (copying) return
    copying = true
    try {
      for (const itemId of itemIds) {
        if (signal.aborted) return
        let manifest: Manifest
        try { manifest = await items.get(itemId, { signal }) } catch (err) { log(`manifest of ${itemId}: ${(err as Error).message}`); continue }
        const missing = filler.missing(manifest)
        if (missing.length > 0) {
          let next = 0
          let failed = 0
          await Promise.all(Array.from({ length: workers }, async () => {
            while (next < missing.length && !signal.aborted) {
              const i = missing[next++]!
              try { await filler.get(manifest, i, signal) } catch { failed++ }
            }
          }))
          if (failed > 0) { log(`${itemId}: ${failed} chunks failed, retrying later`); continue }
          if (filler.isComplete(manifest)) log(`item ${itemId} complete: ${manifest.chunkCount} chunks verified`)
        }
        if (filler.isComplete(manifest)) await provide(manifest)
      }
    } finally {
      copying = false
    }
  }

  async function tickWork (): Promise<void> {
    if (opts.role === 'parent') {
      try {
        const catalog = await main.getCatalog({ signal })
        await copyItems(catalog.map(c => c.itemId), PARENT_COPY_WORKERS)
      } catch (err) {
        if (!signal.aborted) log(`catalog: ${(err as Error).message}`)
      }
    } else {
      const list = rules.region()?.preposition ?? []
      if (list.length > 0) await copyItems(list, PREPOSITION_WORKERS)
    }
  }

  let seq = 0
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
      heldItems: heldItems().slice(0, 10_000)
    }
    try {
      const answer = await main.heartbeat(peerId, toText(signHeartbeat(hb, signer)), { signal })
      gater.setAdmittedByMain(answer.admittedPeers)
      if (rules.rules === undefined || answer.rulesVersion > rules.rules.version) await rules.poll({ signal })
    } catch (err) {
      if (!signal.aborted) log(`heartbeat: ${(err as Error).message}`)
    }
  }

  let statusWrite: Promise<void> = Promise.resolve()
  async function writeStatus (): Promise<void> {
    statusWrite = statusWrite.then(writeStatusNow, writeStatusNow)
    await statusWrite
  }
  async function writeStatusNow (): Promise<void> {
    if (signal.aborted) return
    const status = {
      peerId, role: opts.role, region: opts.region, addrs: listenAddrs(h),
      rulesVersion: rules.rules?.version ?? null,
      routingTable: routingTablePeers(h),
      connections: h.getConnections().map(c => c.remotePeer.toString()),
      heldItems: heldItems(),
      store: { usedBytes: store.usedBytes, capacityBytes: store.capacityBytes, chunks: store.count, corruptOnRead: store.corruptOnRead, reconcile: store.reconcile },
      fetched: filler.stats,
      served,
      updatedAt: Date.now()
    }
    const path = join(opts.dataDir, STATUS_FILE)
    const tmp = `${path}.tmp`
    await writeFile(tmp, JSON.stringify(status, null, 2))
    await rename(tmp, path)
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
  every(opts.rulesPollMs, async () => { await rules.poll({ signal }); if (!working) { working = true; void tickWork().finally(() => { working = false }) } })
  every(opts.heartbeatMs, async () => { await heartbeat(); await writeStatus() })
  every(Math.min(1000, opts.heartbeatMs), writeStatus)
  every(30_000, async () => { await store.flushAccess() })
  working = true
  void tickWork().finally(() => { working = false })
  void heartbeat()
  await writeStatus()

  let resolveDone!: () => void
  const done = new Promise<void>(resolve => { resolveDone = resolve })
  let stopping: Promise<void> | undefined
  async function stop (): Promise<void> {
    stopping ??= (async () => {
      ctl.abort(new Error('node stopping'))
      for (const t of timers) clearInterval(t)
      unwatch()
      await unserve().catch(() => {})
      try { await h.stop() } catch { /* already stopped */ }
      await store.close().catch(() => {})
      await state.close().catch(() => {})
      resolveDone()
    })()
    await stopping
  }

  return { peerId, addrs: listenAddrs(h), host: h, stop, done }
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
