/**
 * The store conformance suite against a real PostgreSQL server this test
 * starts (test/postgres.ts), with two stores open on one database at once as
 * two mains would have them; and the migrations applied once when two stores
 * open a fresh database together.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { conformance } from '../../main/storage/conformance.ts'
import { openPostgresStore } from '../../main/storage/postgres.ts'
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
      assert.equal(r.rows.map(x => x.name), ['0001_initial', '0002_storefront_and_removal', '0005_catalog_lifecycle'])
    } finally {
      for (const s of stores) await s.close()
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
