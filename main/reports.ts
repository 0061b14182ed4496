/**
 * Bad sources reported to main. A client or edge that receives a chunk whose hash does not match the manifest
 * penalises the sender and tells main (`POST /v1/reports`, signed with the reporter's own libp2p key). main
 * quarantines the source — a node, or a seeding customer — once reporters of QUARANTINE_MIN_REPORTERS distinct
 * identities agree within QUARANTINE_WINDOW_MS; a quarantined source is left out of every directive until an
 * operator clears it.
 *
 * Who counts: a registered parent or edge (by its peerId), or a customer main issued an unexpired directive
 * to, counted by its account (a customer can make new libp2p keys at will, not new paid accounts). One liar,
 * however often it reports and under however many keys of one account, is one reporter: it can never
 * quarantine an honest node alone.
 */
import type { MainStore, QuarantineRecord, DirectiveClientRecord } from './storage/types.ts'
import { Lru } from './lru.ts'

/** Distinct reporters that must agree before a source is quarantined: one liar is never enough. */
export const QUARANTINE_MIN_REPORTERS = 2
/** Reports older than this no longer count: agreement must be recent, as a source that was fixed should not be caught by old news. */
export const QUARANTINE_WINDOW_MS = 10 * 60_000
/** Reports one reporter may send per minute (429 beyond): a download that meets a bad source sends one per source. */
export const REPORTS_PER_REPORTER_PER_MINUTE = 10
/** Sources with open reports main tracks at once; the least recently reported are forgotten first, so a flood cannot grow memory. */
export const MAX_TRACKED_SOURCES = 10_000
/** Distinct reporters kept per source: far more than needed to decide. */
export const MAX_REPORTERS_PER_SOURCE = 64
/** Reporters whose rate is tracked at once. */
export const MAX_TRACKED_REPORTERS = 100_000
/** Customers' directives remembered (clientPeerId → account), to tell who may report: one per active client. */
export const MAX_KNOWN_CLIENTS = 100_000
/** Quarantined sources at most: beyond, the oldest is released (a bound, not a policy; an operator sees the list). */
export const MAX_QUARANTINED = 10_000

/**
 * Where several mains share the store, the clients this one issued directives to are written in one batch this
 * often (not one write per directive): a report reaching another main finds its reporter's account there. A
 * client whose directive is younger than this may be refused by another main; it retries with its next report.
 */
export const CLIENT_FLUSH_MS = 1_000

export type QuarantineEntry = QuarantineRecord

export interface Report {
  /** The reporter's identity for counting: `node:<peerId>` or `account:<accountId>`. */
  reporter: string
  source: string
  sourceRole: string
  region: string
  itemId: string
  chunkIndex: number
}

export class Reports {
  readonly #store: MainStore
  readonly #now: () => number
  /** source peerId → reporter identity → time of its latest report */
  readonly #open = new Lru<string, Map<string, number>>(MAX_TRACKED_SOURCES)
  readonly #rate = new Lru<string, number[]>(MAX_TRACKED_REPORTERS)
  readonly #clients = new Lru<string, { accountId: string, region: string, expiresAt: number }>(MAX_KNOWN_CLIENTS)
  #quarantined = new Map<string, QuarantineEntry>()
  /** Bumped on every quarantine change, so cached directive rankings are recomputed. */
  generation = 0
  #chain: Promise<unknown> = Promise.resolve()
  onQuarantine: (entry: QuarantineEntry) => void = () => {}
  /** The quarantine list changed on this main (a source quarantined or cleared): the revocation list follows. */
  onChange: () => void = () => {}
  /** Clients noted and not yet written (shared stores only): `${region}/${clientPeerId}` → record. */
  #pendingClients = new Map<string, DirectiveClientRecord>()
  #flushTimer: ReturnType<typeof setInterval> | undefined
  /** A background write of clients failed (retried on the next tick). */
  onFlushError: (err: unknown) => void = () => {}

  constructor (store: MainStore, now: () => number) {
    this.#store = store
    this.#now = now
  }

  /** Take in quarantine changes another main made in a shared store; bumps the generation on a change. */
  async reload (): Promise<boolean> {
    return await this.#serial(async () => this.#adopt(await this.#store.getQuarantine()))
  }

  /** Take `stored` (the list in force in the store) as ours; true if it differs from what this main held. */
  #adopt (stored: readonly QuarantineEntry[]): boolean {
    if (JSON.stringify(stored) === JSON.stringify([...this.#quarantined.values()])) return false
    this.#quarantined = new Map(stored.map(e => [e.peerId, e]))
    this.generation++
    return true
  }

  /**
   * Add `make()`'s entry for `peerId` unless the list in force already has one, in one step of the store (another
   * main's addition or clear in between is kept, not overwritten). Resolves with the entry in force and whether it
   * is the new one.
   */
  async #insert (peerId: string, make: () => QuarantineEntry): Promise<{ entry: QuarantineEntry, created: boolean }> {
    let made: QuarantineEntry | undefined
    const list = await this.#store.updateQuarantine(current => {
      made = undefined
      if (current.some(e => e.peerId === peerId)) return undefined
      made = make()
      const next = [...current, made]
      // the oldest go first beyond the bound, as before
      return next.slice(Math.max(0, next.length - MAX_QUARANTINED))
    })
    this.#adopt(list)
    const entry = list.find(e => e.peerId === peerId) ?? made!
    return { entry, created: made !== undefined }
  }

  /** Forget pending reports older than the window (periodic work, on one main at a time). */
  async prune (): Promise<void> {
    await this.#store.pruneSourceReports(this.#now() - QUARANTINE_WINDOW_MS)
    await this.#store.pruneDirectiveClients(this.#now())
  }

  async load (): Promise<void> {
    const stored = await this.#store.getQuarantine()
    this.#quarantined = new Map(stored.map(e => [e.peerId, e]))
    if (this.#store.kind !== 'level') {
      this.#flushTimer = setInterval(() => { this.flushClients().catch((err: unknown) => { this.onFlushError(err) }) }, CLIENT_FLUSH_MS)
      this.#flushTimer.unref()
    }
  }

  /** Write the clients noted since the last write (where several mains share the store). */
  async flushClients (): Promise<void> {
    if (this.#pendingClients.size === 0) return
    const pending = this.#pendingClients
    this.#pendingClients = new Map()
    try {
      await this.#store.putDirectiveClients([...pending.values()])
    } catch (err) {
      for (const [k, v] of pending) if (!this.#pendingClients.has(k)) this.#pendingClients.set(k, v)
      throw err
    }
  }

  async close (): Promise<void> {
    clearInterval(this.#flushTimer)
    if (this.#store.kind !== 'level') await this.flushClients()
  }

  /**
   * The account behind a client holding an unexpired directive for `region` — issued by this main (memory) or,
   * where the store is shared, by another — else undefined.
   */
  async clientAccount (clientPeerId: string, region: string): Promise<string | undefined> {
    const mine = this.licensedClient(clientPeerId, region)
    if (mine !== undefined || this.#store.kind === 'level') return mine
    const r = await this.#store.getDirectiveClient(region, clientPeerId)
    return r !== undefined && r.expiresAt > this.#now() ? r.accountId : undefined
  }

  /** main issued a directive to this client: it may report sources of that region until the directive expires. */
  noteClient (clientPeerId: string, accountId: string, region: string, expiresAt: number): void {
    // directives on one device slot share its expiry (main/devices.ts): one noted already says it all
    const known = this.#clients.get(clientPeerId)
    if (known !== undefined && known.accountId === accountId && known.region === region && known.expiresAt >= expiresAt) return
    this.#clients.set(clientPeerId, { accountId, region, expiresAt })
    if (this.#store.kind !== 'level') {
      this.#pendingClients.set(`${region}/${clientPeerId}`, { region, clientPeerId, accountId, expiresAt })
      // bounded like the memory of clients: a store that stays down must not grow this without end
      if (this.#pendingClients.size > MAX_KNOWN_CLIENTS) this.#pendingClients.delete(this.#pendingClients.keys().next().value!)
    }
  }

  /** The account behind a client that holds an unexpired directive for `region`, else undefined. */
  licensedClient (clientPeerId: string, region: string): string | undefined {
    const c = this.#clients.get(clientPeerId)
    if (c === undefined || c.region !== region || c.expiresAt <= this.#now()) return undefined
    return c.accountId
  }

  /** Count one report against the reporter's rate; false if it is over. */
  allow (reporterPeerId: string): boolean {
    const now = this.#now()
    const times = (this.#rate.get(reporterPeerId) ?? []).filter(t => now - t < 60_000)
    if (times.length >= REPORTS_PER_REPORTER_PER_MINUTE) { this.#rate.set(reporterPeerId, times); return false }
    times.push(now)
    this.#rate.set(reporterPeerId, times)
    return true
  }

  isQuarantined (peerId: string): boolean {
    return this.#quarantined.has(peerId)
  }

  quarantined (): QuarantineEntry[] {
    return [...this.#quarantined.values()].sort((a, b) => a.since - b.since)
  }

  /** Distinct reporters with a report in the window against this source (for the operator page). */
  openReports (): Array<{ peerId: string, reporters: number, lastAt: number }> {
    const now = this.#now()
    const out = []
    for (const [peerId, by] of this.#open.entries()) {
      const recent = [...by.values()].filter(t => now - t <= QUARANTINE_WINDOW_MS)
      if (recent.length > 0) out.push({ peerId, reporters: recent.length, lastAt: Math.max(...recent) })
    }
    return out.sort((a, b) => b.lastAt - a.lastAt)
  }

  /** Record a report; returns the quarantine entry if this report completed the agreement. */
  async add (r: Report): Promise<{ quarantined: boolean, reporters: number }> {
    return await this.#serial(async () => {
      const now = this.#now()
      if (this.#quarantined.has(r.source)) return { quarantined: true, reporters: this.#quarantined.get(r.source)!.reporters.length }
      const by = this.#open.get(r.source) ?? new Map<string, number>()
      for (const [who, t] of by) if (now - t > QUARANTINE_WINDOW_MS) by.delete(who)
      by.delete(r.reporter)
      by.set(r.reporter, now)
      while (by.size > MAX_REPORTERS_PER_SOURCE) by.delete(by.keys().next().value!)
      this.#open.set(r.source, by)
      // the decision counts the reports every main received (pending ones are in the store)
      await this.#store.addSourceReport(r.source, r.reporter, now)
      const agreeing = (await this.#store.sourceReporters(r.source, now - QUARANTINE_WINDOW_MS, MAX_REPORTERS_PER_SOURCE)).reverse()
      if (agreeing.length < QUARANTINE_MIN_REPORTERS) return { quarantined: false, reporters: agreeing.length }
      // decided on the stored list: another main may have changed it since this one last read it
      const { entry, created } = await this.#insert(r.source, () => ({ peerId: r.source, role: r.sourceRole, region: r.region, since: now, reporters: agreeing.map(a => a.reporter), itemId: r.itemId }))
      if (!created) return { quarantined: true, reporters: entry.reporters.length }
      this.#open.delete(r.source)
      await this.#store.clearSourceReports(r.source)
      this.onQuarantine(entry)
      this.onChange()
      return { quarantined: true, reporters: entry.reporters.length }
    })
  }

  /** An operator clears a source: directives may name it again, and its old reports are forgotten. */
  async clear (peerId: string): Promise<QuarantineEntry | undefined> {
    return await this.#serial(async () => {
      await this.#store.clearSourceReports(peerId)
      this.#open.delete(peerId)
      let entry: QuarantineEntry | undefined
      const list = await this.#store.updateQuarantine(current => {
        entry = current.find(e => e.peerId === peerId)
        return entry === undefined ? undefined : current.filter(e => e.peerId !== peerId)
      })
      this.#adopt(list)
      if (entry === undefined) return undefined
      this.onChange()
      return entry
    })
  }

  /** An operator quarantines a source by decision (`reelnet admin quarantine NODE`): no reports needed. */
  async quarantine (peerId: string, role: string, region: string): Promise<{ entry: QuarantineEntry, created: boolean }> {
    return await this.#serial(async () => {
      const { entry, created } = await this.#insert(peerId, () => ({ peerId, role, region, since: this.#now(), reporters: ['operator'], itemId: '' }))
      if (!created) return { entry, created: false }
      this.#open.delete(peerId)
      this.onQuarantine(entry)
      this.onChange()
      return { entry, created: true }
    })
  }

  async #serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn)
    this.#chain = run.catch(() => {})
    return await run
  }
}
