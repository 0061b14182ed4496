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
