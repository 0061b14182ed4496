/**
 * One customer's client for one item: what `reelnet get` and `reelnet play`
 * run. It verifies the manifest, opens (or resumes) the `.part` file, asks
 * main for a directive bound to its own PeerId, starts a libp2p peer in the
 * directive's region, serves what it holds to other licensed peers
 * (peer-assist), downloads through the scheduler, keeps its directive fresh,
 * reports its holdings to main, and announces the item in the region DHT.
 */
import type { Libp2p } from '@libp2p/interface'
import { createHost, connectBootstrap, bareAddrs, type ReelnetHost } from '../net/host.ts'
import { loadOrCreateKey } from '../net/key.ts'
import { verifyChunk } from '../../protocol/chunking.ts'
import { itemCid } from '../../protocol/cid.ts'
import type { Directive, Manifest } from '../../protocol/types.ts'
import { MainApi, type IssuedDirective } from './main-api.ts'
import { PartFile } from './resume.ts'
import { Scheduler } from '../download/engine.ts'
import type { SchedulerLimits } from '../download/limits.ts'
import type { DownloadStats, SchedulerEvent } from '../download/stats.ts'
import { directiveSources, type SourceContext } from './sources.ts'
import { contentKeyOf } from '../../protocol/item-key.ts'
import { createChunkTransport, type ChunkTransport } from '../net/fast-lane/transport.ts'
import { FastLaneClient } from '../net/fast-lane/client.ts'
import { fastLaneCredentials, type FastLaneCredentials } from '../net/fast-lane/certificate.ts'
import { startNodeLane, type NodeLane } from '../net/fast-lane/node-lane.ts'
import { startSeeding, type Seeder } from './seeder.ts'
import { ContentKeyError, MainApiError, RegionUnservedError } from './errors.ts'
import { openContentKey } from '../../protocol/seal.ts'
import { removeContentKey, saveContentKey } from './content-key-file.ts'
import { announceable, CUSTOMER_DEFAULT_LISTEN } from './announce.ts'
import { createSigner, type Signer } from '../../protocol/keys.ts'
import { LicenseWatch } from './license-watch.ts'
import { watchTakedowns } from './takedown-watch.ts'
import type { PrivateKey } from '@libp2p/interface'

/** Sources one download reports to main at most: main rate-limits reporters anyway; a bound keeps a hostile swarm from making us spam. */
export const MAX_SOURCES_REPORTED = 16
/** A finished download waits at most this long for its reports to reach main before it stops. */
export const REPORT_FLUSH_MS = 3_000
/**
 * While it downloads or seeds, a client reads main's signed rules this often (an ETag poll: nothing is sent when
 * they did not change) so that a takedown stops it serving the item within about one node rules poll.
 */
export const CUSTOMER_RULES_POLL_MS = 3_000
/** A directive is renewed once this fraction of its lifetime has passed, well before it expires. */
export const DIRECTIVE_RENEW_FRACTION = 0.6
/** After a failed renewal, try again this soon. */
export const DIRECTIVE_RETRY_MS = 5_000
/** Holdings are re-reported this often (main forgets them after two minutes). */
export const HOLDINGS_REFRESH_MS = 45_000
/** A partial holder re-reports this often while it downloads (it holds more each time). */
export const HOLDINGS_PARTIAL_REFRESH_MS = 10_000
/** A partial holding is first reported once this many chunks are held: before that we have little to give. */
export const HOLDINGS_FIRST_REPORT_CHUNKS = 8
/** Announcing in the region DHT takes at most this long; it is a hint, the directive is the authority. */
export const PROVIDE_TIMEOUT_MS = 10_000
/**
 * A finished download joins the region DHT and announces the item only after this long, and only if the client is
 * still up (seeding). Downloads never need the DHT: directives name the sources. So a client that stops at once
 * (`reelnet get` without --seed) opens no libp2p connection at all, and the edges do not pay a Noise handshake,
 * identify and a DHT routing-table entry for every download (most of a customer's cost at an edge under load).
 */
export const DHT_ANNOUNCE_DELAY_MS = 5_000
/** Fast-lane certificates kept per process (one per client identity); past this the cache starts over. */
export const MAX_CACHED_LANE_CREDENTIALS = 1_024
/** Identities whose fast-lane client and idle host one ClientShare keeps; past this it starts over. */
export const MAX_SHARED_IDENTITIES = 1_024

/**
 * Fast-lane certificates made in this process, by PeerId. Making one costs an ECDSA key and a libp2p signature
 * (~7 ms of CPU), and @libp2p/tls makes them valid for 100 years: one per identity, not one per download.
 */
const laneCredentials = new Map<string, Promise<FastLaneCredentials>>()
function laneCredentialsFor (peerId: string, privateKey: PrivateKey): Promise<FastLaneCredentials> {
  let c = laneCredentials.get(peerId)
  if (c === undefined) {
    if (laneCredentials.size >= MAX_CACHED_LANE_CREDENTIALS) laneCredentials.clear()
    c = fastLaneCredentials(privateKey)
    laneCredentials.set(peerId, c)
    c.catch(() => { if (laneCredentials.get(peerId) === c) laneCredentials.delete(peerId) })
  }
  return c
}

/**
 * What one process keeps across its downloads, per client identity (PeerId): the fast-lane client with its TLS
 * connections to edges and peers (they close after CLIENT_IDLE_MS unused), and the libp2p host (its listener, keys
 * and peer store). A process that runs download after download passes one ClientShare to every Customer it starts,
 * instead of paying per download a libp2p node, and a TLS handshake and certificate check per peer at both ends.
 * Sound because every chunk request carries the directive and the server checks it per request, not per connection;
 * the seeder's protocol handlers go with its download (chunk-server's unhandle). Its owner closes it; `reelnet get`
 * and `play` run one download each and pass none.
 */
export class ClientShare {
  readonly #lanes = new Map<string, FastLaneClient>()
  /** Hosts not in use, by identity, region, listen addresses and main (the announce filter depends on it). */
  readonly #idleHosts = new Map<string, ReelnetHost>()
  #closed = false

  /** The shared fast-lane client of `peerId` (made with its credentials on first use). */
  laneClientFor (peerId: string, credentials: FastLaneCredentials, log?: (line: string) => void): FastLaneClient {
    if (this.#closed) throw new Error('this ClientShare is closed')
    let c = this.#lanes.get(peerId)
    if (c === undefined) {
      if (this.#lanes.size >= MAX_SHARED_IDENTITIES) { for (const x of this.#lanes.values()) x.close(); this.#lanes.clear() }
      c = new FastLaneClient({ credentials, log })
      this.#lanes.set(peerId, c)
    }
    return c
  }

  /** An idle host kept under `key`, now in use by the caller; undefined: make one. */
  takeHost (key: string): ReelnetHost | undefined {
    const h = this.#idleHosts.get(key)
    this.#idleHosts.delete(key)
    return h
  }

  /** Keep a host for the next download under `key` (one per key; any other, or after close, is stopped). */
  async returnHost (key: string, host: ReelnetHost): Promise<void> {
    if (this.#closed || this.#idleHosts.has(key) || this.#idleHosts.size >= MAX_SHARED_IDENTITIES) { await Promise.resolve(host.stop()).catch(() => {}); return }
    this.#idleHosts.set(key, host)
  }

  async close (): Promise<void> {
    this.#closed = true
    for (const c of this.#lanes.values()) c.close()
    this.#lanes.clear()
    const hosts = [...this.#idleHosts.values()]
    this.#idleHosts.clear()
    await Promise.all(hosts.map(async h => { await Promise.resolve(h.stop()).catch(() => {}) }))
  }
}

export interface CustomerOptions {
  mainUrl: string
  token: string
  mainKey: Uint8Array
  itemId: string
  licenseId: string
  licenseExpiresAt: number
  outPath: string
  /** Where this customer's libp2p key lives (its config dir). */
  keyDir: string
  region?: string
  listen?: string[]
  maxUpload?: number
  signal?: AbortSignal
  limits?: Partial<SchedulerLimits>
  onEvent?: (e: SchedulerEvent) => void
  log?: (line: string) => void
  /** Fetch over the peers' fast lanes (TLS 1.3) when they have one; false: libp2p only. Default true. */
  fastLane?: boolean
  /** Keep this client's fast-lane connections and libp2p host for its next download in this process (see ClientShare). */
  share?: ClientShare
  /** Each directive main issued to this client (the first and every renewal): its ids let an operator follow the download. */
  onDirective?: (d: Directive) => void
  /** How often to ask main's revocation list whether the licence stands (default DEFAULT_REVOCATION_POLL_MS). */
  revocationPollMs?: number
  /** The licence's offline grace, when it states one (default DEFAULT_OFFLINE_GRACE_MS). */
  offlineGraceMs?: number
  /** The licence's kind, kept beside the content key (export needs a purchase). */
  licenseKind?: 'rental' | 'purchase'
  /** The licence ended while this client ran: seeding has stopped and the content key file is gone. */
  onExpired?: () => void
}

export class Customer {
  readonly opts: CustomerOptions
  readonly api: MainApi
  readonly manifest: Manifest
  readonly part: PartFile
  readonly host: ReelnetHost
  readonly seeder: Seeder
  readonly scheduler: Scheduler
  readonly region: string
  private directive: IssuedDirective
  private readonly timers = new Set<NodeJS.Timeout>()
  private lastReportAt = 0
  /** Signs this client's reports of bad sources to main (its own key, the one its directives name). */
  private reportSigner: (() => Signer & { peerId: string }) | undefined
  /** Sources already reported in this download: one report each is enough. */
  private readonly reported = new Set<string>()
  /** Reports on their way to main: stop() gives them REPORT_FLUSH_MS to arrive. */
  private readonly reporting = new Set<Promise<void>>()
  private stopped = false
  /** An encrypted item's content key (opened from main's sealed box), dropped when the licence ends. */
  #contentKey: Uint8Array | undefined
  #expired = false
  readonly #expiry = new AbortController()

  /** How chunks are fetched (fast lane, libp2p fallback). */
  readonly transport: ChunkTransport
  /** The seeding side's fast lane, when it listens. */
  private lane: NodeLane | undefined
  /** What the host is kept under in a ClientShare. */
  private hostKey = ''

  /** Asks main whether the licence still stands; its signal stops the download, playback and seeding (issue 14b). */
  readonly watch: LicenseWatch

  private constructor (opts: CustomerOptions, api: MainApi, manifest: Manifest, part: PartFile, host: ReelnetHost, seeder: Seeder, directive: IssuedDirective, watch: LicenseWatch, transport: ChunkTransport) {
    this.transport = transport
    this.opts = opts
    this.watch = watch
    this.api = api
    this.manifest = manifest
    this.part = part
    this.host = host
    this.seeder = seeder
    this.directive = directive
    this.region = directive.directive.region
    // chunks of this manifest's version travel under its wire key (itemId@N; the bare itemId for version 1)
    const ctx: SourceContext = { host: host as unknown as Libp2p, itemId: contentKeyOf(manifest.itemId, manifest.version), credential: () => this.directive.bytes, transport }
    const self = host.peerId.toString()
    this.scheduler = new Scheduler({
      chunkCount: manifest.chunkCount,
      chunkLength: i => i < manifest.chunkCount - 1 ? manifest.chunkSize : manifest.size - manifest.chunkSize * (manifest.chunkCount - 1),
      done: part.resumed,
      verify: (i, bytes) => { try { verifyChunk(manifest, i, bytes); return true } catch { return false } },
      store: async (i, bytes) => { await part.write(i, bytes) },
      // the part file writes the bytes and keeps no reference: their frame buffer may take the next chunk
      recycleStored: true,
      moreSources: async (reason, signal) => {
        await this.renewDirective(signal)
        unservedCheck(this.directive)
        return directiveSources(ctx, this.directive.directive, self)
      },
      signal: opts.signal === undefined ? watch.signal : AbortSignal.any([opts.signal, watch.signal]),
      fallbackKinds: ['parent'],
      limits: opts.limits,
      onEvent: e => {
        if (e.type === 'bad-chunk') this.reportBadSource(e.source, e.index)
        opts.onEvent?.(e)
      }
    })
    this.scheduler.addSources(directiveSources(ctx, directive.directive, self))
  }

  static async start (opts: CustomerOptions): Promise<Customer> {
    const api = new MainApi({ url: opts.mainUrl, token: opts.token, mainKey: opts.mainKey })
    const key = await loadOrCreateKey(opts.keyDir)
    const peerId = key.peerId.toString()
    let { manifest } = await api.manifest(opts.itemId, { signal: opts.signal })
    // the directive names the version to download (issue 15): the newest, unless a replace came in between
    const directive = await api.directive({ licenseId: opts.licenseId, itemId: opts.itemId, clientPeerId: peerId, region: opts.region, itemVersion: manifest.version }, { signal: opts.signal })
    opts.onDirective?.(directive.directive)
    const granted = directive.directive.itemVersion ?? 1
    if (granted !== manifest.version) manifest = (await api.manifest(opts.itemId, { signal: opts.signal, version: granted })).manifest
    const part = await PartFile.open(opts.outPath, manifest)
    let host: ReelnetHost | undefined
    let hostKey = ''
    let seeder: Seeder | undefined
    let accountId: string | undefined
    const watch = new LicenseWatch({
      fetch: async (etag, o) => await api.revocations(etag, o),
      mainPublicKey: opts.mainKey,
      licenseId: opts.licenseId,
      accountId: () => accountId,
      pollMs: opts.revocationPollMs,
      offlineGraceMs: opts.offlineGraceMs,
      log: opts.log
    })
    let lane: NodeLane | undefined
    try {
      unservedCheck(directive)
      accountId = directive.directive.accountId
      await watch.start()
      if (watch.signal.aborted) throw watch.signal.reason
      // a DHT client: customers come and go, so they announce but never sit in the members' routing tables
      hostKey = `${peerId} ${directive.directive.region} ${(opts.listen ?? CUSTOMER_DEFAULT_LISTEN).join(',')} ${opts.mainUrl}`
      host = opts.share?.takeHost(hostKey) ?? await createHost({ privateKey: key.privateKey, region: directive.directive.region, listen: opts.listen ?? CUSTOMER_DEFAULT_LISTEN, announce: addrs => announceable(addrs, opts.mainUrl), dhtClient: true })
      seeder = await startSeeding({
        host: host as unknown as Libp2p,
        part,
        region: directive.directive.region,
        mainKey: opts.mainKey,
        licenseExpiresAt: opts.licenseExpiresAt,
        maxUpload: opts.maxUpload,
        onRefused: (peer, reason) => opts.log?.(`refused ${peer}: ${reason}`),
        revocations: watch.follower,
        ownRefusal: () => watch.refusal()
      })
      const credentials = opts.fastLane === false ? undefined : await laneCredentialsFor(peerId, key.privateKey)
      const lanes = credentials === undefined ? undefined : opts.share?.laneClientFor(peerId, credentials, opts.log) ?? new FastLaneClient({ credentials, log: opts.log })
      // the seeding side's fast lane: what the seeder serves, to whom it admits, under its cap; none if it cannot listen
      if (credentials !== undefined) {
        const { source, authorize, uploadLimiter, onServed } = seeder.served
        lane = await startNodeLane({
          credentials, listen: opts.listen ?? CUSTOMER_DEFAULT_LISTEN, announced: bareAddrs(host), source, authorize, uploadLimiter, onServed,
          onMalformed: (peer, err) => opts.log?.(`refused ${peer}: malformed fast-lane frame: ${err.message}`)
        }).catch((err: unknown) => { opts.log?.(`no fast lane for seeding: ${(err as Error).message}`); return undefined })
      }
      const c = new Customer(opts, api, manifest, part, host, seeder, directive, watch, createChunkTransport({ host: host as unknown as Libp2p, lanes, log: opts.log }))
      c.lane = lane
      c.hostKey = hostKey
      if (manifest.encryption !== undefined) {
        if (directive.contentKey === undefined) throw new ContentKeyError(`item ${manifest.itemId} is encrypted, but main sent no content key with the directive`)
        try {
          c.#contentKey = openContentKey(directive.contentKey, { seed: key.seed, clientPeerId: peerId, licenseId: opts.licenseId })
        } catch (err) {
          throw new ContentKeyError(`the content key main sent does not open with this client's key: ${(err as Error).message}`)
        }
        await saveContentKey(opts.keyDir, {
          itemId: manifest.itemId, version: manifest.version, chunkSize: manifest.chunkSize, keyId: manifest.encryption.keyId,
          licenseId: opts.licenseId, kind: opts.licenseKind ?? 'rental', expiresAt: opts.licenseExpiresAt, file: opts.outPath, key: c.#contentKey
        })
      }
      c.scheduleExpiry()
      // made on the first report only: a signer costs a key import, and most downloads never report anyone
      let signer: (Signer & { peerId: string }) | undefined
      c.reportSigner = () => (signer ??= Object.assign(createSigner(key.seed), { peerId }))
      c.scheduleRenewal()
      c.watchTakedown()
      c.schedule(() => { void c.reportHoldings(false) }, 1_000, true)
      return c
    } catch (err) {
      watch.close()
      await lane?.server.close().catch(() => {})
      await seeder?.stop().catch(() => {})
      if (host !== undefined) await releaseHost(opts.share, hostKey, host)
      await part.close().catch(() => {})
      throw err
    }
  }

  get peerId (): string { return this.host.peerId.toString() }

  /** The content key while the licence is valid (undefined for a plaintext item, and after expiry). */
  get contentKey (): Uint8Array | undefined { return this.#expired ? undefined : this.#contentKey }

  /** True once the licence has ended (then nothing plays, nothing is served, the key file is gone). */
  get expired (): boolean { return this.#expired || Date.now() >= this.opts.licenseExpiresAt }

  /** Aborts when the licence ends. */
  get expirySignal (): AbortSignal { return this.#expiry.signal }

  /** At the licence's end: drop the key (memory and file), stop serving peers, tell the caller. */
  private scheduleExpiry (): void {
    const fire = (): void => {
      const left = this.opts.licenseExpiresAt - Date.now()
      // setTimeout's limit is 2^31-1 ms (24.8 days): a long rental re-arms until its end is in reach
      if (left > 0) {
        // not unref'd: a seeding client has to be awake at the end of its licence
        const t = setTimeout(() => { this.timers.delete(t); fire() }, Math.min(left, 2 ** 31 - 1))
        this.timers.add(t)
        return
      }
      void this.expire()
    }
    fire()
  }

  private async expire (): Promise<void> {
    if (this.#expired) return
    this.#expired = true
    this.#contentKey = undefined
    await removeContentKey(this.opts.keyDir, this.manifest.itemId).catch(() => {})
    await this.seeder.stop().catch(() => {})
    this.#expiry.abort(new Error('the licence has ended'))
    this.opts.log?.(`your licence for ${this.manifest.itemId} ended at ${new Date(this.opts.licenseExpiresAt).toISOString()}: playback and seeding stopped, the content key was removed`)
    this.opts.onExpired?.()
  }

  /** Download every missing chunk, then check the root and rename into place. */
  async download (): Promise<DownloadStats> {
    let stats: DownloadStats
    try {
      stats = await this.scheduler.run()
    } catch (err) {
      // stopped because main revoked the licence (or could not be asked past the offline grace): say that, not "aborted"
      if (this.watch.signal.aborted) throw this.watch.signal.reason
      throw err
    }
    await this.part.finish()
    await this.reportHoldings(true)
    this.schedule(() => { void this.provide() }, DHT_ANNOUNCE_DELAY_MS)
    return stats
  }

  /** Why this client stopped serving before its licence ended (the item was taken down), if it did. */
  endedReason: string | undefined
  private onEnded: (() => void) | undefined

  #unwatchTakedowns: (() => void) | undefined

  /** Stop serving (and fail the download) once main's signed rules list this item as taken down (one poll per process, takedown-watch.ts). */
  private watchTakedown (): void {
    this.#unwatchTakedowns = watchTakedowns(this.api, this.opts.mainKey, CUSTOMER_RULES_POLL_MS, removed => {
      if (this.stopped || this.endedReason !== undefined) return
      if (removed.includes(this.opts.itemId)) this.endSeeding(`item ${this.opts.itemId} was taken down (main's signed rules list it as removed)`)
    })
  }

  private endSeeding (reason: string): void {
    if (this.endedReason !== undefined) return
    this.endedReason = reason
    this.opts.log?.(`no longer serving ${this.opts.itemId}: ${reason}`)
    void this.seeder.stop().catch(() => {})
    this.onEnded?.()
  }

  /** Keep serving until the license expires (seeding stopped, key removed), the item is taken down, or `signal` fires; throws the reason when main revokes the licence meanwhile. */
  async seed (signal?: AbortSignal): Promise<void> {
    if (this.#expired || this.endedReason !== undefined) return
    await new Promise<void>(resolve => {
      this.onEnded = () => { resolve() }
      this.#expiry.signal.addEventListener('abort', () => { resolve() }, { once: true })
      signal?.addEventListener('abort', () => { resolve() }, { once: true })
      this.watch.signal.addEventListener('abort', () => { resolve() }, { once: true })
      if (this.watch.signal.aborted) resolve()
    })
    if (this.watch.signal.aborted && signal?.aborted !== true) throw this.watch.signal.reason
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.watch.close()
    this.#unwatchTakedowns?.()
    for (const t of this.timers) { clearTimeout(t); clearInterval(t) }
    this.timers.clear()
    if (this.reporting.size > 0) {
      await Promise.race([Promise.allSettled([...this.reporting]), new Promise(resolve => setTimeout(resolve, REPORT_FLUSH_MS).unref())])
    }
    await this.seeder.stop().catch(() => {})
    // a shared fast-lane client stays for this identity's next download (its owner closes it)
    if (this.opts.share === undefined || this.opts.fastLane === false) this.transport.close()
    await this.lane?.server.close().catch(() => {})
    await releaseHost(this.opts.share, this.hostKey, this.host)
    await this.part.close().catch(() => {})
  }

  private schedule (fn: () => void, ms: number, repeat = false): void {
    const t = repeat ? setInterval(fn, ms) : setTimeout(() => { this.timers.delete(t); fn() }, ms)
    t.unref()
    this.timers.add(t)
  }

  /** Tell main once per source that it sent a bad chunk (main quarantines it when reporters agree); never fails the download. */
  private reportBadSource (source: string, chunkIndex: number): void {
    if (this.reportSigner === undefined || this.reported.has(source) || this.reported.size >= MAX_SOURCES_REPORTED) return
    this.reported.add(source)
    const sent = this.api.reportBadSource({ itemId: this.manifest.itemId, source, region: this.region, chunkIndex }, this.reportSigner(), { signal: this.opts.signal })
      .then(r => { this.opts.log?.(`reported ${source} to main for a bad chunk${r.quarantined ? ' (now quarantined)' : ''}`) },
        (err: unknown) => { this.opts.log?.(`reporting ${source} failed: ${(err as Error).message}`) })
    this.reporting.add(sent)
    void sent.finally(() => { this.reporting.delete(sent) })
  }

  private scheduleRenewal (): void {
    const d = this.directive.directive
    const wait = Math.max(1_000, (d.expiresAt - d.issuedAt) * DIRECTIVE_RENEW_FRACTION - (Date.now() - d.issuedAt))
    this.schedule(() => {
      this.renewDirective().then(() => { this.scheduleRenewal() }, (err: unknown) => {
        this.opts.log?.(`renewing the directive failed: ${(err as Error).message}`)
        this.schedule(() => { this.scheduleRenewal() }, DIRECTIVE_RETRY_MS)
      })
    }, wait)
  }

  private async renewDirective (signal?: AbortSignal): Promise<void> {
    const sig = signal === undefined ? this.opts.signal : (this.opts.signal === undefined ? signal : AbortSignal.any([signal, this.opts.signal]))
    let next: IssuedDirective
    try {
      // a download finishes on the version it began with while main keeps that version live (issue 15)
      next = await this.api.directive({ licenseId: this.opts.licenseId, itemId: this.opts.itemId, clientPeerId: this.peerId, region: this.region, itemVersion: this.manifest.version }, { signal: sig })
    } catch (err: unknown) {
      // taken down: stop serving it to others at once, and say why
      if (err instanceof MainApiError && err.status === 410) this.endSeeding(err.message)
      throw err
    }
    this.directive = next
    this.opts.onDirective?.(this.directive.directive)
    const granted = next.directive.itemVersion ?? 1
    if (granted !== this.manifest.version) this.opts.log?.(`version ${this.manifest.version} of ${this.opts.itemId} is no longer served (now version ${granted}); this download goes on with the sources it has, run it again for version ${granted}`)
  }

  /** Tell main what we hold, so directives for others of our region can list us. */
  private async reportHoldings (force: boolean): Promise<void> {
    if (this.stopped || Date.now() >= this.opts.licenseExpiresAt) return
    const held = this.scheduler.stats().doneChunks
    const complete = held === this.manifest.chunkCount && this.part.isComplete
    const now = Date.now()
    if (!force) {
      if (held < Math.min(HOLDINGS_FIRST_REPORT_CHUNKS, this.manifest.chunkCount)) return
      const every = complete ? HOLDINGS_REFRESH_MS : HOLDINGS_PARTIAL_REFRESH_MS
      if (this.lastReportAt > 0 && now - this.lastReportAt < every) return
    }
    this.lastReportAt = now
    try {
      await this.api.reportHolding({ licenseId: this.opts.licenseId, peerId: this.peerId, addrs: bareAddrs(this.host), region: this.region, complete, ...(this.lane !== undefined ? { fastLane: this.lane.addr } : {}) })
    } catch (err) {
      if (err instanceof MainApiError && err.status === 410) this.endSeeding(err.message)
      this.opts.log?.(`reporting holdings failed: ${(err as Error).message}`)
    }
  }

  /** Join the region DHT through the nodes the directive names (never peers of other regions), then announce the item (its CID) there. */
  private async provide (): Promise<void> {
    if (this.stopped) return
    try {
      const signal = AbortSignal.timeout(PROVIDE_TIMEOUT_MS)
      await connectBootstrap(this.host, this.directive.directive.peers.filter(p => p.role !== 'peer'), { signal })
      if (this.stopped) return
      // provide is a query: nothing is sent until its events are read
      for await (const _ of this.host.services.dht.provide(itemCid(this.manifest.merkleRoot), { signal })) { /* drain */ }
    } catch (err) {
      this.opts.log?.(`announcing in the region DHT failed: ${(err as Error).message}`)
    }
  }
}

/** Stop the host, or keep it for this identity's next download when the caller shares. */
async function releaseHost (share: ClientShare | undefined, key: string, host: ReelnetHost): Promise<void> {
  if (share !== undefined) await share.returnHost(key, host)
  else await Promise.resolve(host.stop()).catch(() => {})
}

/**
 * A directive that names no source at all (every node of the region down or drained, or none registered, and
 * no peer holding the item) ends the download at once with main's reason: retrying for a minute, as before,
 * only hid the cause.
 */
function unservedCheck (d: IssuedDirective): void {
  if (d.directive.peers.length > 0) return
  throw new RegionUnservedError(`no source in region ${d.directive.region}: ${d.unserved ?? 'main named no node or peer'}`)
}
