/**
 * Named size bounds shared by the codecs and the document checks. Each one
 * protects a decoder or a store from input it was never meant to hold; every
 * value errs on the side of what a real deployment needs, times ten.
 */

/** Any canonical CBOR value we decode is at most this big: the largest manifest (see MAX_CHUNK_COUNT) plus room. */
export const MAX_ENCODED_BYTES = 8 * 1024 * 1024

/**
 * Containers (maps, arrays, tags) nest at most this deep. Our deepest document
 * (rules → regions → region → parents → node → addrs) is six; the bound stops
 * a hostile `[[[[…]]]]` from exhausting the decoder's stack.
 */
export const MAX_CBOR_DEPTH = 16

/** Allowed disagreement between the signer's clock and the verifier's when checking validity windows. */
export const CLOCK_SKEW_MS = 60_000

/** Ed25519 sizes (RFC 8032), checked at every boundary. */
export const PUBLIC_KEY_BYTES = 32
export const SECRET_KEY_BYTES = 32
export const SIGNATURE_BYTES = 64

/** A key id is `ed25519:` plus 26 base32 characters; anything longer in an envelope is malformed. */
export const MAX_KEY_ID_LENGTH = 64

/**
 * The largest envelope accepted per document type, checked before any parsing.
 * A manifest carries one 32-byte hash per chunk; the rest are small.
 */
export const MAX_DOCUMENT_BYTES = {
  rules: 4 * 1024 * 1024,
  manifest: MAX_ENCODED_BYTES,
  license: 4 * 1024,
  directive: 256 * 1024,
  heartbeat: 1024 * 1024,
  revocations: 8 * 1024 * 1024
} as const

/** Identifiers (itemId, licenseId, accountId, directiveId, region names): printable ASCII, at most this long. */
export const MAX_ID_LENGTH = 128
/** A libp2p PeerId string (base58 `12D3KooW…` is 52 characters; CIDs a little more). */
export const MAX_PEER_ID_LENGTH = 128
/** A multiaddr string such as `/ip6/…/tcp/…/p2p/12D3KooW…`. */
export const MAX_ADDR_LENGTH = 512
/** Addresses listed for one node: a few interfaces times transports. */
export const MAX_ADDRS_PER_NODE = 16
/** A human title of a catalog item. */
export const MAX_TITLE_LENGTH = 512

/** Regions in one set of rules. */
export const MAX_REGIONS = 256
/** Parents, and separately edges, of one region. */
export const MAX_NODES_PER_REGION = 1024
/** Items an edge of one region is told to preposition. */
export const MAX_PREPOSITION_ITEMS = 1024
/** Peers listed in one directive: more than a client would ever dial. */
export const MAX_DIRECTIVE_PEERS = 64
/** Items a heartbeat may report as held complete. */
export const MAX_HELD_ITEMS = 10_000

/**
 * Chunk size bounds: below 16 KiB the per-chunk overhead dominates; above
 * 4 MiB a chunk no longer fits one wire frame (protocol/wire/limits.ts
 * MAX_WIRE_CHUNK_BYTES), so such an item could be signed but never served.
 */
export const MIN_CHUNK_SIZE = 16 * 1024
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024
/**
 * Chunks in one manifest: 131,072 × 32-byte hashes ≈ 4.3 MiB of manifest,
 * i.e. a 128 GiB item at 1 MiB chunks (larger items use larger chunks).
 */
export const MAX_CHUNK_COUNT = 131_072
/** SHA-256 output, the size of every chunk hash and Merkle root. */
export const HASH_BYTES = 32

// ---- issue 15 ----
/** Live manifest versions listed per item in the rules: a replace a day for a fortnight of rentals still fits. */
export const MAX_LIVE_VERSIONS = 16
/** Items listed per region in the rules (each ~120 bytes: 10,000 of them stay well inside MAX_DOCUMENT_BYTES.rules for a few regions). */
export const MAX_REGION_ITEMS = 10_000
/** Taken-down itemIds carried in the rules (the newest kept; nodes also remember the ones they deleted). */
export const MAX_REMOVED_ITEMS = 4_096
/** Items a heartbeat may report as lacking space for. */
export const MAX_LACKING_ITEMS = 1_024
/** The largest price in minor units (10^12 cents = 10^10 units): far above any rental, exact in a double. */
export const MAX_PRICE_MINOR = 1_000_000_000_000
/** A manifest version: a replace adds one; bounded so the wire key `itemId@N` stays short. */
export const MAX_ITEM_VERSION = 1_000_000


// ---- issue 14b ----

/**
 * Revoked licences listed at once. A revoked licence leaves the list once it has expired anyway (an expired
 * licence is refused on its own), so this bounds the licences revoked within one rental period: 100,000 UUIDs
 * are ~3.8 MB of the list's MAX_DOCUMENT_BYTES.revocations.
 */
export const MAX_REVOKED_LICENSES = 100_000
/** Revoked accounts listed at once (they never expire): ~1.9 MB of UUIDs. */
export const MAX_REVOKED_ACCOUNTS = 50_000
/** Quarantined nodes listed at once: main's own quarantine bound (main/reports.ts MAX_QUARANTINED). */
export const MAX_REVOKED_NODES = 10_000
/** Client keys one licence may have unexpired directives for at once, when the licence does not say (issue 14: "default 2"). */
export const DEFAULT_MAX_DEVICES = 2
/** A licence may allow at most this many devices: more is not a rental, and it bounds main's per-licence bookkeeping. */
export const MAX_DEVICES_LIMIT = 64


// ---- issue 14 ----
/**
 * A purchase never ends, but a licence carries an expiresAt: the last instant a JavaScript Date can hold
 * (year 275760), so every date formatting still works on it and it stays an exact integer.
 */
export const PURCHASE_EXPIRES_AT = 8_640_000_000_000_000
