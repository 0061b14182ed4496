/**
 * Every bound and default main enforces, named, with the reason for its value.
 * Tests and the CLI import these instead of repeating numbers.
 */

/** A JSON request body larger than this is refused (413): the largest legitimate body (a heartbeat envelope with many held items, a preposition list) fits with room to spare. */
export const MAX_JSON_BODY_BYTES = 256 * 1024

/** The largest item ingest accepts (413 beyond): 64 GiB covers any film or game build while keeping chunk counts bounded. */
export const MAX_ITEM_BYTES = 64 * 1024 ** 3

/** Chunk size bounds for ingest come from protocol/ (every reader must accept what main produces). */
export { MIN_CHUNK_SIZE, MAX_CHUNK_SIZE, MAX_CHUNK_COUNT, MAX_ADDR_LENGTH, MAX_PEER_ID_LENGTH, MAX_TITLE_LENGTH, MAX_PREPOSITION_ITEMS, MAX_ADDRS_PER_NODE } from '../protocol/limits.ts'

/** A heartbeat envelope may carry up to 10,000 held items (protocol's MAX_DOCUMENT_BYTES.heartbeat, 1 MiB), base64url in JSON. */
export const MAX_HEARTBEAT_BODY_BYTES = 1_500_000

/** A storefront description longer than this is refused: a few paragraphs, bounded so the catalog page stays small. */
export const MAX_DESCRIPTION_LENGTH = 4_000

/** A poster larger than this is refused (413): a web-sized JPEG or PNG is 50–200 KiB; it also fits main's body bound. */
export const MAX_POSTER_BYTES = 256 * 1024

/** Customer session lifetime: a week, after which `reelnet login` again. */
export const SESSION_TTL_MS = 7 * 24 * 3600_000

/** Default rental period (48 h), settable with `--rental-hours`. */
export const DEFAULT_RENTAL_MS = 48 * 3600_000

/** Directives are short-lived: a leaked one is useless soon, and a client asks again cheaply. */
export const DEFAULT_DIRECTIVE_TTL_MS = 10 * 60_000

/** A node silent for longer than this is down and no longer named in directives. */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 15_000

/** Signed rules live a day; main re-signs them (a new version) once half of that has passed, so nodes never hold expired rules. */
export const RULES_TTL_MS = 24 * 3600_000

/** How far a node's clock (node auth, heartbeats) may differ from main's before its signed requests are refused as stale. */
export const MAX_CLOCK_SKEW_MS = 60_000

/** A customer's holding report expires unless refreshed within this time, so a client that went away stops being listed. */
export const HOLDING_TTL_MS = 2 * 60_000

/** At most this many peers in a directive: enough sources for parallel download and failover, small enough to sign and send fast. */
export const DIRECTIVE_PEER_LIMIT = 16

/** Ranked peers per region/item are cached this long: heartbeats move load and liveness, but not faster than clients ask. */
export const RANK_CACHE_MS = 1_000

/**
 * Failed logins one source (a client address; an IPv6 /64) may make against one account within LOGIN_WINDOW_MS
 * before that source gets 429 for that account. Only that pair is refused: the owner elsewhere still logs in.
 */
export const LOGIN_FAILURES_PER_ACCOUNT = 5
/** Failed logins one source may make across all accounts within the window (credential stuffing from one host). */
export const LOGIN_FAILURES_PER_ADDRESS = 20
/**
 * Failed logins against one account from all sources within the window (a guesser spread over many addresses).
 * Past it the account is not locked: a source that has not failed against it may still try, once; a source that
 * has failed is refused. So guesses are bounded by the attacker's addresses, and the owner is never locked out.
 */
export const LOGIN_FAILURES_PER_ACCOUNT_ALL_SOURCES = 50
/** Lock-out window for failed logins: long enough to make online guessing useless, short enough that a real customer waits minutes. */
export const LOGIN_WINDOW_MS = 15 * 60_000
/** The limiter forgets keys beyond this many, oldest first, so a flood of usernames cannot exhaust memory. */
export const LOGIN_LIMITER_MAX_KEYS = 100_000

/** OWASP's scrypt parameters (N=2^17, r=8, p=1): ~128 MiB and a few hundred ms per hash. */
export const SCRYPT_PARAMS = { N: 2 ** 17, r: 8, p: 1 } as const
/** Password hashes running at once: each takes 128 MiB, so this bounds main's memory under a login storm. */
export const MAX_CONCURRENT_HASHES = 2

/** Requests waiting for a password hash beyond this are refused (503): a login storm must not queue without end. */
export const MAX_QUEUED_HASHES = 64
/** Accounts one client address may create per hour: each costs a 128 MiB scrypt hash, so sign-ups must not be a free way to load main. */
export const ACCOUNTS_PER_ADDRESS_PER_HOUR = 20

/** Username, password and region bounds. */
export const USERNAME_RE = /^[A-Za-z0-9_.-]{3,32}$/
export const MIN_PASSWORD_LENGTH = 8
export const MAX_PASSWORD_LENGTH = 256
export const REGION_RE = /^[a-z0-9][a-z0-9-]{0,31}$/

/** Cached in memory, beyond these main reads level: sessions and licenses hot for directives. */
export const SESSION_CACHE_ENTRIES = 100_000
export const LICENSE_CACHE_ENTRIES = 100_000

// ---- issue 15 ----
/** Regions one item may be offered in (an item in more is offered everywhere: no list). */
export const MAX_REGIONS_PER_ITEM = 256
/** The longest rental an offer may give: a year. */
export const MAX_RENTAL_HOURS = 24 * 366
/** Devices per licence an offer may allow. */
export const MAX_DEVICES_PER_LICENSE = 64
/** Admin priorities are small integers; bounded so a typo cannot reorder everything by a huge number. */
export const MAX_ITEM_PRIORITY = 1_000_000
/** A takedown's reason is shown to customers: one line. */
export const MAX_REMOVAL_REASON_LENGTH = 300
/** The terms JSON an ingest may carry in its query string. */
export const MAX_TERMS_QUERY_LENGTH = 4_096


// ---- issue 14 ----
/**
 * How long a licence lets a client play without reaching main (stated in every licence as offlineGraceMs):
 * a few revocation polls, so a short network hiccup does not stop a film, while a revoked licence stops
 * within this much even on a client that cut itself off.
 */
export const DEFAULT_OFFLINE_GRACE_MS = 15 * 60_000
