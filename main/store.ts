/**
 * Main's persistent state in one `level` database under the data folder,
 * one sublevel per record kind. Values are JSON; everything main
 * acknowledges to a caller has been written here first.
 */
import { Level } from 'level'
import type { AbstractSublevel } from 'abstract-level'
import type { PasswordHash } from './passwords.ts'

export interface AccountRecord {
  accountId: string
  username: string
  region?: string
  password: PasswordHash
  createdAt: number
}

export interface SessionRecord {
  accountId: string
  expiresAt: number
}

export interface ItemRecord {
  itemId: string
  title: string
  size: number
  chunkSize: number
  chunkCount: number
  /** The signed manifest envelope, base64url. */
  manifest: string
  createdAt: number
  /** Shown on the storefront (`reelnet ingest --description`); not part of the signed manifest. */
  description?: string
  /** The poster's media type when one was uploaded (`--poster`); its bytes are in `posters`. */
  posterType?: string
}

export interface PosterRecord {
  type: string
  /** The image, base64. */
  data: string
}

export interface LicenseRecord {
  licenseId: string
  accountId: string
  itemId: string
  notBefore: number
  expiresAt: number
  /** The signed license envelope, base64url. */
  license: string
}

export interface NodeRecord {
  peerId: string
  role: 'parent' | 'edge'
  region: string
  addrs: string[]
  capacityBytes: number
  registeredAt: number
  drained: boolean
  /** Time of the last accepted heartbeat (or registration, which proves the node alive). */
  lastSeen: number
  lastSeq: number
  lastSentAt: number
  load: number
  freeBytes: number
  bytesServed: { edge: number, parent: number, peer: number, client: number }
  heldItems: string[]
}

export interface RulesState {
  version: number
  issuedAt: number
  expiresAt: number
  /** The signed rules envelope, base64url. */
  envelope: string
}

type Sub<V> = AbstractSublevel<Level<string, unknown>, string | Buffer | Uint8Array, string, V>

export interface MainStore {
  db: Level<string, unknown>
  accounts: Sub<AccountRecord>
  /** lower-cased username → accountId */
  usernames: Sub<string>
  /** sha256(token) hex → session */
  sessions: Sub<SessionRecord>
  items: Sub<ItemRecord>
  licenses: Sub<LicenseRecord>
  /** `${accountId}/${licenseId}` → licenseId: an account's rentals, for the storefront's "My rentals". */
  accountLicenses: Sub<string>
  /** itemId → poster image */
  posters: Sub<PosterRecord>
  nodes: Sub<NodeRecord>
  /** region → itemIds to preposition there */
  preposition: Sub<string[]>
  /** `${region}/${clientPeerId}` → expiry of the latest directive naming that client in that region */
  admissions: Sub<number>
  meta: Sub<unknown>
  close: () => Promise<void>
}

export async function openStore (location: string): Promise<MainStore> {
  const db = new Level<string, unknown>(location, { valueEncoding: 'json' })
  await db.open()
  const sub = <V>(name: string): Sub<V> => db.sublevel<string, V>(name, { valueEncoding: 'json' }) as Sub<V>
  return {
    db,
    accounts: sub('accounts'),
    usernames: sub('usernames'),
    sessions: sub('sessions'),
    items: sub('items'),
    licenses: sub('licenses'),
    accountLicenses: sub('accountLicenses'),
    posters: sub('posters'),
    nodes: sub('nodes'),
    preposition: sub('preposition'),
    admissions: sub('admissions'),
    meta: sub('meta'),
    close: async () => { await db.close() }
  }
}
