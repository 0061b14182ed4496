/**
 * Customers' clients in columns: who is online (per region, as a list with
 * positions, so picking, joining and leaving are O(1)), which download each
 * is running, and which items each keeps and may seed until its license ends.
 */
import type { World } from './world.ts'

export class Clients {
  /** The download each client is running, or -1. */
  readonly download: Int32Array
  /** 1 if the client's session ended while it was downloading: it leaves when the download ends. */
  readonly pendingOffline: Uint8Array
  /** Items kept per client (a small ring), and until when each may be seeded (seconds). */
  readonly keep: number
  private readonly heldItem: Int32Array
  private readonly heldUntil: Float64Array
  private readonly heldNext: Uint8Array
  private readonly onlineList: Int32Array
  private readonly onlinePos: Int32Array
  private readonly onlineCount: Int32Array
  onlineTotal = 0

  constructor (private readonly world: World, keep: number) {
    const n = world.clientCount
    this.download = new Int32Array(n).fill(-1)
    this.pendingOffline = new Uint8Array(n)
    this.keep = keep
    this.heldItem = new Int32Array(n * keep).fill(-1)
    this.heldUntil = new Float64Array(n * keep)
    this.heldNext = new Uint8Array(n)
    this.onlineList = new Int32Array(n)
    this.onlinePos = new Int32Array(n).fill(-1)
    this.onlineCount = new Int32Array(world.regions)
  }

  /** Does client c hold item under a license valid at `now`? */
  holds (c: number, item: number, now: number): boolean {
    const k = this.keep
    for (let j = c * k, e = j + k; j < e; j++) if (this.heldItem[j] === item && this.heldUntil[j]! > now) return true
    return false
  }

  /** Client c keeps item (replacing its oldest kept item) until `until`. */
  keepItem (c: number, item: number, until: number): void {
    const j = c * this.keep + this.heldNext[c]!
    this.heldNext[c] = (this.heldNext[c]! + 1) % this.keep
    this.heldItem[j] = item
    this.heldUntil[j] = until
  }

  onlineIn (region: number): number { return this.onlineCount[region]! }

  /** The i-th online client of a region (0 <= i < onlineIn(region)). */
  onlineAt (region: number, i: number): number { return this.onlineList[region * this.world.clientsPerRegion + i]! }

  setOnline (c: number): void {
    const w = this.world
    const node = w.firstClient + c
    const region = w.region[node]!
    w.online[node] = 1
    const i = this.onlineCount[region]!++
    this.onlineList[region * w.clientsPerRegion + i] = c
    this.onlinePos[c] = i
    this.onlineTotal++
  }

  setOffline (c: number): void {
    const w = this.world
    const node = w.firstClient + c
    const region = w.region[node]!
    w.online[node] = 0
    const base = region * w.clientsPerRegion
    const i = this.onlinePos[c]!
    const last = --this.onlineCount[region]!
    const moved = this.onlineList[base + last]!
    this.onlineList[base + i] = moved
    this.onlinePos[moved] = i
    this.onlinePos[c] = -1
    this.onlineTotal--
  }
}
