/**
 * Customers' clients in columns: who is online (per region, as a list with
 * positions, so picking, joining and leaving are O(1)), which download each
 * is running, and which items each keeps and may seed until its license ends.
 *
 * What one client's events read together sits together: its download, its
 * pending-offline flag, its place in the online list and its ring position
 * in one 16-byte record (`rec`), and its kept items with their license ends
 * side by side (`held`). A churn event or a peer's lookup touches a random
 * one of 10^6 clients, so each separate column it read was a miss to memory.
 */
import type { World } from './world.ts'

/** Int32s per client in `rec`. */
const CL_FIELDS = 4
/** The download the client is running, or -1. */
const CL_DOWNLOAD = 0
/** 1 if the client's session ended while it was downloading: it leaves when the download ends. */
const CL_PENDING_OFFLINE = 1
/** Its position in its region's online list, or -1. */
const CL_ONLINE_POS = 2
/** The next slot of its ring of kept items. */
const CL_HELD_NEXT = 3

export class Clients {
  /** Items kept per client (a small ring). */
  readonly keep: number
  private readonly rec: Int32Array
  /** Per client, keep pairs (item, until when it may be seeded, seconds); item -1 for an empty slot. */
  private readonly held: Float64Array
  private readonly onlineList: Int32Array
  private readonly onlineCount: Int32Array
  private readonly world: World
  onlineTotal = 0

  constructor (world: World, keep: number) {
    this.world = world
    const n = world.clientCount
    this.keep = keep
    this.rec = new Int32Array(n * CL_FIELDS)
    for (let c = 0; c < n; c++) { this.rec[c * CL_FIELDS + CL_DOWNLOAD] = -1; this.rec[c * CL_FIELDS + CL_ONLINE_POS] = -1 }
    this.held = new Float64Array(n * keep * 2)
    for (let j = 0; j < n * keep; j++) this.held[2 * j] = -1
    this.onlineList = new Int32Array(n)
    this.onlineCount = new Int32Array(world.regions)
  }

  /** The download client c is running, or -1. */
  downloadOf (c: number): number { return this.rec[c * CL_FIELDS + CL_DOWNLOAD]! }
  setDownload (c: number, d: number): void { this.rec[c * CL_FIELDS + CL_DOWNLOAD] = d }
  /** Did c's session end while it was downloading (it leaves when the download ends)? */
  pendingOffline (c: number): boolean { return this.rec[c * CL_FIELDS + CL_PENDING_OFFLINE] === 1 }
  setPendingOffline (c: number, pending: boolean): void { this.rec[c * CL_FIELDS + CL_PENDING_OFFLINE] = pending ? 1 : 0 }

  /** Does client c hold item under a license valid at `now`? */
  holds (c: number, item: number, now: number): boolean {
    const held = this.held
    for (let j = 2 * c * this.keep, e = j + 2 * this.keep; j < e; j += 2) if (held[j] === item && held[j + 1]! > now) return true
    return false
  }

  /** Client c keeps item (replacing its oldest kept item) until `until`. */
  keepItem (c: number, item: number, until: number): void {
    const r = c * CL_FIELDS + CL_HELD_NEXT
    const j = 2 * (c * this.keep + this.rec[r]!)
    this.rec[r] = (this.rec[r]! + 1) % this.keep
    this.held[j] = item
    this.held[j + 1] = until
  }

  onlineIn (region: number): number { return this.onlineCount[region]! }

  /** The i-th online client of a region (0 <= i < onlineIn(region)). */
  onlineAt (region: number, i: number): number { return this.onlineList[region * this.world.clientsPerRegion + i]! }

  setOnline (c: number): void {
    const w = this.world
    const node = w.firstClient + c
    const region = w.regionOf(node)
    w.online[node] = 1
    const i = this.onlineCount[region]!++
    this.onlineList[region * w.clientsPerRegion + i] = c
    this.rec[c * CL_FIELDS + CL_ONLINE_POS] = i
    this.onlineTotal++
  }

  setOffline (c: number): void {
    const w = this.world
    const node = w.firstClient + c
    const region = w.regionOf(node)
    w.online[node] = 0
    const base = region * w.clientsPerRegion
    const i = this.rec[c * CL_FIELDS + CL_ONLINE_POS]!
    const last = --this.onlineCount[region]!
    const moved = this.onlineList[base + last]!
    this.onlineList[base + i] = moved
    this.rec[moved * CL_FIELDS + CL_ONLINE_POS] = i
    this.rec[c * CL_FIELDS + CL_ONLINE_POS] = -1
    this.onlineTotal--
  }
}
