/**
 * PostgreSQL schema migrations, applied in name order at start by Kysely's
 * Migrator (which records them in kysely_migration and locks while it runs).
 * Never edit one that has shipped: add the next.
 */
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': {
    async up (db: Kysely<any>) {
      await db.schema.createTable('accounts')
        .addColumn('account_id', 'text', c => c.primaryKey())
        .addColumn('username_lower', 'text', c => c.notNull().unique())
        .addColumn('record', 'jsonb', c => c.notNull()).execute()
      await db.schema.createTable('sessions')
        .addColumn('id', 'text', c => c.primaryKey())
        .addColumn('expires_at', 'bigint', c => c.notNull())
        .addColumn('record', 'jsonb', c => c.notNull()).execute()
      await db.schema.createTable('items')
        .addColumn('item_id', 'text', c => c.primaryKey())
        .addColumn('record', 'jsonb', c => c.notNull()).execute()
      await db.schema.createTable('licenses')
        .addColumn('license_id', 'text', c => c.primaryKey())
        .addColumn('record', 'jsonb', c => c.notNull()).execute()
      await db.schema.createTable('nodes')
        .addColumn('peer_id', 'text', c => c.primaryKey())
        .addColumn('record', 'jsonb', c => c.notNull()).execute()
      await db.schema.createTable('preposition')
        .addColumn('region', 'text', c => c.primaryKey())
        .addColumn('item_ids', 'jsonb', c => c.notNull()).execute()
      await db.schema.createTable('meta')
        .addColumn('key', 'text', c => c.primaryKey())
        .addColumn('value', 'jsonb', c => c.notNull()).execute()
      // every version ever published: the primary key refuses a repeat, and the history shows it only grew
      await db.schema.createTable('rules')
        .addColumn('version', 'bigint', c => c.primaryKey().check(sql`version > 0`))
        .addColumn('issued_at', 'bigint', c => c.notNull())
        .addColumn('expires_at', 'bigint', c => c.notNull())
        .addColumn('envelope', 'text', c => c.notNull()).execute()
      await db.schema.createTable('admissions')
        .addColumn('region', 'text', c => c.notNull())
        .addColumn('client_peer_id', 'text', c => c.notNull())
        .addColumn('expires_at', 'bigint', c => c.notNull())
        .addPrimaryKeyConstraint('admissions_pk', ['region', 'client_peer_id']).execute()
      await db.schema.createTable('node_tokens')
        .addColumn('id', 'text', c => c.primaryKey())
        .addColumn('peer_id', 'text')
        .addColumn('expires_at', 'bigint', c => c.notNull())
        .addColumn('record', 'jsonb', c => c.notNull()).execute()
      await db.schema.createTable('login_failures')
        .addColumn('scope', 'text', c => c.notNull())
        .addColumn('key', 'text', c => c.notNull())
        .addColumn('failures', 'integer', c => c.notNull())
        .addColumn('window_start', 'bigint', c => c.notNull())
        .addPrimaryKeyConstraint('login_failures_pk', ['scope', 'key']).execute()
    }
  },
  // the storefront (ops/store branches): posters beside their items, an account's licences by index,
  // node removal (a token's spentAt rides in its record; the quarantine list in meta needs no schema)
  '0002_storefront_and_removal': {
    async up (db: Kysely<any>) {
      await db.schema.createTable('posters')
        .addColumn('item_id', 'text', c => c.primaryKey())
        .addColumn('type', 'text', c => c.notNull())
        .addColumn('data', 'text', c => c.notNull()).execute()
      await db.schema.alterTable('licenses').addColumn('account_id', 'text').execute()
      await sql`update licenses set account_id = record->>'accountId'`.execute(db)
      await db.schema.createIndex('licenses_account_id').on('licenses').column('account_id').execute()
    }
  },
  // issue 14 (crypt): each encrypted item version's content key, found by the manifest's keyId
  '0003_content_keys': {
    async up (db: Kysely<any>) {
      await db.schema.createTable('content_keys')
        .addColumn('key_id', 'text', c => c.primaryKey())
        .addColumn('item_id', 'text', c => c.notNull())
        .addColumn('version', 'bigint', c => c.notNull())
        .addColumn('record', 'jsonb', c => c.notNull()).execute()
    }
  },
  // issue 14b: revocations (kind + id), the signed lists by version (as the rules), and device slots per licence
  '0004_revocations_and_devices': {
    async up (db: Kysely<any>) {
      await db.schema.createTable('revocations')
        .addColumn('kind', 'text', c => c.notNull())
        .addColumn('id', 'text', c => c.notNull())
        .addColumn('record', 'jsonb', c => c.notNull())
        .addPrimaryKeyConstraint('revocations_pk', ['kind', 'id']).execute()
      // mains read the records made since the newest they hold, every second
      await sql`create index revocations_at on revocations (((record->>'at')::bigint))`.execute(db)
      await db.schema.createTable('revocation_lists')
        .addColumn('version', 'bigint', c => c.primaryKey().check(sql`version > 0`))
        .addColumn('issued_at', 'bigint', c => c.notNull())
        .addColumn('expires_at', 'bigint', c => c.notNull())
        .addColumn('envelope', 'text', c => c.notNull()).execute()
      await db.schema.createTable('devices')
        .addColumn('license_id', 'text', c => c.notNull())
        .addColumn('client_peer_id', 'text', c => c.notNull())
        .addColumn('expires_at', 'bigint', c => c.notNull())
        .addPrimaryKeyConstraint('devices_pk', ['license_id', 'client_peer_id']).execute()
    }
  },
  // issue 15: an item's terms (offers, window, regions, takedown) and its manifest versions
  '0005_catalog_lifecycle': {
    async up (db: Kysely<any>) {
      await db.schema.createTable('item_terms')
        .addColumn('item_id', 'text', c => c.primaryKey())
        .addColumn('record', 'jsonb', c => c.notNull()).execute()
      await db.schema.createTable('item_versions')
        .addColumn('item_id', 'text', c => c.notNull())
        .addColumn('version', 'bigint', c => c.notNull().check(sql`version > 0`))
        .addColumn('record', 'jsonb', c => c.notNull())
        .addPrimaryKeyConstraint('item_versions_pk', ['item_id', 'version']).execute()
    }
  },
  // issue 16: what several mains share beyond 0001: customers' peer-assist holdings, directive counts per minute,
  // pending bad-source reports
  '0006_holdings_and_demand': {
    async up (db: Kysely<any>) {
      await db.schema.createTable('holdings')
        .addColumn('item_id', 'text', c => c.notNull())
        .addColumn('peer_id', 'text', c => c.notNull())
        .addColumn('expires_at', 'bigint', c => c.notNull())
        // the database's clock when stored: each main reads what changed since its last read
        .addColumn('changed_at', 'bigint', c => c.notNull())
        .addColumn('record', 'jsonb', c => c.notNull())
        .addPrimaryKeyConstraint('holdings_pk', ['item_id', 'peer_id']).execute()
      await db.schema.createIndex('holdings_changed_at').on('holdings').column('changed_at').execute()
      await db.schema.createTable('demand')
        .addColumn('bucket', 'bigint', c => c.notNull())
        .addColumn('region', 'text', c => c.notNull())
        .addColumn('item_id', 'text', c => c.notNull())
        .addColumn('count', 'bigint', c => c.notNull())
        .addPrimaryKeyConstraint('demand_pk', ['bucket', 'region', 'item_id']).execute()
      // bad-source reports not yet agreed on, so that reports reaching different mains add up
      await db.schema.createTable('source_reports')
        .addColumn('source', 'text', c => c.notNull())
        .addColumn('reporter', 'text', c => c.notNull())
        .addColumn('at', 'bigint', c => c.notNull())
        .addPrimaryKeyConstraint('source_reports_pk', ['source', 'reporter']).execute()
      // which account each client with a directive belongs to: a report may reach a main that did not issue it
      await db.schema.createTable('directive_clients')
        .addColumn('region', 'text', c => c.notNull())
        .addColumn('client_peer_id', 'text', c => c.notNull())
        .addColumn('account_id', 'text', c => c.notNull())
        .addColumn('expires_at', 'bigint', c => c.notNull())
        .addPrimaryKeyConstraint('directive_clients_pk', ['region', 'client_peer_id']).execute()
    }
  },
  // issue 16: a licence's device slots in one row (clientPeerId → expiry), so that one statement claims a slot
  // atomically (INSERT … ON CONFLICT DO UPDATE works on the row's latest version, whichever main wrote it) instead
  // of a transaction of five round trips. The rows of 0004's table are carried over, and it is dropped: a main of
  // an older build on the same database would fail its claims, so every main moves past this migration together.
  '0007_device_slots': {
    async up (db: Kysely<any>) {
      await db.schema.createTable('device_slots')
        .addColumn('license_id', 'text', c => c.primaryKey())
        .addColumn('slots', 'jsonb', c => c.notNull()).execute()
      await sql`insert into device_slots (license_id, slots)
        select license_id, jsonb_object_agg(client_peer_id, expires_at) from devices group by license_id`.execute(db)
      await db.schema.dropTable('devices').execute()
    }
  }
}
