/**
 * The documents main signs and nodes, clients and the simulator read.
 * Times are milliseconds since the Unix epoch (integers); sizes are bytes.
 * Hashes and keys are raw bytes in memory; in JSON they travel as base64url.
 */

export type Role = 'parent' | 'edge' | 'peer'

export type DocType = 'rules' | 'manifest' | 'license' | 'directive' | 'heartbeat'

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
}

export interface RegionRules {
  name: string
  parents: NodeEntry[]
  edges: NodeEntry[]
  /** itemIds edges of this region should hold before anyone asks. */
  preposition: string[]
}

export interface Rules {
  version: number
  issuedAt: number
  expiresAt: number
  chunkSize: number
  regions: RegionRules[]
}

export interface License {
  licenseId: string
  accountId: string
  itemId: string
  notBefore: number
  expiresAt: number
  /** 'rental' (absent: a rental) ends at expiresAt, fixed when rented; a 'purchase' never ends and may be exported as plaintext. */
  kind?: 'rental' | 'purchase'
  /** How long a client may keep playing without reaching main (the revocation poll), in ms. */
  offlineGraceMs?: number
}

export interface DirectivePeer {
  peerId: string
  addrs: string[]
  role: Role
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
}
