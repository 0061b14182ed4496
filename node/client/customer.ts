/**
 * One customer's client for one item: what `reelnet get` and `reelnet play`
 * run. It verifies the manifest, opens (or resumes) the `.part` file, asks
 * main for a directive bound to its own PeerId, starts a libp2p peer in the
 * directive's region, serves what it holds to other licensed peers
 * (peer-assist), downloads through the scheduler, keeps its directive fresh,
 * reports its holdings to main, and announces the item in the region DHT.
 */
import type { Libp2p } from '@libp2p/interface'
import { createHost, connectBootstrap, bareAddrs, type ReelnetHost } from '../host.ts'
import { loadOrCreateKey } from '../key.ts'
import { verifyChunk } from '../../protocol/chunking.ts'
import { itemCid } from '../../protocol/cid.ts'
import type { Directive, Manifest } from '../../protocol/types.ts'
import { MainApi, type IssuedDirective } from './main-api.ts'
import { PartFile } from './resume.ts'
import { Scheduler, type DownloadStats, type SchedulerEvent, type SchedulerLimits } from './scheduler.ts'
import { directiveSources, type SourceContext } from './sources.ts'
import { createChunkTransport, type ChunkTransport } from '../fast-lane/transport.ts'
import { FastLaneClient } from '../fast-lane/client.ts'
import { fastLaneCredentials } from '../fast-lane/certificate.ts'
import { startNodeLane, type NodeLane } from '../fast-lane/node-lane.ts'
import { startSeeding, type Seeder } from './seeder.ts'
import { RegionUnservedError } from './errors.ts'
import { announceable, CUSTOMER_DEFAULT_LISTEN } from './announce.ts'
import { createSigner, type Signer } from '../../protocol/keys.ts'

/** Sources one download reports to main at most: main rate-limits reporters anyway; a bound keeps a hostile swarm from making us spam. */
export const MAX_SOURCES_REPORTED = 16
/** A finished download waits at most this long for its reports to reach main before it stops. */
export const REPORT_FLUSH_MS = 3_000
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
  /** Each directive main issued to this client (the first and every renewal): its ids let an operator follow the download. */
  onDirective?: (d: Directive) => void
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
  private reportSigner: (Signer & { peerId: string }) | undefined
  /** Sources already reported in this download: one report each is enough. */
  private readonly reported = new Set<string>()
  /** Reports on their way to main: stop() gives them REPORT_FLUSH_MS to arrive. */
  private readonly reporting = new Set<Promise<void>>()
  private stopped = false
  /** How chunks are fetched (fast lane, libp2p fallback). */
  readonly transport: ChunkTransport
  /** The seeding side's fast lane, when it listens. */
  private lane: NodeLane | undefined

  private constructor (opts: CustomerOptions, api: MainApi, manifest: Manifest, part: PartFile, host: ReelnetHost, seeder: Seeder, directive: IssuedDirective, transport: ChunkTransport) {
    this.transport = transport
    this.opts = opts
    this.api = api
    this.manifest = manifest
    this.part = part
    this.host = host
    this.seeder = seeder
    this.directive = directive
    this.region = directive.directive.region
    const ctx: SourceContext = { host: host as unknown as Libp2p, itemId: manifest.itemId, credential: () => this.directive.bytes, transport }
    const self = host.peerId.toString()
    this.scheduler = new Scheduler({
      chunkCount: manifest.chunkCount,
      chunkLength: i => i < manifest.chunkCount - 1 ? manifest.chunkSize : manifest.size - manifest.chunkSize * (manifest.chunkCount - 1),
      done: part.resumed,
      verify: (i, bytes) => { try { verifyChunk(manifest, i, bytes); return true } catch { return false } },
      store: async (i, bytes) => { await part.write(i, bytes) },
      moreSources: async (reason, signal) => {
        await this.renewDirective(signal)
        unservedCheck(this.directive)
        return directiveSources(ctx, this.directive.directive, self)
      },
      signal: opts.signal,
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
    const { manifest } = await api.manifest(opts.itemId, { signal: opts.signal })
    const part = await PartFile.open(opts.outPath, manifest)
    let host: ReelnetHost | undefined
    let seeder: Seeder | undefined
    let lane: NodeLane | undefined
    try {
      const key = await loadOrCreateKey(opts.keyDir)
      const peerId = key.peerId.toString()
      const directive = await api.directive({ licenseId: opts.licenseId, itemId: opts.itemId, clientPeerId: peerId, region: opts.region }, { signal: opts.signal })
      opts.onDirective?.(directive.directive)
      unservedCheck(directive)
      host = await createHost({ privateKey: key.privateKey, region: directive.directive.region, listen: opts.listen ?? CUSTOMER_DEFAULT_LISTEN, announce: addrs => announceable(addrs, opts.mainUrl) })
      seeder = await startSeeding({
        host: host as unknown as Libp2p,
        part,
        region: directive.directive.region,
        mainKey: opts.mainKey,
        licenseExpiresAt: opts.licenseExpiresAt,
        maxUpload: opts.maxUpload,
        onRefused: (peer, reason) => opts.log?.(`refused ${peer}: ${reason}`)
      })
      const credentials = opts.fastLane === false ? undefined : await fastLaneCredentials(key.privateKey)
      const lanes = credentials === undefined ? undefined : new FastLaneClient({ credentials, log: opts.log })
      // the seeding side's fast lane: what the seeder serves, to whom it admits, under its cap; none if it cannot listen
      if (credentials !== undefined) {
        const { source, authorize, uploadLimiter, onServed } = seeder.served
        lane = await startNodeLane({
          credentials, listen: opts.listen ?? CUSTOMER_DEFAULT_LISTEN, announced: bareAddrs(host), source, authorize, uploadLimiter, onServed,
          onMalformed: (peer, err) => opts.log?.(`refused ${peer}: malformed fast-lane frame: ${err.message}`)
        }).catch((err: unknown) => { opts.log?.(`no fast lane for seeding: ${(err as Error).message}`); return undefined })
      }
      const c = new Customer(opts, api, manifest, part, host, seeder, directive, createChunkTransport({ host: host as unknown as Libp2p, lanes, log: opts.log }))
      c.lane = lane
      c.reportSigner = Object.assign(createSigner(key.seed), { peerId })
      c.scheduleRenewal()
      c.schedule(() => { void c.reportHoldings(false) }, 1_000, true)
      // join the region's DHT through the nodes the directive names (never peers of other regions)
      void connectBootstrap(host, directive.directive.peers.filter(p => p.role !== 'peer'), { signal: AbortSignal.timeout(PROVIDE_TIMEOUT_MS) }).catch(() => 0)
      return c
    } catch (err) {
      await lane?.server.close().catch(() => {})
      await seeder?.stop().catch(() => {})
      if (host !== undefined) await Promise.resolve(host.stop()).catch(() => {})
      await part.close().catch(() => {})
      throw err
    }
  }

  get peerId (): string { return this.host.peerId.toString() }

  /** Download every missing chunk, then check the root and rename into place. */
  async download (): Promise<DownloadStats> {
    const stats = await this.scheduler.run()
    await this.part.finish()
    await this.reportHoldings(true)
    void this.provide()
    return stats
  }

  /** Keep serving until the license expires or `signal` fires. */
  async seed (signal?: AbortSignal): Promise<void> {
    const left = this.opts.licenseExpiresAt - Date.now()
    if (left <= 0) return
    await new Promise<void>(resolve => {
      const t = setTimeout(resolve, Math.min(left, 2 ** 31 - 1))
      signal?.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
    })
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const t of this.timers) { clearTimeout(t); clearInterval(t) }
    this.timers.clear()
    if (this.reporting.size > 0) {
      await Promise.race([Promise.allSettled([...this.reporting]), new Promise(resolve => setTimeout(resolve, REPORT_FLUSH_MS).unref())])
    }
    await this.seeder.stop().catch(() => {})
    this.transport.close()
    await this.lane?.server.close().catch(() => {})
    await Promise.resolve(this.host.stop()).catch(() => {})
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
    const sent = this.api.reportBadSource({ itemId: this.manifest.itemId, source, region: this.region, chunkIndex }, this.reportSigner, { signal: this.opts.signal })
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
    this.directive = await this.api.directive({ licenseId: this.opts.licenseId, itemId: this.opts.itemId, clientPeerId: this.peerId, region: this.region }, { signal: sig })
    this.opts.onDirective?.(this.directive.directive)
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
      this.opts.log?.(`reporting holdings failed: ${(err as Error).message}`)
    }
  }

  /** Announce the item (its CID) in the region DHT. */
  private async provide (): Promise<void> {
    try {
      await this.host.services.dht.provide(itemCid(this.manifest.merkleRoot), { signal: AbortSignal.timeout(PROVIDE_TIMEOUT_MS) })
    } catch (err) {
      this.opts.log?.(`announcing in the region DHT failed: ${(err as Error).message}`)
    }
  }
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
