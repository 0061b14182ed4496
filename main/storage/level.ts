/**
 * The embedded store: one `level` database under the data folder, one
 * sublevel per record kind, values as JSON. One main process owns the folder
 * (level locks it), so check-then-write sequences are serialised in memory
 * and the login limiter's counters stay in memory, as they always have.
 */
import { Level } from 'level'
import type { AbstractSublevel } from 'abstract-level'
import { LOGIN_LIMITER_MAX_KEYS, LICENSE_CACHE_ENTRIES } from '../limits.ts'
import { Lru } from '../lru.ts'
import type {
  MainStore, AccountRecord, SessionRecord, ItemRecord, LicenseRecord, NodeRecord, RulesState, NodeTokenRecord,
  AdmissionWrite, LimiterCounters, PosterRecord, QuarantineRecord, ItemTerms, ItemVersionRecord,
  RevocationRecord, RevocationsState, ContentKeyRecord, HoldingRecord, DemandRow, DemandTally,
  DirectiveClientRecord
} from './types.ts'

type Sub<V> = AbstractSublevel<Level<string, unknown>, string | Buffer | Uint8Array, string, V>

const RULES_KEY = 'rules'
const AUTO_KEY = 'autoPreposition'
const QUARANTINE_KEY = 'quarantine'
const REVOCATIONS_KEY = 'revocations'
/** Licences whose device slots are kept in memory (as many as main caches licences). */
const DEVICE_FRONT_LICENSES = LICENSE_CACHE_ENTRIES
/** Node tokens live in `meta` under this prefix (where main kept them before this interface). */
const NODE_TOKEN_PREFIX = 'nodeToken/'
/** Demand buckets are written with this many digits so that keys sort as numbers (minutes since 1970 need 8). */
const DEMAND_BUCKET_DIGITS = 16

/** In-memory fixed-window counters, bounded to LOGIN_LIMITER_MAX_KEYS per scope (oldest dropped first). */
export function memoryLimiter (): LimiterCounters {
  const scopes = new Map<string, Map<string, { failures: number, windowStart: number }>>()
  const scopeOf = (s: string): Map<string, { failures: number, windowStart: number }> => {
    let m = scopes.get(s)
    if (m === undefined) { m = new Map(); scopes.set(s, m) }
    return m
  }
  return {
    fail: async (scope, key, now, windowMs) => {
      const m = scopeOf(scope)
      let e = m.get(key)
      if (e === undefined || now >= e.windowStart + windowMs) e = { failures: 0, windowStart: now }
      e.failures++
      m.delete(key)
      m.set(key, e)
      if (m.size > LOGIN_LIMITER_MAX_KEYS) {
        const oldest = m.keys().next().value
        if (oldest !== undefined) m.delete(oldest)
      }
      return { ...e }
    },
    get: async (scope, key, now, windowMs) => {
      const m = scopeOf(scope)
      const e = m.get(key)
      if (e === undefined) return undefined
      if (now >= e.windowStart + windowMs) { m.delete(key); return undefined }
      return { ...e }
    },
    clear: async (scope, key) => { scopes.get(scope)?.delete(key) }
  }
}

export async function openLevelStore (location: string): Promise<MainStore> {
  const db = new Level<string, unknown>(location, { valueEncoding: 'json' })
  await db.open()
  const sub = <V>(name: string): Sub<V> => db.sublevel<string, V>(name, { valueEncoding: 'json' }) as Sub<V>
  const accounts = sub<AccountRecord>('accounts')
  /** lower-cased username → accountId */
  const usernames = sub<string>('usernames')
  /** sha256(token) hex → session */
  const sessions = sub<SessionRecord>('sessions')
  const items = sub<ItemRecord>('items')
  const licenses = sub<LicenseRecord>('licenses')
  /** `${accountId}/${licenseId}` → licenseId: an account's rentals, for the storefront's "My rentals". */
  const accountLicenses = sub<string>('accountLicenses')
  /** itemId → poster image */
  const posters = sub<PosterRecord>('posters')
  const nodes = sub<NodeRecord>('nodes')
  /** region → itemIds to preposition there */
  const preposition = sub<string[]>('preposition')
  /** `${region}/${clientPeerId}` → expiry of the latest directive naming that client in that region */
  const admissions = sub<number>('admissions')
  const meta = sub<unknown>('meta')
  /** itemId → terms */
  const itemTerms = sub<ItemTerms>('itemTerms')
  /** `${itemId}/${version as 10 digits}` → that version's manifest (the padding keeps them in order) */
  const itemVersions = sub<ItemVersionRecord>('itemVersions')
  const versionKey = (itemId: string, version: number): string => `${itemId}/${String(version).padStart(10, '0')}`
  /** `${kind}/${id}` → revocation */
  const revocations = sub<RevocationRecord>('revocations')
  /** `${licenseId}/${clientPeerId}` → expiry of that client's latest directive for the licence */
  const devices = sub<number>('devices')
  /** keyId → an encrypted item's content key */
  const contentKeys = sub<ContentKeyRecord>('contentKeys')
  /** `${itemId}/${peerId}` → a customer peer's holding, with when it was stored (this process's clock) */
  const holdings = sub<HoldingRecord & { changedAt: number }>('holdings')
  /** bucket (zero-padded), region, itemId joined by NUL (ids are printable ASCII) → directives issued: bucket-first keys, so old buckets are one range */
  const demand = sub<number>('demand')
  /** `${source}/${reporter}` → time of that reporter's latest report against the source (peerIds have no '/') */
  const sourceReports = sub<number>('sourceReports')
  /** `${region}/${clientPeerId}` → the client's latest directive there (regions have no '/') */
  const directiveClients = sub<DirectiveClientRecord>('directiveClients')
  const demandKey = (bucket: number, region: string, itemId: string): string => `${String(bucket).padStart(DEMAND_BUCKET_DIGITS, '0')}\x00${region}\x00${itemId}`
  /**
   * The slots of recently asked licences, as stored: one process owns the folder, so this front is exact, and a
   * directive's claim costs one write instead of an iterator over the licence's keys.
   */
  const deviceFront = new Lru<string, Map<string, number>>(DEVICE_FRONT_LICENSES)
  const devicesOf = async (licenseId: string): Promise<Map<string, number>> => {
    let live = deviceFront.get(licenseId)
    if (live === undefined) {
      live = new Map()
      const prefix = `${licenseId}/`
      for await (const [k, exp] of devices.iterator({ gte: prefix, lt: prefix + '\xff' })) live.set(k.slice(prefix.length), exp)
      deviceFront.set(licenseId, live)
    }
    return live
  }
  /** Usernames being created right now: one process owns the folder, so this closes the check-then-write race. */
  const creating = new Set<string>()
  let chain: Promise<unknown> = Promise.resolve()
  const serial = async <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn)
    chain = run.catch(() => {})
    return await run
  }
  async function * values<V> (s: Sub<V>): AsyncIterable<V> {
    for await (const v of s.values()) yield v
  }

  return {
    kind: 'level',
    createAccount: async (record) => {
      const key = record.username.toLowerCase()
      if (creating.has(key)) return false
      creating.add(key)
      try {
        if (await usernames.get(key) !== undefined) return false
        await db.batch([
          { type: 'put', sublevel: accounts, key: record.accountId, value: record },
          { type: 'put', sublevel: usernames, key, value: record.accountId }
        ])
        return true
      } finally {
        creating.delete(key)
      }
    },
    getAccount: async (id) => await accounts.get(id),
    accountIdByUsername: async (username) => await usernames.get(username.toLowerCase()),
    listAccounts: () => values(accounts),

    putSession: async (id, s) => { await sessions.put(id, s) },
    getSession: async (id) => await sessions.get(id),
    deleteSession: async (id) => { await sessions.del(id) },
    listSessionIds: async function * () { for await (const k of sessions.keys()) yield k },

    putItem: async (item) => { await items.put(item.itemId, item) },
    getItem: async (id) => await items.get(id),
    listItems: () => values(items),
    putPoster: async (item, poster) => {
      await db.batch([
        { type: 'put', sublevel: posters, key: item.itemId, value: poster },
        { type: 'put', sublevel: items, key: item.itemId, value: item }
      ])
    },
    getPoster: async (id) => await posters.get(id),

    putLicense: async (l) => {
      await db.batch([
        { type: 'put', sublevel: licenses, key: l.licenseId, value: l },
        { type: 'put', sublevel: accountLicenses, key: `${l.accountId}/${l.licenseId}`, value: l.licenseId }
      ])
    },
    getLicense: async (id) => await licenses.get(id),
    listAccountLicenses: async function * (accountId) {
      const prefix = `${accountId}/`
      for await (const id of accountLicenses.values({ gte: prefix, lt: prefix + '\xff' })) {
        const l = await licenses.get(id)
        if (l !== undefined) yield l
      }
    },

    putNode: async (n) => { await nodes.put(n.peerId, n) },
    getNode: async (id) => await nodes.get(id),
    listNodes: () => values(nodes),
    deleteNode: async (id) => { await nodes.del(id) },

    setPreposition: async (region, itemIds) => {
      if (itemIds.length === 0) await preposition.del(region)
      else await preposition.put(region, itemIds)
    },
    listPreposition: async function * () { for await (const e of preposition.iterator()) yield e },
    putAutoPlan: async (plan) => { await meta.put(AUTO_KEY, plan) },
    getAutoPlan: async () => await meta.get(AUTO_KEY) as Record<string, string[]> | undefined,

    currentRules: async () => await meta.get(RULES_KEY) as RulesState | undefined,
    publishRules: async (make) => await serial(async () => {
      const cur = await meta.get(RULES_KEY) as RulesState | undefined
      const state = await make((cur?.version ?? 0) + 1)
      await meta.put(RULES_KEY, state)
      return state
    }),

    writeAdmissions: async (writes: AdmissionWrite[]) => {
      await admissions.batch(writes.map(w => w.expiresAt === undefined
        ? { type: 'del' as const, key: `${w.region}/${w.clientPeerId}` }
        : { type: 'put' as const, key: `${w.region}/${w.clientPeerId}`, value: w.expiresAt }))
    },
    listAdmissions: async function * () {
      const bad: string[] = []
      for await (const [key, expiresAt] of admissions.iterator()) {
        const slash = key.indexOf('/')
        if (slash < 0 || typeof expiresAt !== 'number') { bad.push(key); continue }
        yield { region: key.slice(0, slash), clientPeerId: key.slice(slash + 1), expiresAt }
      }
      if (bad.length > 0) await admissions.batch(bad.map(key => ({ type: 'del' as const, key })))
    },

    putNodeToken: async (id, r) => { await meta.put(NODE_TOKEN_PREFIX + id, r) },
    getNodeToken: async (id) => await meta.get(NODE_TOKEN_PREFIX + id) as NodeTokenRecord | undefined,
    bindNodeToken: async (id, peerId) => await serial(async () => {
      const r = await meta.get(NODE_TOKEN_PREFIX + id) as NodeTokenRecord | undefined
      if (r === undefined || r.peerId !== undefined) return false
      await meta.put(NODE_TOKEN_PREFIX + id, { ...r, peerId })
      return true
    }),
    countUnusedNodeTokens: async (now) => {
      let unused = 0
      for await (const v of meta.values({ gte: NODE_TOKEN_PREFIX, lt: NODE_TOKEN_PREFIX + '\xff' })) {
        const r = v as NodeTokenRecord
        if (r.peerId === undefined && r.expiresAt > now) unused++
      }
      return unused
    },
    spendNodeTokens: async (peerId, now) => await serial(async () => {
      let n = 0
      for await (const [k, v] of meta.iterator({ gte: NODE_TOKEN_PREFIX, lt: NODE_TOKEN_PREFIX + '\xff' })) {
        const r = v as NodeTokenRecord
        if (r.peerId === peerId && r.spentAt === undefined) {
          await meta.put(k, { ...r, spentAt: now })
          n++
        }
      }
      return n
    }),

    updateQuarantine: async (change) => await serial(async () => {
      const current = (await meta.get(QUARANTINE_KEY) as QuarantineRecord[] | undefined) ?? []
      const next = change(current)
      if (next === undefined) return current
      await meta.put(QUARANTINE_KEY, next)
      return next
    }),
    getQuarantine: async () => (await meta.get(QUARANTINE_KEY) as QuarantineRecord[] | undefined) ?? [],

    putHolding: async (h) => { await holdings.put(`${h.itemId}/${h.peerId}`, { ...h, changedAt: Date.now() }) },
    changedHoldings: async (now, since, limit) => {
      const asOf = Date.now()
      const found: Array<HoldingRecord & { changedAt: number }> = []
      for await (const h of holdings.values()) if (h.expiresAt > now && (since === undefined || h.changedAt >= since)) found.push(h)
      found.sort((a, b) => b.changedAt - a.changedAt)
      return { holdings: found.slice(0, limit).map(({ changedAt: _, ...h }) => h), asOf }
    },
    pruneHoldings: async (now) => await serial(async () => {
      const gone: string[] = []
      for await (const [k, h] of holdings.iterator()) if (h.expiresAt <= now) gone.push(k)
      await holdings.batch(gone.map(key => ({ type: 'del' as const, key })))
      return gone.length
    }),
    addDemand: async (rows: DemandRow[]) => await serial(async () => {
      const sums = new Map<string, number>()
      for (const r of rows) {
        const k = demandKey(r.bucket, r.region, r.itemId)
        sums.set(k, (sums.get(k) ?? 0) + r.count)
      }
      const ops = []
      for (const [key, n] of sums) ops.push({ type: 'put' as const, key, value: ((await demand.get(key)) ?? 0) + n })
      await demand.batch(ops)
    }),
    demandSince: async (sinceBucket, limit) => {
      const tallies = new Map<string, DemandTally>()
      for await (const [k, n] of demand.iterator({ gte: String(sinceBucket).padStart(DEMAND_BUCKET_DIGITS, '0') })) {
        const [bucket, region, itemId] = k.split('\x00') as [string, string, string]
        const key = `${region}\x00${itemId}`
        const t = tallies.get(key) ?? { region, itemId, count: 0, lastBucket: Number(bucket) }
        t.count += n
        t.lastBucket = Math.max(t.lastBucket, Number(bucket))
        tallies.set(key, t)
      }
      return [...tallies.values()].sort((a, b) => b.count - a.count || b.lastBucket - a.lastBucket).slice(0, limit)
    },
    pruneDemand: async (beforeBucket) => {
      await demand.clear({ lt: String(beforeBucket).padStart(DEMAND_BUCKET_DIGITS, '0') })
    },

    addSourceReport: async (source, reporter, at) => await serial(async () => {
      const key = `${source}/${reporter}`
      await sourceReports.put(key, Math.max(at, (await sourceReports.get(key)) ?? at))
    }),
    sourceReporters: async (source, since, limit) => {
      const prefix = `${source}/`
      const out: Array<{ reporter: string, at: number }> = []
      for await (const [k, at] of sourceReports.iterator({ gte: prefix, lt: prefix + '\xff' })) if (at >= since) out.push({ reporter: k.slice(prefix.length), at })
      return out.sort((a, b) => b.at - a.at).slice(0, limit)
    },
    clearSourceReports: async (source) => { await sourceReports.clear({ gte: `${source}/`, lt: `${source}/\xff` }) },
    pruneSourceReports: async (before) => await serial(async () => {
      const gone: string[] = []
      for await (const [k, at] of sourceReports.iterator()) if (at < before) gone.push(k)
      await sourceReports.batch(gone.map(key => ({ type: 'del' as const, key })))
    }),

    putDirectiveClients: async (rows) => await serial(async () => {
      const latest = new Map<string, DirectiveClientRecord>()
      for (const r of rows) {
        const key = `${r.region}/${r.clientPeerId}`
        const cur = latest.get(key) ?? await directiveClients.get(key)
        if (cur === undefined || cur.expiresAt <= r.expiresAt) latest.set(key, r)
      }
      await directiveClients.batch([...latest].map(([key, value]) => ({ type: 'put' as const, key, value })))
    }),
    getDirectiveClient: async (region, clientPeerId) => await directiveClients.get(`${region}/${clientPeerId}`),
    pruneDirectiveClients: async (now) => await serial(async () => {
      const gone: string[] = []
      for await (const [k, r] of directiveClients.iterator()) if (r.expiresAt <= now) gone.push(k)
      await directiveClients.batch(gone.map(key => ({ type: 'del' as const, key })))
    }),

    limiter: memoryLimiter(),
    exclusive: async (_name, fn) => ({ ran: true, value: await fn() }),
    close: async () => { await db.close() },

    putItemTerms: async (itemId, terms) => { await itemTerms.put(itemId, terms) },
    getItemTerms: async (itemId) => await itemTerms.get(itemId),
    listItemTerms: async function * () { for await (const e of itemTerms.iterator()) yield e },
    putItemVersion: async (v) => { await itemVersions.put(versionKey(v.itemId, v.version), v) },
    listItemVersions: async (itemId) => {
      const out: ItemVersionRecord[] = []
      for await (const v of itemVersions.values({ gte: `${itemId}/`, lt: `${itemId}/\xff` })) out.push(v)
      return out
    },
    holdItemVersion: async (itemId, version, until) => await serial(async () => {
      const v = await itemVersions.get(versionKey(itemId, version))
      if (v === undefined || (v.heldUntil ?? 0) >= until) return
      await itemVersions.put(versionKey(itemId, version), { ...v, heldUntil: until })
    }),
    deleteItemVersions: async (itemId, versions) => {
      await itemVersions.batch(versions.map(v => ({ type: 'del' as const, key: versionKey(itemId, v) })))
    },
    putRevocation: async (r) => await serial(async () => {
      const key = `${r.kind}/${r.id}`
      if (await revocations.get(key) === undefined) await revocations.put(key, r)
    }),
    listRevocations: async (since) => {
      const out: RevocationRecord[] = []
      for await (const r of revocations.values()) if (since === undefined || r.at >= since) out.push(r)
      return out
    },
    currentRevocations: async () => await meta.get(REVOCATIONS_KEY) as RevocationsState | undefined,
    publishRevocations: async (make) => await serial(async () => {
      const cur = await meta.get(REVOCATIONS_KEY) as RevocationsState | undefined
      const state = await make((cur?.version ?? 0) + 1)
      await meta.put(REVOCATIONS_KEY, state)
      return state
    }),
    claimDevice: async (licenseId, clientPeerId, expiresAt, max, now) => await serial(async () => {
      const prefix = `${licenseId}/`
      const live = await devicesOf(licenseId)
      const stale = [...live].filter(([, exp]) => exp <= now).map(([peer]) => peer)
      for (const peer of stale) live.delete(peer)
      if (stale.length > 0) await devices.batch(stale.map(peer => ({ type: 'del' as const, key: prefix + peer })))
      const mine = live.get(clientPeerId)
      if (mine === undefined && live.size >= max) return { ok: false, holders: live.size, nextFreeAt: Math.min(...live.values()) }
      if (mine === undefined || mine < expiresAt) {
        await devices.put(prefix + clientPeerId, expiresAt)
        live.set(clientPeerId, expiresAt)
      }
      return { ok: true, heldUntil: Math.max(mine ?? 0, expiresAt) }
    }),
    licenseDevices: async (licenseId, now) => {
      const prefix = `${licenseId}/`
      const out: string[] = []
      for await (const [k, exp] of devices.iterator({ gte: prefix, lt: prefix + '\xff' })) if (exp > now) out.push(k.slice(prefix.length))
      return out
    },
    putContentKey: async (r) => await serial(async () => {
      if (await contentKeys.get(r.keyId) !== undefined) return false
      await contentKeys.put(r.keyId, r)
      return true
    }),
    getContentKey: async (keyId) => await contentKeys.get(keyId)
  }
}
