/**
 * Everything main keeps, behind one interface with two implementations:
 * `level` (embedded, the default: main/storage/level.ts) and PostgreSQL
 * (main/storage/postgres.ts, for several mains sharing one database).
 * main/storage/conformance.ts is the one suite both must pass.
 *
 * Every write is durable when its promise resolves: main acknowledges a
 * caller only after that.
 */
import type { PasswordHash } from '../passwords.ts'
import type { Price, HeartbeatServing } from '../../protocol/types.ts'

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
  /** The poster's media type when one was uploaded (`--poster`); its bytes are kept apart (putPoster). */
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
  /** What the rental charged (also inside the signed licence). */
  price?: Price
  /** The manifest version that was newest when it was rented. */
  itemVersion?: number
  /** Client keys with unexpired directives at once (absent: protocol's DEFAULT_MAX_DEVICES). */
  maxDevices?: number
  /** As in the signed licence: absent = 'rental'. */
  kind?: 'rental' | 'purchase'
  offlineGraceMs?: number
}

/** An encrypted item's content key (one per itemId and version), found by the manifest's encryption.keyId. */
export interface ContentKeyRecord {
  keyId: string
  itemId: string
  version: number
  /** The 32-byte AES-256 key, base64url. Never logged, never sent but sealed to a licensed client. */
  key: string
  createdAt: number
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
  /** The software version of the node's last heartbeat, when it said one. */
  version?: string
  /** Items the node (a parent) said it lacks space for (issue 15). */
  lacking?: string[]
  /** Its fast lane (registration; issue 17). */
  fastLane?: string
  /** What its last heartbeat said it serves (issue 17). */
  serving?: HeartbeatServing
}

export interface RulesState {
  version: number
  issuedAt: number
  expiresAt: number
  /** The signed rules envelope, base64url. */
  envelope: string
}

export interface NodeTokenRecord {
  role: 'parent' | 'edge'
  region: string
  createdAt: number
  /** Unused by then → refused. Once bound, the token stays valid for its node (which re-registers on every start). */
  expiresAt: number
  /** The node that first registered with it; then only that node may use it. */
  peerId?: string
  /** Set when its node was removed: the token registers nothing again (a node that comes back needs a fresh one). */
  spentAt?: number
}

/** A source quarantined on the word of several reporters (main/reports.ts); kept as one list. */
export interface QuarantineRecord {
  peerId: string
  /** 'parent' | 'edge' for a node, 'peer' for a customer. */
  role: string
  region: string
  since: number
  /** The distinct reporter identities that agreed (node:<peerId> or account:<accountId>). */
  reporters: string[]
  itemId: string
}

/** One admission change: `expiresAt` undefined deletes it. */
export interface AdmissionWrite { region: string, clientPeerId: string, expiresAt?: number }

/** A customer peer's report that it holds (part of) an item, under one of its licences (peer-assist). */
export interface HoldingRecord {
  itemId: string
  peerId: string
  licenseId: string
  addrs: string[]
  region: string
  complete: boolean
  reportedAt: number
  expiresAt: number
}

/** Directives issued for one item in one region within one demand bucket (a whole number of DEMAND_BUCKET_MS since the epoch). */
export interface DemandRow { region: string, itemId: string, bucket: number, count: number }

/** One (region, item)'s directives summed over buckets, with the latest bucket that had any. */
export interface DemandTally { region: string, itemId: string, count: number, lastBucket: number }

/** A client main issued a directive to: its account, and until when the directive holds. */
export interface DirectiveClientRecord { region: string, clientPeerId: string, accountId: string, expiresAt: number }

/** The login limiter's counters: failures of one key (in one scope) within a fixed window. */
export interface LimiterCounters {
  /** Record a failure; returns the failures in the key's current window (a window past its end starts again at `now`). */
  fail: (scope: string, key: string, now: number, windowMs: number) => Promise<{ failures: number, windowStart: number }>
  /** The key's current window, or undefined if it has none or it ended. */
  get: (scope: string, key: string, now: number, windowMs: number) => Promise<{ failures: number, windowStart: number } | undefined>
  clear: (scope: string, key: string) => Promise<void>
}

/** An item's terms of sale and lifecycle (issue 15), set at ingest and changed by an admin; none set = the old behaviour. */
export interface ItemTerms {
  /** A rental: how long it lasts and what it costs. Absent: main's default rental period, free. */
  rental?: { hours: number, price?: Price }
  /** A purchase price (licence kinds are issue 14's; kept and shown here). */
  purchase?: { price: Price }
  /** Devices one licence may be used on (issue 14 enforces it from the licence's maxDevices). */
  maxDevices?: number
  /** Rentable from / until (ms since the epoch). */
  availableFrom?: number
  availableUntil?: number
  /** Regions it is offered in; absent = every region. */
  regions?: string[]
  /** Parents short of space hold higher priorities first (default 0). */
  priority?: number
  /** Set when an admin took it down: it leaves the catalog and every store; licences end with `removedReason`. */
  removedAt?: number
  removedReason?: string
}

/** One version of an item's signed manifest (the newest is also the item's own record). */
export interface ItemVersionRecord {
  itemId: string
  version: number
  size: number
  chunkSize: number
  chunkCount: number
  /** The signed manifest envelope, base64url. */
  manifest: string
  createdAt: number
  /** Some main issued a directive on this version that runs until then: it is not collected before (holdItemVersion). */
  heldUntil?: number
}

/** One revocation an admin made (main/revocations.ts). Sessions never leave main; licences and accounts are published. */
export interface RevocationRecord {
  kind: 'license' | 'account' | 'session'
  /** A licenseId, an accountId, or a session id (sha256 of the token, hex). */
  id: string
  at: number
  /** When the revoked thing would have ended anyway (a licence's or session's expiry): past it, the record may go. */
  until?: number
}

/** A signed revocation list as stored; versions only grow, whichever main publishes. */
export interface RevocationsState {
  version: number
  issuedAt: number
  expiresAt: number
  /** The signed revocation list envelope, base64url. */
  envelope: string
}

/** The answer to a device claim: taken (or renewed) until `heldUntil`, or refused with how many hold the licence and when the first slot frees. */
export type DeviceClaim = { ok: true, heldUntil: number } | { ok: false, holders: number, nextFreeAt: number }

export interface MainStore {
  readonly kind: 'level' | 'postgres'

  /** Create an account and claim its lower-cased username at once; false if the username is taken. */
  createAccount: (record: AccountRecord) => Promise<boolean>
  getAccount: (accountId: string) => Promise<AccountRecord | undefined>
  accountIdByUsername: (username: string) => Promise<string | undefined>
  listAccounts: () => AsyncIterable<AccountRecord>

  /** Sessions by sha256(token) hex. */
  putSession: (id: string, session: SessionRecord) => Promise<void>
  getSession: (id: string) => Promise<SessionRecord | undefined>
  deleteSession: (id: string) => Promise<void>
  listSessionIds: () => AsyncIterable<string>

  putItem: (item: ItemRecord) => Promise<void>
  getItem: (itemId: string) => Promise<ItemRecord | undefined>
  listItems: () => AsyncIterable<ItemRecord>
  /** Store an item's poster and the item (now naming the poster's type) together. */
  putPoster: (item: ItemRecord, poster: PosterRecord) => Promise<void>
  getPoster: (itemId: string) => Promise<PosterRecord | undefined>

  putLicense: (license: LicenseRecord) => Promise<void>
  getLicense: (licenseId: string) => Promise<LicenseRecord | undefined>
  /** Every licence of one account (the storefront's "My rentals"), in no particular order. */
  listAccountLicenses: (accountId: string) => AsyncIterable<LicenseRecord>

  /** The node registry, heartbeat state included. */
  putNode: (node: NodeRecord) => Promise<void>
  getNode: (peerId: string) => Promise<NodeRecord | undefined>
  listNodes: () => AsyncIterable<NodeRecord>
  /** Remove a node from the registry (unknown ones are ignored). */
  deleteNode: (peerId: string) => Promise<void>

  /** The operator's preposition list of a region; an empty list removes it. */
  setPreposition: (region: string, itemIds: string[]) => Promise<void>
  listPreposition: () => AsyncIterable<[string, string[]]>
  /** The demand plan's lists (region → itemIds), replaced whole. */
  putAutoPlan: (plan: Record<string, string[]>) => Promise<void>
  getAutoPlan: () => Promise<Record<string, string[]> | undefined>

  /** The latest stored rules, or undefined before the first. */
  currentRules: () => Promise<RulesState | undefined>
  /**
   * Store the next rules version: `make` is handed the version (one more than the latest stored) and returns the
   * signed state, which is stored in the same transaction that takes the number, so versions never repeat or go
   * back, whichever main publishes.
   */
  publishRules: (make: (version: number) => RulesState | Promise<RulesState>) => Promise<RulesState>

  /** Directive admissions: `${region}/${clientPeerId}` → expiry. */
  writeAdmissions: (writes: AdmissionWrite[]) => Promise<void>
  listAdmissions: () => AsyncIterable<AdmissionWrite & { expiresAt: number }>

  /** Node tokens by sha256(token) hex. */
  putNodeToken: (id: string, record: NodeTokenRecord) => Promise<void>
  getNodeToken: (id: string) => Promise<NodeTokenRecord | undefined>
  /** Bind an unbound token to a node; false if it was bound (to anyone) meanwhile. */
  bindNodeToken: (id: string, peerId: string) => Promise<boolean>
  countUnusedNodeTokens: (now: number) => Promise<number>
  /** Mark every unspent token bound to this node spent at `now` (its node was removed); returns how many. */
  spendNodeTokens: (peerId: string, now: number) => Promise<number>

  /**
   * Change the quarantine list in one step that no other main's change can interleave with (PostgreSQL: the row is
   * locked from read to write): `change` gets the list in force and returns the new one, or undefined to leave it.
   * Resolves with the list in force afterwards. Two mains quarantining two sources at once both land.
   */
  updateQuarantine: (change: (entries: readonly QuarantineRecord[]) => QuarantineRecord[] | undefined) => Promise<QuarantineRecord[]>
  /** The quarantine list; empty before the first. */
  getQuarantine: () => Promise<QuarantineRecord[]>

  limiter: LimiterCounters

  /**
   * Run `fn` only if no other main holds the named lease (a PostgreSQL advisory lock; on level, one process
   * owns the folder so it always runs). Returns whether it ran.
   */
  exclusive: <T>(name: string, fn: () => Promise<T>) => Promise<{ ran: true, value: T } | { ran: false }>

  close: () => Promise<void>

  // ---- issue 15: catalog lifecycle ----
  /** Replace an item's terms whole. */
  putItemTerms: (itemId: string, terms: ItemTerms) => Promise<void>
  getItemTerms: (itemId: string) => Promise<ItemTerms | undefined>
  listItemTerms: () => AsyncIterable<[string, ItemTerms]>
  /** Keep one version's manifest (a put of a stored version replaces it). */
  putItemVersion: (v: ItemVersionRecord) => Promise<void>
  /** Every stored version of an item, ascending. */
  listItemVersions: (itemId: string) => Promise<ItemVersionRecord[]>
  /** Raise a stored version's heldUntil to `until` (never lowers it; an unknown version is ignored). Several mains may call it at once. */
  holdItemVersion: (itemId: string, version: number, until: number) => Promise<void>
  /** Forget versions no licence can need any more (their origin chunks are collected by the caller). */
  deleteItemVersions: (itemId: string, versions: number[]) => Promise<void>
  // ---- issue 14b: revocation and devices ----

  /** Record a revocation (the same kind and id again keeps the first). */
  putRevocation: (r: RevocationRecord) => Promise<void>
  /** Every revocation (or those made at or after `since`), in no particular order. */
  listRevocations: (since?: number) => Promise<RevocationRecord[]>
  /** The latest stored signed revocation list, or undefined before the first. */
  currentRevocations: () => Promise<RevocationsState | undefined>
  /** As publishRules: `make` gets one more than the latest stored version, and its answer is stored in the same transaction. */
  publishRevocations: (make: (version: number) => RevocationsState | Promise<RevocationsState>) => Promise<RevocationsState>
  /**
   * Let `clientPeerId` hold a directive for `licenseId` until `expiresAt`, if it already holds one or fewer than
   * `max` distinct clients hold unexpired ones at `now` (expired holders are dropped). Atomic across mains: two
   * mains claiming the last slot for two clients at once admit one. `heldUntil` is the slot's end as stored (a
   * renewal never shortens it). A slot is released by its expiry and nothing else: mains issue directives on a
   * slot they saw held without asking again (main/devices.ts), so whatever ends one early must reach every main.
   */
  claimDevice: (licenseId: string, clientPeerId: string, expiresAt: number, max: number, now: number) => Promise<DeviceClaim>
  /** The clients holding unexpired directives for a licence (the peers to stop admitting when it is revoked). */
  licenseDevices: (licenseId: string, now: number) => Promise<string[]>
  // ---- issue 14: content keys ----
  /** Store a content key; false (and nothing changed) if its keyId is taken: a key is never replaced. */
  putContentKey: (record: ContentKeyRecord) => Promise<boolean>
  getContentKey: (keyId: string) => Promise<ContentKeyRecord | undefined>
  // ---- issue 16: what several mains must share beyond the above: peer-assist holdings and demand counts ----
  /** Store a holding (one per item and peer: a newer report replaces the older). */
  putHolding: (h: HoldingRecord) => Promise<void>
  /**
   * Holdings unexpired at `now` and changed at or after `since` on the store's clock (every unexpired one when
   * `since` is undefined), at most `limit` (the most recently changed), and the store's clock when read: a main
   * passes that back, less a margin for writes still in flight, to read only what changed since.
   */
  changedHoldings: (now: number, since: number | undefined, limit: number) => Promise<{ holdings: HoldingRecord[], asOf: number }>
  /** Delete holdings expired at `now`; returns how many. */
  pruneHoldings: (now: number) => Promise<number>
  /** Add each row's count to its (region, itemId, bucket): mains each add what they issued. */
  addDemand: (rows: DemandRow[]) => Promise<void>
  /** Per (region, item), the counts of buckets >= `sinceBucket` summed, the most requested first, at most `limit`. */
  demandSince: (sinceBucket: number, limit: number) => Promise<DemandTally[]>
  /** Delete counts of buckets before `beforeBucket`. */
  pruneDemand: (beforeBucket: number) => Promise<void>
  /** A bad-source report not yet agreed on: `reporter`'s latest report against `source` (a later one replaces it). */
  addSourceReport: (source: string, reporter: string, at: number) => Promise<void>
  /** The distinct reporters of `source` whose latest report is at or after `since`, the latest first, at most `limit`. */
  sourceReporters: (source: string, since: number, limit: number) => Promise<Array<{ reporter: string, at: number }>>
  /** Forget every report against `source` (it was quarantined or cleared). */
  clearSourceReports: (source: string) => Promise<void>
  /** Forget reports older than `before`. */
  pruneSourceReports: (before: number) => Promise<void>
  /** Clients main issued directives to (who may report sources, counted by account): the latest expiry per region and client wins. */
  putDirectiveClients: (rows: DirectiveClientRecord[]) => Promise<void>
  getDirectiveClient: (region: string, clientPeerId: string) => Promise<DirectiveClientRecord | undefined>
  /** Forget clients whose directives expired at `now`. */
  pruneDirectiveClients: (now: number) => Promise<void>
}
