/**
 * Directives: a signed, short-lived list of where a licensed client may
 * fetch an item in its region. The hot path (thousands per second) does no
 * disk reads: sessions and licenses are cached, and the ranked peers of a
 * region and item are computed at most once per RANK_CACHE_MS or registry
 * change. Also kept here: which customer peers hold which items
 * (peer-assist) and which clients are admitted in which region (for nodes).
 */
import { randomUUID } from 'node:crypto'
import type { Directive, DirectivePeer } from '../protocol/types.ts'
import type { Signer } from '../protocol/keys.ts'
import { signDirective } from '../protocol/documents.ts'
import { toText } from '../protocol/signing.ts'
import { rankPeers, type RankCandidate } from '../protocol/policy/rank.ts'
import type { MainStore, LicenseRecord, AdmissionWrite } from './store.ts'
import type { DemandRow, HoldingRecord } from './storage/types.ts'
import type { Registry } from './registry.ts'
import type { RulesPublisher } from './rules.ts'
import { forbidden, ApiError } from './errors.ts'
import { DIRECTIVE_PEER_LIMIT, RANK_CACHE_MS, HOLDING_TTL_MS } from './limits.ts'
import { servingLoad } from './serving-load.ts'

/** A customer may report at most this many of its own peers (devices) as holders per license: bounds memory per rental. */
export const MAX_HOLDERS_PER_LICENSE = 4
/** Admissions kept per region before the oldest are dropped: bounds memory and heartbeat answers. */
export const MAX_ADMISSIONS_PER_REGION = 100_000
/**
 * Admissions are written to level in batches this often rather than one
 * write per directive (thousands a second): a crash forgets at most this
 * much of them, and an admission is only a hint to nodes — the directive the
 * client holds is its credential.
 */
export const ADMISSION_FLUSH_MS = 1_000
/** Demand for automatic prepositioning is counted over the last hour: recent enough to follow a release, long enough to be more than noise. */
export const DEMAND_WINDOW_MS = 3600_000
/** Demand is added to the store per minute: the window is then approximated to 1/60 of its length, and each (region, item) has at most 60 rows. */
export const DEMAND_BUCKET_MS = 60_000
/** Distinct (region, item) pairs the plan reads from the store at most (the most requested first): bounds one plan's memory. */
export const MAX_DEMAND_PAIRS = 100_000
/** Holdings one read from the store takes at most (the most recently changed first): bounds memory per read. */
export const MAX_HOLDINGS_READ = 100_000
/**
 * A main re-reads holdings changed this long before its last read, on the store's clock: a report another main was
 * still writing then (its statement takes milliseconds) is not missed. Re-reading one is harmless.
 */
export const HOLDING_SYNC_OVERLAP_MS = 5_000

interface Holding {
  peerId: string
  licenseId: string
  addrs: string[]
  region: string
  complete: boolean
  fastLane?: string
  reportedAt: number
  expiresAt: number
}

interface RankEntry { peers: DirectivePeer[], computedAt: number, generation: number }

export interface IssueRequest {
  license: LicenseRecord
  accountId: string
  clientPeerId: string
  region: string
  /** The manifest version the download runs on (issue 15); 1 is left out of the directive (absent = 1). */
  itemVersion?: number
  /** The directive expires by then at the latest (its device's slot ends then: main/devices.ts). */
  notAfter?: number
}

/** Check that a license may be used by this account now: 403 (with a precise code) otherwise. */
export function checkLicenseUse (license: LicenseRecord | undefined, accountId: string, now: number): LicenseRecord {
  if (license === undefined) throw new ApiError(403, 'license_unknown', 'no such license')
  if (license.accountId !== accountId) throw new ApiError(403, 'license_foreign', 'this license belongs to another account')
  if (license.expiresAt <= now) throw new ApiError(403, 'license_expired', 'this license has expired; rent the item again')
  if (license.notBefore > now) throw forbidden('this license is not valid yet')
  return license
}

export class Directives {
  readonly #store: MainStore
  readonly #registry: Registry
  readonly #rules: RulesPublisher
  readonly #signer: Signer
  readonly #now: () => number
  readonly ttlMs: number
  /** itemId → peerId → holding */
  readonly #holdings = new Map<string, Map<string, Holding>>()
  #holdingsGeneration = 0
  /** region → clientPeerId → expiry of its latest directive there */
  readonly #admissions = new Map<string, Map<string, number>>()
  readonly #rankCache = new Map<string, RankEntry>()
  /** Admissions not yet written: key → expiry. */
  #dirty = new Map<string, number>()
  #flushTimer: ReturnType<typeof setInterval> | undefined
  #flushing: Promise<void> = Promise.resolve()
  onIssued: (directive: Directive) => void = () => {}
  /** Sources left out of every directive (quarantined after agreeing bad-chunk reports); its generation invalidates cached rankings. */
  excluded: { has: (peerId: string) => boolean, generation: number } = { has: () => false, generation: 0 }
  /** A background write of admissions failed (it is retried on the next tick). */
  onFlushError: (err: unknown) => void = () => {}
  /** Directives issued and not yet added to the store's demand counts: `${bucket}\0${region}\0${itemId}` → count. */
  #pendingDemand = new Map<string, number>()
  /** The store's clock at the last read of holdings; undefined: read them all. */
  #holdingsAsOf: number | undefined

  constructor (store: MainStore, registry: Registry, rules: RulesPublisher, signer: Signer, now: () => number, ttlMs: number) {
    this.#store = store
    this.#registry = registry
    this.#rules = rules
    this.#signer = signer
    this.#now = now
    this.ttlMs = ttlMs
  }

  async load (): Promise<void> {
    const now = this.#now()
    const stale: AdmissionWrite[] = []
    for await (const a of this.#store.listAdmissions()) {
      if (a.expiresAt <= now) { stale.push({ region: a.region, clientPeerId: a.clientPeerId }); continue }
      this.#admit(a.region, a.clientPeerId, a.expiresAt)
    }
    if (stale.length > 0) await this.#store.writeAdmissions(stale)
    await this.syncHoldings()
    this.#flushTimer = setInterval(() => { this.flush().catch((err: unknown) => { this.onFlushError(err) }) }, ADMISSION_FLUSH_MS)
    this.#flushTimer.unref()
  }

  /** Write pending admissions (and drop expired ones) in one batch. */
  async flush (): Promise<void> {
    const run = this.#flushing.then(async () => {
      await this.#flushDemand()
      if (this.#dirty.size === 0) return
      const now = this.#now()
      const pending = this.#dirty
      this.#dirty = new Map()
      const batch = [...pending].map(([key, expiresAt]): AdmissionWrite => {
        const slash = key.indexOf('/')
        const w: AdmissionWrite = { region: key.slice(0, slash), clientPeerId: key.slice(slash + 1) }
        if (expiresAt > now) w.expiresAt = expiresAt
        return w
      })
      try {
        await this.#store.writeAdmissions(batch)
      } catch (err) {
        // Keep what was not written for the next attempt, unless a newer admission replaced it meanwhile.
        for (const [key, expiresAt] of pending) if (!this.#dirty.has(key)) this.#dirty.set(key, expiresAt)
        throw err
      }
    })
    this.#flushing = run.catch(() => {})
    await run
  }

  /** Stop the flush timer and write what is pending. */
  async close (): Promise<void> {
    clearInterval(this.#flushTimer)
    await this.flush()
  }

  /** The region a directive is for: asked, else the account's, else the first region of the rules. */
  regionFor (asked: string | undefined, accountRegion: string | undefined): string | undefined {
    return asked ?? accountRegion ?? this.#rules.rules.regions[0]?.name
  }

  async issue (req: IssueRequest): Promise<{ directive: string, expiresAt: number, body: Directive }> {
    const now = this.#now()
    const { license, clientPeerId, region } = req
    const peers = this.#ranked(region, license.itemId, now).filter(p => p.peerId !== clientPeerId).slice(0, DIRECTIVE_PEER_LIMIT)
    const body: Directive = {
      directiveId: randomUUID(),
      licenseId: license.licenseId,
      itemId: license.itemId,
      clientPeerId,
      region,
      peers,
      rulesVersion: this.#rules.version,
      issuedAt: now,
      expiresAt: Math.min(this.expiryFor(license, now), req.notAfter ?? Infinity),
      accountId: license.accountId
    }
    if (req.itemVersion !== undefined && req.itemVersion > 1) body.itemVersion = req.itemVersion
    const directive = toText(signDirective(body, this.#signer))
    const previous = this.#admissions.get(region)?.get(clientPeerId)
    if (previous === undefined || previous < body.expiresAt) {
      this.#admit(region, clientPeerId, body.expiresAt)
      this.#dirty.set(`${region}/${clientPeerId}`, body.expiresAt)
    }
    this.#countDemand(region, license.itemId, now)
    this.onIssued(body)
    return { directive, expiresAt: body.expiresAt, body }
  }

  /** When a directive issued now for this licence expires: the directive lifetime, never past the licence. */
  expiryFor (license: LicenseRecord, now: number): number {
    return Math.min(now + this.ttlMs, license.expiresAt)
  }

  /** Stop admitting these client peers in every region (their licence was revoked): nodes learn it at the next heartbeat. */
  dropAdmissions (peerIds: string[]): void {
    for (const [region, m] of this.#admissions) {
      for (const p of peerIds) {
        if (m.delete(p)) this.#dirty.set(`${region}/${p}`, 0)
      }
    }
  }

  #admit (region: string, peerId: string, expiresAt: number): void {
    let m = this.#admissions.get(region)
    if (m === undefined) {
      m = new Map()
      this.#admissions.set(region, m)
    }
    m.delete(peerId)
    m.set(peerId, expiresAt)
    if (m.size > MAX_ADMISSIONS_PER_REGION) {
      const oldest = m.keys().next()
      if (oldest.done !== true) m.delete(oldest.value)
    }
  }

  /** Customer peers holding an unexpired directive for `region` (what a node of that region may serve). */
  admittedPeers (region: string): string[] {
    const m = this.#admissions.get(region)
    if (m === undefined) return []
    const now = this.#now()
    const out: string[] = []
    for (const [peerId, expiresAt] of m) {
      if (expiresAt <= now) m.delete(peerId)
      else out.push(peerId)
    }
    return out
  }

  /** A customer peer reports holding (part of) a licensed item. */
  async reportHolding (license: LicenseRecord, h: { peerId: string, addrs: string[], region: string, complete: boolean, fastLane?: string }): Promise<{ expiresAt: number }> {
    const now = this.#now()
    let byPeer = this.#holdings.get(license.itemId)
    if (byPeer === undefined) {
      byPeer = new Map()
      this.#holdings.set(license.itemId, byPeer)
    }
    const existing = byPeer.get(h.peerId)
    if (existing === undefined || existing.licenseId !== license.licenseId) {
      let mine = 0
      for (const x of byPeer.values()) if (x.licenseId === license.licenseId && x.expiresAt > now) mine++
      if (mine >= MAX_HOLDERS_PER_LICENSE) throw new ApiError(429, 'too_many_holders', `at most ${MAX_HOLDERS_PER_LICENSE} peers may report holdings under one license`)
    }
    const holding: Holding = {
      peerId: h.peerId,
      licenseId: license.licenseId,
      addrs: h.addrs,
      region: h.region,
      complete: h.complete,
      ...(h.fastLane !== undefined ? { fastLane: h.fastLane } : {}),
      reportedAt: now,
      expiresAt: Math.min(now + HOLDING_TTL_MS, license.expiresAt)
    }
    // stored first: every main offers it (syncHoldings), and it is acknowledged only once written
    await this.#store.putHolding({ itemId: license.itemId, ...holding })
    byPeer.set(h.peerId, holding)
    this.#holdingsGeneration++
    return { expiresAt: holding.expiresAt }
  }

  #ranked (region: string, itemId: string, now: number): DirectivePeer[] {
    const key = `${region}\n${itemId}`
    const generation = this.#registry.generation * 1_000_003 + this.#holdingsGeneration + this.#rules.version * 7 + this.excluded.generation * 1_000_000_007
    const hit = this.#rankCache.get(key)
    if (hit !== undefined && hit.generation === generation && now - hit.computedAt < RANK_CACHE_MS) return hit.peers
    const candidates: RankCandidate[] = []
    for (const n of this.#registry.all()) {
      if (n.region !== region || n.drained || !this.#registry.isUp(n, now) || this.excluded.has(n.peerId)) continue
      candidates.push({ peerId: n.peerId, role: n.role, region: n.region, addrs: n.addrs, lastHeartbeat: this.#registry.lastHeard(n), load: servingLoad(n), drained: n.drained, ...(n.fastLane !== undefined ? { fastLane: n.fastLane } : {}) })
    }
    const holders = this.#holdings.get(itemId)
    if (holders !== undefined) {
      for (const [peerId, h] of holders) {
        if (h.expiresAt <= now) { holders.delete(peerId); continue }
        if (h.region !== region || this.excluded.has(peerId)) continue
        // A partial holder is a weaker source than a complete one: rank it as more loaded.
        candidates.push({ peerId, role: 'peer', region, addrs: h.addrs, lastHeartbeat: now, load: h.complete ? 0 : 0.5, ...(h.fastLane !== undefined ? { fastLane: h.fastLane } : {}) })
      }
    }
    const ranked = rankPeers(candidates, { now, region, heartbeatTimeoutMs: this.#registry.heartbeatTimeoutMs, limit: DIRECTIVE_PEER_LIMIT + 1 })
    // Frozen (addrs copied, the registry's own array stays its own): protocol/ checks and encodes each such peer once, not once per directive.
    const peers: DirectivePeer[] = ranked.map(p => Object.freeze({ peerId: p.peerId, addrs: Object.freeze(p.addrs.slice()) as string[], role: p.role, ...(p.fastLane !== undefined ? { fastLane: p.fastLane } : {}) }))
    if (this.#rankCache.size > 10_000) this.#rankCache.clear()
    this.#rankCache.set(key, { peers, computedAt: now, generation })
    return peers
  }

  // ---- issue 16: holdings and demand shared through the store by every main ----

  /** Take in holdings stored since the last read (by any main; all of them the first time): they rank as peers. */
  async syncHoldings (): Promise<boolean> {
    const since = this.#holdingsAsOf === undefined ? undefined : this.#holdingsAsOf - HOLDING_SYNC_OVERLAP_MS
    const { holdings, asOf } = await this.#store.changedHoldings(this.#now(), since, MAX_HOLDINGS_READ)
    let changed = false
    for (const r of holdings) {
      let byPeer = this.#holdings.get(r.itemId)
      if (byPeer === undefined) {
        byPeer = new Map()
        this.#holdings.set(r.itemId, byPeer)
      }
      const cur = byPeer.get(r.peerId)
      if (cur !== undefined && cur.reportedAt === r.reportedAt && cur.licenseId === r.licenseId && cur.expiresAt === r.expiresAt) continue
      byPeer.set(r.peerId, holdingOf(r))
      changed = true
    }
    if (changed) this.#holdingsGeneration++
    this.#holdingsAsOf = asOf
    return changed
  }

  #countDemand (region: string, itemId: string, now: number): void {
    const key = `${Math.floor(now / DEMAND_BUCKET_MS)}\0${region}\0${itemId}`
    const n = this.#pendingDemand.get(key)
    // a store that stays down must not grow this without end: past the bound, new pairs are not counted
    if (n === undefined && this.#pendingDemand.size >= MAX_DEMAND_PAIRS) return
    this.#pendingDemand.set(key, (n ?? 0) + 1)
  }

  async #flushDemand (): Promise<void> {
    if (this.#pendingDemand.size === 0) return
    const pending = this.#pendingDemand
    this.#pendingDemand = new Map()
    const rows = [...pending].map(([key, count]): DemandRow => {
      const [bucket, region, itemId] = key.split('\0') as [string, string, string]
      return { bucket: Number(bucket), region, itemId, count }
    })
    try {
      await this.#store.addDemand(rows)
    } catch (err) {
      // counted again on the next attempt
      for (const [key, n] of pending) this.#pendingDemand.set(key, (this.#pendingDemand.get(key) ?? 0) + n)
      throw err
    }
  }

  /**
   * Every main's directives of the last DEMAND_WINDOW_MS (this one's written first), as per-region lists of the
   * `topN` most requested items (regions in `regions` always present) and their counts; then forgets what left the
   * window (old demand, expired holdings). Run on one main at a time (the preposition plan's lease).
   */
  async planDemand (now: number, topN: number, regions: readonly string[]): Promise<{ plan: Map<string, string[]>, count: (region: string, itemId: string) => number }> {
    await this.flush()
    const since = Math.floor((now - DEMAND_WINDOW_MS) / DEMAND_BUCKET_MS) + 1
    const tallies = await this.#store.demandSince(since, MAX_DEMAND_PAIRS)
    const counts = new Map<string, number>()
    const byRegion = new Map<string, typeof tallies>(regions.map(r => [r, []]))
    for (const t of tallies) {
      counts.set(`${t.region}\0${t.itemId}`, t.count)
      if (!byRegion.has(t.region)) continue
      byRegion.get(t.region)!.push(t)
    }
    const plan = new Map<string, string[]>()
    for (const region of [...byRegion.keys()].sort()) {
      // more requests first, then the more recently requested, then ascending itemId (as protocol/policy/preposition.ts)
      const list = byRegion.get(region)!.sort((a, b) => b.count - a.count || b.lastBucket - a.lastBucket || (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0))
      plan.set(region, list.slice(0, topN).map(t => t.itemId))
    }
    await this.#store.pruneDemand(since)
    await this.#store.pruneHoldings(now)
    return { plan, count: (region, itemId) => counts.get(`${region}\0${itemId}`) ?? 0 }
  }
}

function holdingOf (r: HoldingRecord): Holding {
  return { peerId: r.peerId, licenseId: r.licenseId, addrs: r.addrs, region: r.region, complete: r.complete, reportedAt: r.reportedAt, expiresAt: r.expiresAt }
}
