/**
 * Main's persistent state behind one interface (main/storage/types.ts):
 * the embedded `level` database under the data folder by default, or a
 * PostgreSQL database shared by several mains (`--db postgres://…`).
 * Everything main acknowledges to a caller has been written here first.
 */
import { join } from 'node:path'
import type { MainStore } from './storage/types.ts'

export type {
  MainStore, AccountRecord, SessionRecord, ItemRecord, LicenseRecord, NodeRecord, RulesState, NodeTokenRecord,
  AdmissionWrite, PosterRecord, QuarantineRecord, ItemTerms, ItemVersionRecord, RevocationRecord,
  RevocationsState, DeviceClaim
} from './storage/types.ts'

/** True for a PostgreSQL connection string. */
export function isPostgresUrl (db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db)
}

/** Open the store: `db` a postgres:// URL, else the level database in DATA/db. */
export async function openStore (dataDir: string, db?: string): Promise<MainStore> {
  if (db !== undefined && isPostgresUrl(db)) {
    const { openPostgresStore } = await import('./storage/postgres.ts')
    return await openPostgresStore(db)
  }
  const { openLevelStore } = await import('./storage/level.ts')
  return await openLevelStore(join(dataDir, 'db'))
}
