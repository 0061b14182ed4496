/**
 * The documents main signs and nodes, clients and the simulator read.
 * Times are milliseconds since the Unix epoch (integers); sizes are bytes.
 * Hashes and keys are raw bytes in memory; in JSON they travel as base64url.
 */

export type Role = 'parent' | 'edge' | 'peer'

export type DocType = 'rules' | 'manifest' | 'license' | 'directive' | 'heartbeat' | 'revocations'

export interface Manifest {
  itemId: string
  title: string
  size: number
  chunkSize: number
  chunkCount: number
  /** SHA-256 of each chunk, in order; chunkCount entries of 32 bytes. */
  chunkHashes: Uint8Array[]
  /** Root of the Merkle tree over chunkHashes (see protocol/merkle.ts). */
  merkleRoot: Uint8Array
  version: number
  /**
   * Present when the chunks are AES-256-CTR ciphertext (protocol/content-crypto.ts); chunkHashes and merkleRoot
   * then cover the ciphertext. keyId is main's opaque name for the content key, never the key. Absent: plaintext.
   */
  encryption?: ManifestEncryption
}

export interface ManifestEncryption {
  alg: 'aes-256-ctr'
  keyId: string
}

export interface NodeEntry {
  peerId: string
  role: 'parent' | 'edge'
  addrs: string[]
  capacityBytes: number
  /** The TLS 1.3 chunk listener (DESIGN "Data plane"): `/ip4/A/tcp/P` or `/ip6/A/tcp/P`, the PeerId being `peerId`. */
  fastLane?: string
}

export interface RegionRules {
  name: string
  parents: NodeEntry[]
  edges: NodeEntry[]
  /** itemIds edges of this region should hold before anyone asks. */
  preposition: string[]
  /**
   * What this region's parents must hold and its edges may hold (issue 15): each item offered here, with its live
   * manifest versions (ascending; a version not listed may be garbage-collected), its window and the admin's
   * priority. Absent: the old behaviour (parents hold the whole catalog, edges anything).
   */
  items?: RegionItem[]
}

export interface RegionItem {
  itemId: string
  /** Live manifest versions, ascending: the newest for new rentals, older ones while a licence may still need them. */
  versions: number[]
  /** Rentable from (ms); parents hold it before then (prepositioned for release day). */
  availableFrom?: number
  /** Rentable until (ms); licences sold before keep working until they end. */
  availableUntil?: number
  /** Higher first when a parent lacks space for all. */
  priority?: number
}

/** What a rental charged: an integer amount in the currency's minor unit (cents) and its ISO 4217 code. */
export interface Price {
  amount: number
  currency: string
}

export interface Rules {
  version: number
  issuedAt: number
  expiresAt: number
  chunkSize: number
  regions: RegionRules[]
  /** Taken-down itemIds (issue 15): every node deletes their chunks and refuses them. */
  removed?: string[]
}

export interface License {
  licenseId: string
  accountId: string
  itemId: string
  notBefore: number
  expiresAt: number
  /** What the rental charged (issue 15); absent on licences sold before prices existed. */
  price?: Price
  /** Distinct client keys (clientPeerIds) with unexpired directives for this licence at once; absent = DEFAULT_MAX_DEVICES. */
  maxDevices?: number
  /** 'rental' (absent: a rental) ends at expiresAt, fixed when rented; a 'purchase' never ends and may be exported as plaintext. */
  kind?: 'rental' | 'purchase'
  /** How long a client may keep playing without reaching main (the revocation poll), in ms. */
  offlineGraceMs?: number
}

export interface DirectivePeer {
  peerId: string
  addrs: string[]
  role: Role
  /** The peer's fast lane, as in NodeEntry. */
  fastLane?: string
}

export interface Directive {
  directiveId: string
  licenseId: string
  itemId: string
  clientPeerId: string
  region: string
  peers: DirectivePeer[]
  /** The version of the rules this directive was issued under (mix-and-match defence). */
  rulesVersion: number
  issuedAt: number
  expiresAt: number
  /** The manifest version this download runs on (issue 15); absent = version 1. */
  itemVersion?: number
  /** The licence's account, so nodes and seeding peers can refuse a revoked account's directives (absent in older directives). */
  accountId?: string
}

export interface Heartbeat {
  peerId: string
  seq: number
  sentAt: number
  /** 0..1: busy fraction of the node's serving capacity. */
  load: number
  freeBytes: number
  /** bytes served since start, by the kind of requester. */
  bytesServed: { edge: number, parent: number, peer: number, client: number }
  /** itemIds held complete and verified. */
  heldItems: string[]
  /** The node's software version (package.json's), for operators; optional so older nodes' heartbeats still verify. */
  version?: string
  /** What the node serves now (issue 17): main ranks an edge at its uplink below an idle one. */
  serving?: HeartbeatServing
  /** Items a parent could not hold for want of space (issue 15), highest priority first. */
  lacking?: string[]
}

export interface HeartbeatServing {
  /** Bytes per second served over the last heartbeat interval. */
  bytesPerSecond: number
  /** The configured uplink (--max-upload), or 0 when none is set. */
  uplinkBytesPerSecond: number
  /** Chunk requests/streams being answered now. */
  streams: number
  /** Chunks this node is fetching for itself (fill queue). */
  fillQueue: number
}

/**
 * What main has revoked, signed and versioned like the rules: licences and accounts whose directives every
 * tier refuses, and nodes (quarantined) no one should fetch from or serve. Versions only grow.
 */
export interface Revocations {
  version: number
  issuedAt: number
  expiresAt: number
  licenses: string[]
  accounts: string[]
  nodes: string[]
}
