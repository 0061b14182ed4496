/**
 * The store conformance suite against a real PostgreSQL server this test
 * starts (test/postgres.ts), with two stores open on one database at once as
 * two mains would have them; the migrations applied once when two stores
 * open a fresh database together; and device slots carried over by 0007.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { conformance } from '../../main/storage/conformance.ts'
import { openPostgresStore, createDb } from '../../main/storage/postgres.ts'
import { Migrator } from 'kysely/migration'
import { sql } from 'kysely'
import { MIGRATIONS } from '../../main/storage/migrations.ts'
import { startPostgres, freshDatabase } from '../postgres.ts'

const server = await startPostgres()
if (typeof server === 'string') {
  console.log(`SKIP postgres-store: ${server}; no PostgreSQL test ran`)
} else {
  const url = await freshDatabase(server, 'conformance')
  const suite = conformance({ name: 'postgres', open: async () => await openPostgresStore(url), second: async () => await openPostgresStore(url) })
  suite.run()

  test('two mains starting together on a fresh database apply each migration once', async () => {
    const fresh = await freshDatabase(server, 'together')
    const stores = await Promise.all([openPostgresStore(fresh), openPostgresStore(fresh), openPostgresStore(fresh)])
    try {
      const { default: pg } = await import('pg')
      const c = new pg.Client({ connectionString: fresh })
      await c.connect()
      const r = await c.query('select name from kysely_migration order by name')
      await c.end()
      // every migration this build has, once each (their names, not a copy of the list: each issue adds its own)
      assert.equal(r.rows.map(x => x.name), Object.keys(MIGRATIONS).sort())
      assert.ok(r.rows.length >= 3)
    } finally {
      for (const s of stores) await s.close()
    }
  })

  test('0007 carries device slots over: a licence full under 0004\'s table stays full, expired slots free', async () => {
    const url = await freshDatabase(server, 'slots_carry')
    const db = createDb(url)
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } })
      const upTo = await migrator.migrateTo('0006_holdings_and_demand')
      assert.is(upTo.error, undefined)
      const T = 1_800_000_000_000
      await sql`insert into devices (license_id, client_peer_id, expires_at) values
        ('lic-old', 'p1', ${T + 1000}), ('lic-old', 'p2', ${T + 2000}), ('lic-gone', 'p3', ${T - 1})`.execute(db)
      const store = await openPostgresStore(url)
      try {
        assert.equal((await store.licenseDevices('lic-old', T)).sort(), ['p1', 'p2'])
        assert.equal(await store.claimDevice('lic-old', 'p4', T + 5000, 2, T), { ok: false, holders: 2, nextFreeAt: T + 1000 })
        assert.equal(await store.claimDevice('lic-old', 'p2', T + 5000, 2, T), { ok: true, heldUntil: T + 5000 })
        assert.equal(await store.claimDevice('lic-gone', 'p5', T + 5000, 1, T), { ok: true, heldUntil: T + 5000 }, 'an expired slot carried over frees')
      } finally {
        await store.close()
      }
    } finally {
      await db.destroy()
    }
  })

  test('a wrong database URL is a clear error naming it without its password', async () => {
    const bad = `postgres://reelnet:secret@127.0.0.1:${server.port}/no_such_db`
    const err = await openPostgresStore(bad).then(() => undefined, (e: Error) => e)
    assert.ok(err !== undefined)
    assert.match(err.message, 'no_such_db')
    assert.not.match(err.message, 'secret')
  })

  test.after(async () => { await server.stop() })
  test.run()
}
