/**
 * The shared store: PostgreSQL through Kysely over `pg`, for several mains
 * on one database. Records are kept whole as jsonb beside the columns that
 * need an index or a constraint (a username's uniqueness, a token's binding,
 * the rules' version). Migrations are versioned (main/storage/migrations.ts)
 * and run at start under Kysely's migration lock, so mains starting together
 * apply each once. `int8` columns are read as numbers (all are milliseconds
 * or counters, far below 2^53), not pg's default strings.
 */
import pg from 'pg'
import { Kysely, PostgresDialect, sql, type ColumnType } from 'kysely'
import { Migrator } from 'kysely/migration'
import { MIGRATIONS } from './migrations.ts'
import type {
  MainStore, AccountRecord, SessionRecord, ItemRecord, LicenseRecord, NodeRecord, RulesState, NodeTokenRecord,
  LimiterCounters, ItemTerms, ItemVersionRecord, QuarantineRecord, RevocationRecord, RevocationsState,
  DeviceClaim, ContentKeyRecord, HoldingRecord, DemandTally, DirectiveClientRecord
} from './types.ts'

/** Connections each main keeps: enough for a burst of requests, few enough that several mains fit PostgreSQL's default 100. */
export const POOL_SIZE = 10
/** A connection attempt that has not succeeded in this long fails (a wrong host must not hang start). */
export const CONNECT_TIMEOUT_MS = 10_000
/** Rows read per page when listing a table at start: bounds memory per query. */
const PAGE_ROWS = 1_000
/** Key of the advisory lock that publishRules takes in its transaction (an arbitrary constant of this schema). */
const RULES_LOCK_KEY = 0x7265656c
/** The same for publishRevocations (its own counter, its own lock). */
const REVOCATIONS_LOCK_KEY = 0x7265766f
const INT8_OID = 20

type Json<T> = ColumnType<T, string, string>
type Int = ColumnType<number, number, number>

export interface Database {
  accounts: { account_id: string, username_lower: string, record: Json<AccountRecord> }
  sessions: { id: string, expires_at: Int, record: Json<SessionRecord> }
  items: { item_id: string, record: Json<ItemRecord> }
  licenses: { license_id: string, account_id: string | null, record: Json<LicenseRecord> }
  posters: { item_id: string, type: string, data: string }
  nodes: { peer_id: string, record: Json<NodeRecord> }
  preposition: { region: string, item_ids: Json<string[]> }
  meta: { key: string, value: Json<unknown> }
  rules: { version: Int, issued_at: Int, expires_at: Int, envelope: string }
  admissions: { region: string, client_peer_id: string, expires_at: Int }
  node_tokens: { id: string, peer_id: string | null, expires_at: Int, record: Json<NodeTokenRecord> }
  login_failures: { scope: string, key: string, failures: Int, window_start: Int }
  item_terms: { item_id: string, record: Json<ItemTerms> }
  item_versions: { item_id: string, version: Int, record: Json<ItemVersionRecord> }
  revocations: { kind: string, id: string, record: Json<RevocationRecord> }
  revocation_lists: { version: Int, issued_at: Int, expires_at: Int, envelope: string }
  device_slots: { license_id: string, slots: Json<Record<string, number>> }
  content_keys: { key_id: string, item_id: string, version: Int, record: Json<ContentKeyRecord> }
  holdings: { item_id: string, peer_id: string, expires_at: Int, changed_at: Int, record: Json<HoldingRecord> }
  demand: { bucket: Int, region: string, item_id: string, count: Int }
  source_reports: { source: string, reporter: string, at: Int }
  directive_clients: { region: string, client_peer_id: string, account_id: string, expires_at: Int }
}

/** The database's clock in ms: one clock for every main's changes. */
const DB_NOW_MS = sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`

const AUTO_KEY = 'autoPreposition'
const QUARANTINE_KEY = 'quarantine'

/** The URL with any password replaced, for messages. */
export function redactUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return 'postgres://…'
  }
}

export function createDb (url: string): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser }
  })
  // an idle connection dropped by the server must not crash main; the next query opens another
  pool.on('error', () => {})
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
}

/** Apply every migration not yet applied; throws naming the one that failed. */
export async function migrate (db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } })
  const { error, results } = await migrator.migrateToLatest()
  const failed = results?.find(r => r.status === 'Error')
  if (error !== undefined) throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String((error as Error).message ?? error)}`)
  return (results ?? []).filter(r => r.status === 'Success').map(r => r.migrationName)
}

export async function openPostgresStore (url: string): Promise<MainStore> {
  const db = createDb(url)
  try {
    await migrate(db)
  } catch (err) {
    await db.destroy()
    throw new Error(`cannot use ${redactUrl(url)}: ${(err as Error).message}`)
  }
  return postgresStore(db)
}

/** Page through a table in primary-key order. */
async function * pages<R> (fetch: (after: string | undefined) => Promise<R[]>, keyOf: (r: R) => string): AsyncIterable<R> {
  let after: string | undefined
  for (;;) {
    const rows = await fetch(after)
    yield * rows
    if (rows.length < PAGE_ROWS) return
    after = keyOf(rows[rows.length - 1]!)
  }
}

export function postgresStore (db: Kysely<Database>): MainStore {
  const json = (v: unknown): string => JSON.stringify(v)

  const limiter: LimiterCounters = {
    fail: async (scope, key, now, windowMs) => {
      // one statement: concurrent failures on several mains each count
      const r = await sql<{ failures: number, window_start: number }>`
        insert into login_failures (scope, key, failures, window_start) values (${scope}, ${key}, 1, ${now})
        on conflict (scope, key) do update set
          failures = case when login_failures.window_start + ${windowMs} <= ${now} then 1 else login_failures.failures + 1 end,
          window_start = case when login_failures.window_start + ${windowMs} <= ${now} then ${now} else login_failures.window_start end
        returning failures, window_start`.execute(db)
      const row = r.rows[0]!
      return { failures: Number(row.failures), windowStart: Number(row.window_start) }
    },
    get: async (scope, key, now, windowMs) => {
      const row = await db.selectFrom('login_failures').select(['failures', 'window_start'])
        .where('scope', '=', scope).where('key', '=', key).executeTakeFirst()
      if (row === undefined || now >= row.window_start + windowMs) return undefined
      return { failures: row.failures, windowStart: row.window_start }
    },
    clear: async (scope, key) => {
      await db.deleteFrom('login_failures').where('scope', '=', scope).where('key', '=', key).execute()
    }
  }

  return {
    kind: 'postgres',
    createAccount: async (record) => {
      const r = await db.insertInto('accounts')
        .values({ account_id: record.accountId, username_lower: record.username.toLowerCase(), record: json(record) })
        .onConflict(oc => oc.column('username_lower').doNothing())
        .executeTakeFirst()
      return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1
    },
    getAccount: async (id) => (await db.selectFrom('accounts').select('record').where('account_id', '=', id).executeTakeFirst())?.record,
    accountIdByUsername: async (username) => (await db.selectFrom('accounts').select('account_id').where('username_lower', '=', username.toLowerCase()).executeTakeFirst())?.account_id,
    listAccounts: async function * () {
      for await (const r of pages(async (after) => await db.selectFrom('accounts').select(['account_id', 'record'])
        .$if(after !== undefined, q => q.where('account_id', '>', after!)).orderBy('account_id').limit(PAGE_ROWS).execute(), r => r.account_id)) yield r.record
    },

    putSession: async (id, s) => {
      await db.insertInto('sessions').values({ id, expires_at: s.expiresAt, record: json(s) })
        .onConflict(oc => oc.column('id').doUpdateSet({ expires_at: s.expiresAt, record: json(s) })).execute()
    },
    getSession: async (id) => (await db.selectFrom('sessions').select('record').where('id', '=', id).executeTakeFirst())?.record,
    deleteSession: async (id) => { await db.deleteFrom('sessions').where('id', '=', id).execute() },
    listSessionIds: async function * () {
      for await (const r of pages(async (after) => await db.selectFrom('sessions').select('id')
        .$if(after !== undefined, q => q.where('id', '>', after!)).orderBy('id').limit(PAGE_ROWS).execute(), r => r.id)) yield r.id
    },

    putItem: async (item) => {
      await db.insertInto('items').values({ item_id: item.itemId, record: json(item) })
        .onConflict(oc => oc.column('item_id').doUpdateSet({ record: json(item) })).execute()
    },
    getItem: async (id) => (await db.selectFrom('items').select('record').where('item_id', '=', id).executeTakeFirst())?.record,
    listItems: async function * () {
      for await (const r of pages(async (after) => await db.selectFrom('items').select(['item_id', 'record'])
        .$if(after !== undefined, q => q.where('item_id', '>', after!)).orderBy('item_id').limit(PAGE_ROWS).execute(), r => r.item_id)) yield r.record
    },
    putPoster: async (item, poster) => {
      await db.transaction().execute(async (tx) => {
        await tx.insertInto('posters').values({ item_id: item.itemId, type: poster.type, data: poster.data })
          .onConflict(oc => oc.column('item_id').doUpdateSet({ type: poster.type, data: poster.data })).execute()
        await tx.insertInto('items').values({ item_id: item.itemId, record: json(item) })
          .onConflict(oc => oc.column('item_id').doUpdateSet({ record: json(item) })).execute()
      })
    },
    getPoster: async (id) => {
      const r = await db.selectFrom('posters').select(['type', 'data']).where('item_id', '=', id).executeTakeFirst()
      return r === undefined ? undefined : { type: r.type, data: r.data }
    },

    putLicense: async (l) => {
      await db.insertInto('licenses').values({ license_id: l.licenseId, account_id: l.accountId, record: json(l) })
        .onConflict(oc => oc.column('license_id').doUpdateSet({ account_id: l.accountId, record: json(l) })).execute()
    },
    getLicense: async (id) => (await db.selectFrom('licenses').select('record').where('license_id', '=', id).executeTakeFirst())?.record,
    listAccountLicenses: async function * (accountId) {
      for await (const r of pages(async (after) => await db.selectFrom('licenses').select(['license_id', 'record']).where('account_id', '=', accountId)
        .$if(after !== undefined, q => q.where('license_id', '>', after!)).orderBy('license_id').limit(PAGE_ROWS).execute(), r => r.license_id)) yield r.record
    },

    putNode: async (n) => {
      await db.insertInto('nodes').values({ peer_id: n.peerId, record: json(n) })
        .onConflict(oc => oc.column('peer_id').doUpdateSet({ record: json(n) })).execute()
    },
    getNode: async (id) => (await db.selectFrom('nodes').select('record').where('peer_id', '=', id).executeTakeFirst())?.record,
    listNodes: async function * () {
      for await (const r of pages(async (after) => await db.selectFrom('nodes').select(['peer_id', 'record'])
        .$if(after !== undefined, q => q.where('peer_id', '>', after!)).orderBy('peer_id').limit(PAGE_ROWS).execute(), r => r.peer_id)) yield r.record
    },
    deleteNode: async (id) => { await db.deleteFrom('nodes').where('peer_id', '=', id).execute() },

    setPreposition: async (region, itemIds) => {
      if (itemIds.length === 0) await db.deleteFrom('preposition').where('region', '=', region).execute()
      else {
        await db.insertInto('preposition').values({ region, item_ids: json(itemIds) })
          .onConflict(oc => oc.column('region').doUpdateSet({ item_ids: json(itemIds) })).execute()
      }
    },
    listPreposition: async function * () {
      for (const r of await db.selectFrom('preposition').select(['region', 'item_ids']).orderBy('region').execute()) yield [r.region, r.item_ids]
    },
    putAutoPlan: async (plan) => {
      await db.insertInto('meta').values({ key: AUTO_KEY, value: json(plan) })
        .onConflict(oc => oc.column('key').doUpdateSet({ value: json(plan) })).execute()
    },
    getAutoPlan: async () => (await db.selectFrom('meta').select('value').where('key', '=', AUTO_KEY).executeTakeFirst())?.value as Record<string, string[]> | undefined,

    currentRules: async () => {
      const r = await db.selectFrom('rules').selectAll().orderBy('version', 'desc').limit(1).executeTakeFirst()
      return r === undefined ? undefined : { version: r.version, issuedAt: r.issued_at, expiresAt: r.expires_at, envelope: r.envelope }
    },
    publishRules: async (make) => await db.transaction().execute(async (tx) => {
      // one publisher at a time across every main: the number is taken and the signed rules stored in this transaction
      await sql`select pg_advisory_xact_lock(${RULES_LOCK_KEY})`.execute(tx)
      const top = await tx.selectFrom('rules').select(sql<number>`coalesce(max(version), 0)`.as('v')).executeTakeFirstOrThrow()
      const state: RulesState = await make(Number(top.v) + 1)
      await tx.insertInto('rules').values({ version: state.version, issued_at: state.issuedAt, expires_at: state.expiresAt, envelope: state.envelope }).execute()
      return state
    }),

    writeAdmissions: async (writes) => {
      if (writes.length === 0) return
      // the latest write of a key wins, as in a level batch
      const last = new Map(writes.map(w => [`${w.region}/${w.clientPeerId}`, w]))
      const puts = [...last.values()].filter(w => w.expiresAt !== undefined)
      const dels = [...last.values()].filter(w => w.expiresAt === undefined)
      await db.transaction().execute(async (tx) => {
        for (const d of dels) await tx.deleteFrom('admissions').where('region', '=', d.region).where('client_peer_id', '=', d.clientPeerId).execute()
        for (let i = 0; i < puts.length; i += PAGE_ROWS) {
          await tx.insertInto('admissions')
            .values(puts.slice(i, i + PAGE_ROWS).map(w => ({ region: w.region, client_peer_id: w.clientPeerId, expires_at: w.expiresAt! })))
            .onConflict(oc => oc.columns(['region', 'client_peer_id']).doUpdateSet({ expires_at: sql`greatest(admissions.expires_at, excluded.expires_at)` }))
            .execute()
        }
      })
    },
    listAdmissions: async function * () {
      for (const r of await db.selectFrom('admissions').selectAll().execute()) yield { region: r.region, clientPeerId: r.client_peer_id, expiresAt: r.expires_at }
    },

    putNodeToken: async (id, r) => {
      await db.insertInto('node_tokens').values({ id, peer_id: r.peerId ?? null, expires_at: r.expiresAt, record: json(r) })
        .onConflict(oc => oc.column('id').doUpdateSet({ peer_id: r.peerId ?? null, expires_at: r.expiresAt, record: json(r) })).execute()
    },
    getNodeToken: async (id) => (await db.selectFrom('node_tokens').select('record').where('id', '=', id).executeTakeFirst())?.record,
    bindNodeToken: async (id, peerId) => {
      const r = await sql`update node_tokens set peer_id = ${peerId}, record = record || jsonb_build_object('peerId', ${peerId}::text)
        where id = ${id} and peer_id is null`.execute(db)
      return Number(r.numAffectedRows ?? 0n) === 1
    },
    countUnusedNodeTokens: async (now) => {
      const r = await db.selectFrom('node_tokens').select(sql<number>`count(*)::int`.as('n'))
        .where('peer_id', 'is', null).where('expires_at', '>', now).executeTakeFirstOrThrow()
      return Number(r.n)
    },
    spendNodeTokens: async (peerId, now) => {
      // one statement: a token spent by one main is spent for all, and counted once
      const r = await sql`update node_tokens set record = record || jsonb_build_object('spentAt', ${now}::bigint)
        where peer_id = ${peerId} and record->'spentAt' is null`.execute(db)
      return Number(r.numAffectedRows ?? 0n)
    },

    updateQuarantine: async (change) => await db.transaction().execute(async (tx) => {
      // the row exists before it is locked: FOR UPDATE on a missing row locks nothing, and two first writers would race
      await tx.insertInto('meta').values({ key: QUARANTINE_KEY, value: json([]) }).onConflict(oc => oc.column('key').doNothing()).execute()
      // another main's change waits here until this transaction ends, then reads what it wrote (READ COMMITTED)
      const row = await tx.selectFrom('meta').select('value').where('key', '=', QUARANTINE_KEY).forUpdate().executeTakeFirstOrThrow()
      const current = (row.value as QuarantineRecord[] | null) ?? []
      const next = change(current)
      if (next === undefined) return current
      await tx.updateTable('meta').set({ value: json(next) }).where('key', '=', QUARANTINE_KEY).execute()
      return next
    }),
    getQuarantine: async () => ((await db.selectFrom('meta').select('value').where('key', '=', QUARANTINE_KEY).executeTakeFirst())?.value as QuarantineRecord[] | undefined) ?? [],

    putHolding: async (h) => {
      await db.insertInto('holdings').values({ item_id: h.itemId, peer_id: h.peerId, expires_at: h.expiresAt, changed_at: DB_NOW_MS, record: json(h) })
        .onConflict(oc => oc.columns(['item_id', 'peer_id']).doUpdateSet({ expires_at: h.expiresAt, changed_at: DB_NOW_MS, record: json(h) })).execute()
    },
    changedHoldings: async (now, since, limit) => {
      const asOf = Number((await sql<{ t: number }>`select ${DB_NOW_MS} as t`.execute(db)).rows[0]!.t)
      const rows = await db.selectFrom('holdings').select('record').where('expires_at', '>', now)
        .$if(since !== undefined, q => q.where('changed_at', '>=', since!))
        .orderBy('changed_at', 'desc').limit(limit).execute()
      return { holdings: rows.map(r => r.record), asOf }
    },
    pruneHoldings: async (now) => Number((await db.deleteFrom('holdings').where('expires_at', '<=', now).executeTakeFirst()).numDeletedRows),
    addDemand: async (rows) => {
      if (rows.length === 0) return
      const sums = new Map<string, { bucket: number, region: string, item_id: string, count: number }>()
      for (const r of rows) {
        const k = `${r.bucket}\x00${r.region}\x00${r.itemId}`
        const e = sums.get(k)
        if (e === undefined) sums.set(k, { bucket: r.bucket, region: r.region, item_id: r.itemId, count: r.count })
        else e.count += r.count
      }
      const all = [...sums.values()]
      // one statement per page: concurrent adds from several mains each count
      for (let i = 0; i < all.length; i += PAGE_ROWS) {
        await db.insertInto('demand').values(all.slice(i, i + PAGE_ROWS))
          .onConflict(oc => oc.columns(['bucket', 'region', 'item_id']).doUpdateSet({ count: sql`demand.count + excluded.count` })).execute()
      }
    },
    demandSince: async (sinceBucket, limit) => {
      const rows = await db.selectFrom('demand')
        .select(['region', 'item_id', sql<number>`sum(count)::bigint`.as('n'), sql<number>`max(bucket)`.as('last')])
        .where('bucket', '>=', sinceBucket).groupBy(['region', 'item_id'])
        .orderBy('n', 'desc').orderBy('last', 'desc').limit(limit).execute()
      return rows.map((r): DemandTally => ({ region: r.region, itemId: r.item_id, count: Number(r.n), lastBucket: Number(r.last) }))
    },
    pruneDemand: async (beforeBucket) => { await db.deleteFrom('demand').where('bucket', '<', beforeBucket).execute() },

    addSourceReport: async (source, reporter, at) => {
      await db.insertInto('source_reports').values({ source, reporter, at })
        .onConflict(oc => oc.columns(['source', 'reporter']).doUpdateSet({ at: sql`greatest(source_reports.at, excluded.at)` })).execute()
    },
    sourceReporters: async (source, since, limit) => (await db.selectFrom('source_reports').select(['reporter', 'at'])
      .where('source', '=', source).where('at', '>=', since).orderBy('at', 'desc').limit(limit).execute()).map(r => ({ reporter: r.reporter, at: r.at })),
    clearSourceReports: async (source) => { await db.deleteFrom('source_reports').where('source', '=', source).execute() },
    pruneSourceReports: async (before) => { await db.deleteFrom('source_reports').where('at', '<', before).execute() },

    putDirectiveClients: async (rows) => {
      const latest = new Map<string, DirectiveClientRecord>()
      for (const r of rows) {
        const key = `${r.region}/${r.clientPeerId}`
        const cur = latest.get(key)
        if (cur === undefined || cur.expiresAt <= r.expiresAt) latest.set(key, r)
      }
      const all = [...latest.values()].map(r => ({ region: r.region, client_peer_id: r.clientPeerId, account_id: r.accountId, expires_at: r.expiresAt }))
      for (let i = 0; i < all.length; i += PAGE_ROWS) {
        await db.insertInto('directive_clients').values(all.slice(i, i + PAGE_ROWS))
          .onConflict(oc => oc.columns(['region', 'client_peer_id']).doUpdateSet({
            account_id: sql`case when excluded.expires_at >= directive_clients.expires_at then excluded.account_id else directive_clients.account_id end`,
            expires_at: sql`greatest(directive_clients.expires_at, excluded.expires_at)`
          })).execute()
      }
    },
    getDirectiveClient: async (region, clientPeerId) => {
      const r = await db.selectFrom('directive_clients').selectAll().where('region', '=', region).where('client_peer_id', '=', clientPeerId).executeTakeFirst()
      return r === undefined ? undefined : { region: r.region, clientPeerId: r.client_peer_id, accountId: r.account_id, expiresAt: r.expires_at }
    },
    pruneDirectiveClients: async (now) => { await db.deleteFrom('directive_clients').where('expires_at', '<=', now).execute() },

    limiter,
    exclusive: async (name, fn) => await db.connection().execute(async (conn) => {
      // a session advisory lock on one pinned connection: held until unlocked, or until that main's connection dies
      const got = await sql<{ ok: boolean }>`select pg_try_advisory_lock(hashtext(${name})) as ok`.execute(conn)
      if (got.rows[0]?.ok !== true) return { ran: false as const }
      try {
        return { ran: true as const, value: await fn() }
      } finally {
        await sql`select pg_advisory_unlock(hashtext(${name}))`.execute(conn)
      }
    }),
    close: async () => { await db.destroy() },

    putItemTerms: async (itemId, terms) => {
      await db.insertInto('item_terms').values({ item_id: itemId, record: json(terms) })
        .onConflict(oc => oc.column('item_id').doUpdateSet({ record: json(terms) })).execute()
    },
    getItemTerms: async (itemId) => (await db.selectFrom('item_terms').select('record').where('item_id', '=', itemId).executeTakeFirst())?.record,
    listItemTerms: async function * () {
      for await (const r of pages(async (after) => await db.selectFrom('item_terms').select(['item_id', 'record'])
        .$if(after !== undefined, q => q.where('item_id', '>', after!)).orderBy('item_id').limit(PAGE_ROWS).execute(), r => r.item_id)) yield [r.item_id, r.record] as [string, ItemTerms]
    },
    putItemVersion: async (v) => {
      await db.insertInto('item_versions').values({ item_id: v.itemId, version: v.version, record: json(v) })
        .onConflict(oc => oc.columns(['item_id', 'version']).doUpdateSet({ record: json(v) })).execute()
    },
    listItemVersions: async (itemId) => (await db.selectFrom('item_versions').select('record').where('item_id', '=', itemId).orderBy('version').execute()).map(r => r.record),
    holdItemVersion: async (itemId, version, until) => {
      // one statement: holds from several mains only ever raise it
      await sql`update item_versions set record = jsonb_set(record, '{heldUntil}', to_jsonb(greatest(coalesce((record->>'heldUntil')::bigint, 0), ${until}::bigint)))
        where item_id = ${itemId} and version = ${version}`.execute(db)
    },
    deleteItemVersions: async (itemId, versions) => {
      if (versions.length === 0) return
      await db.deleteFrom('item_versions').where('item_id', '=', itemId).where('version', 'in', versions).execute()
    },
    putRevocation: async (r) => {
      await db.insertInto('revocations').values({ kind: r.kind, id: r.id, record: json(r) })
        .onConflict(oc => oc.columns(['kind', 'id']).doNothing()).execute()
    },
    listRevocations: async (since) => (await db.selectFrom('revocations').select('record')
      .$if(since !== undefined, q => q.where(sql<number>`(record->>'at')::bigint`, '>=', since!)).execute()).map(r => r.record),
    currentRevocations: async () => {
      const r = await db.selectFrom('revocation_lists').selectAll().orderBy('version', 'desc').limit(1).executeTakeFirst()
      return r === undefined ? undefined : { version: r.version, issuedAt: r.issued_at, expiresAt: r.expires_at, envelope: r.envelope }
    },
    publishRevocations: async (make) => await db.transaction().execute(async (tx) => {
      await sql`select pg_advisory_xact_lock(${REVOCATIONS_LOCK_KEY})`.execute(tx)
      const top = await tx.selectFrom('revocation_lists').select(sql<number>`coalesce(max(version), 0)`.as('v')).executeTakeFirstOrThrow()
      const state: RevocationsState = await make(Number(top.v) + 1)
      await tx.insertInto('revocation_lists').values({ version: state.version, issued_at: state.issuedAt, expires_at: state.expiresAt, envelope: state.envelope }).execute()
      // only the newest few are read again; older ones stay only as the record that versions grew
      return state
    }),
    claimDevice: async (licenseId, clientPeerId, expiresAt, max, now) => {
      // One statement, one round trip. ON CONFLICT DO UPDATE locks the licence's row and computes from its latest
      // version even when another main committed it after this statement's snapshot (a CTE that locked one row
      // FOR UPDATE and counted other rows would count from the old snapshot and let both of two new devices in).
      // The update drops expired slots and adds or renews this client's only if it holds one or one is free.
      const r = await sql<{ slots: Record<string, number> }>`
        insert into device_slots as d (license_id, slots) values (${licenseId}, jsonb_build_object(${clientPeerId}::text, ${expiresAt}::bigint))
        on conflict (license_id) do update set slots = (
          select case when live ? ${clientPeerId}::text or (select count(*) from jsonb_object_keys(live)) < ${max}::int
            then live || jsonb_build_object(${clientPeerId}::text, greatest(coalesce((live->>${clientPeerId}::text)::bigint, 0), ${expiresAt}::bigint))
            else live end
          from (select coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb) as live from jsonb_each(d.slots) e where e.value::bigint > ${now}::bigint) p)
        returning slots`.execute(db)
      const slots = r.rows[0]!.slots
      const mine = slots[clientPeerId]
      if (mine !== undefined) return { ok: true, heldUntil: Number(mine) }
      const ends = Object.values(slots).map(Number)
      return { ok: false, holders: ends.length, nextFreeAt: ends.length > 0 ? Math.min(...ends) : now }
    },
    licenseDevices: async (licenseId, now) => (await sql<{ key: string }>`
      select e.key from device_slots d, jsonb_each(d.slots) e where d.license_id = ${licenseId} and e.value::bigint > ${now}::bigint`.execute(db)).rows.map(r => r.key),
    putContentKey: async (r) => {
      const res = await db.insertInto('content_keys').values({ key_id: r.keyId, item_id: r.itemId, version: r.version, record: json(r) })
        .onConflict(oc => oc.column('key_id').doNothing()).executeTakeFirst()
      return Number(res.numInsertedOrUpdatedRows ?? 0n) === 1
    },
    getContentKey: async (keyId) => (await db.selectFrom('content_keys').select('record').where('key_id', '=', keyId).executeTakeFirst())?.record
  }
}
