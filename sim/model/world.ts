/**
 * The simulated deployment's nodes, kept in columns (typed arrays indexed by
 * node number) rather than one object per node, so 10^6 clients take tens
 * of megabytes and the hot loop touches dense memory.
 *
 * Node numbering: 0 is the origin (main's copy of every item); then each
 * region's parents and edges; then every client, region by region.
 */
import type { Scenario } from '../scenario.ts'

export const ROLE_ORIGIN = 0
export const ROLE_PARENT = 1
export const ROLE_EDGE = 2
export const ROLE_CLIENT = 3
export const ROLE_NAMES = ['origin', 'parent', 'edge', 'client'] as const

export const LINK_FIELDS = 4
export const LINK_UP_FREE = 0
export const LINK_UP = 1
export const LINK_DOWN_FREE = 2
export const LINK_DOWN = 3

/** 1 Mbit/s in bytes per second. */
export const MBPS = 125_000

export class World {
  readonly regions: number
  readonly parentsPerRegion: number
  readonly edgesPerRegion: number
  readonly clientsPerRegion: number
  readonly firstParent = 1
  readonly firstEdge: number
  readonly firstClient: number
  readonly nodeCount: number
  readonly clientCount: number

  readonly role: Uint8Array
  readonly region: Int32Array
  /**
   * Each node's links, four numbers side by side (one cache line holds a
   * node's, which the transfer path reads together): when its uplink (a FIFO
   * of chunk transmissions) next falls idle, its upload capacity (bytes/s),
   * when its downlink next falls idle, its download capacity. Index with
   * node * LINK_FIELDS + LINK_*.
   */
  readonly link: Float64Array
  /** 1 while a node is online (infrastructure always is). */
  readonly online: Uint8Array

  private readonly perRegionInverse: number
  private readonly latSeed: number
  private readonly intra: readonly [number, number]
  private readonly inter: readonly [number, number]

  constructor (s: Scenario, seed: number) {
    const r = s.regions
    this.regions = r.count
    this.parentsPerRegion = r.parentsPerRegion
    this.edgesPerRegion = r.edgesPerRegion
    this.clientsPerRegion = r.clientsPerRegion
    this.firstEdge = this.firstParent + r.count * r.parentsPerRegion
    this.firstClient = this.firstEdge + r.count * r.edgesPerRegion
    this.clientCount = r.count * r.clientsPerRegion
    this.nodeCount = this.firstClient + this.clientCount
    const n = this.nodeCount
    this.role = new Uint8Array(n)
    this.region = new Int32Array(n)
    this.link = new Float64Array(n * LINK_FIELDS)
    this.online = new Uint8Array(n).fill(1)

    this.role[0] = ROLE_ORIGIN
    this.region[0] = -1
    this.setLinks(0, s.origin.uplinkMbps, s.origin.uplinkMbps)
    for (let g = 0; g < r.count; g++) {
      for (let j = 0; j < r.parentsPerRegion; j++) this.setNode(this.parent(g, j), ROLE_PARENT, g, s.parent.uplinkMbps, s.parent.downlinkMbps)
      for (let j = 0; j < r.edgesPerRegion; j++) this.setNode(this.edge(g, j), ROLE_EDGE, g, s.edge.uplinkMbps, s.edge.downlinkMbps)
    }
    this.role.fill(ROLE_CLIENT, this.firstClient)
    for (let i = this.firstClient; i < n; i++) this.setLinks(i, s.client.uplinkMbps, s.client.downlinkMbps)
    for (let g = 0; g < r.count; g++) this.region.fill(g, this.client(g, 0), this.client(g, 0) + r.clientsPerRegion)

    this.perRegionInverse = 1 / r.clientsPerRegion
    this.latSeed = seed >>> 0
    this.intra = [s.latency.intraRegionMs[0] / 1000, s.latency.intraRegionMs[1] / 1000]
    this.inter = [s.latency.interRegionMs[0] / 1000, s.latency.interRegionMs[1] / 1000]
  }

  private setNode (i: number, role: number, region: number, upMbps: number, downMbps: number): void {
    this.role[i] = role; this.region[i] = region
    this.setLinks(i, upMbps, downMbps)
  }

  private setLinks (i: number, upMbps: number, downMbps: number): void {
    this.link[i * LINK_FIELDS + LINK_UP] = upMbps * MBPS
    this.link[i * LINK_FIELDS + LINK_DOWN] = downMbps * MBPS
  }

  /**
   * A node's role and region without reading the columns for clients (a
   * client's follow from its number): the chunk path asks for a random
   * client's, whose entries in the 1 MiB and 4 MiB columns were a cache miss
   * each, while the infrastructure's few entries stay cached.
   */
  roleOf (node: number): number { return node >= this.firstClient ? ROLE_CLIENT : this.role[node]! }
  regionOf (node: number): number {
    // (x + 0.5) / n lies strictly inside (m, m + 1) for x = m·n + r, so the rounding of the product never crosses an
    // integer; | 0 truncates that positive value (= floor) and keeps the result a small integer for the JIT
    return node >= this.firstClient ? ((node - this.firstClient + 0.5) * this.perRegionInverse) | 0 : this.region[node]!
  }

  parent (region: number, j: number): number { return this.firstParent + region * this.parentsPerRegion + j }
  edge (region: number, j: number): number { return this.firstEdge + region * this.edgesPerRegion + j }
  client (region: number, j: number): number { return this.firstClient + region * this.clientsPerRegion + j }
  /** A parent's index among all parents (0-based). */
  parentIndex (node: number): number { return node - this.firstParent }
  edgeIndex (node: number): number { return node - this.firstEdge }

  /**
   * One-way latency between two nodes in seconds: fixed per pair (a hash of
   * the pair and the seed, not a random stream, so it needs no storage and
   * does not depend on the order pairs are first seen).
   */
  latency (a: number, b: number): number {
    const lo = a < b ? a : b; const hi = a < b ? b : a
    let h = Math.imul(lo ^ this.latSeed, 0x9E3779B1) ^ Math.imul(hi + 0x7F4A7C15, 0x85EBCA77)
    h ^= h >>> 15; h = Math.imul(h, 0x2C1B3C6D); h ^= h >>> 12; h = Math.imul(h, 0x297A2D39); h ^= h >>> 15
    const u = (h >>> 0) / 4294967296
    const ra = this.regionOf(a); const rb = this.regionOf(b)
    const range = ra === rb && ra >= 0 ? this.intra : this.inter
    return range[0] + u * (range[1] - range[0])
  }

  /** The mean intra-region one-way latency, seconds (the cost of one DHT hop). */
  meanIntraLatency (): number { return (this.intra[0] + this.intra[1]) / 2 }
  meanInterLatency (): number { return (this.inter[0] + this.inter[1]) / 2 }
}
