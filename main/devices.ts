/**
 * One licence, a bounded number of devices (issue 14b): main issues directives for one licence to at most
 * `maxDevices` distinct client keys (clientPeerIds) holding unexpired directives at once (the licence's own
 * bound, else DEFAULT_MAX_DEVICES). A client that holds a slot renews it with each directive; once a device's
 * last directive expires its slot is free for another. The slots live in the store (MainStore.claimDevice), so
 * several mains share one count.
 *
 * A client asks for directives far more often than its slot runs out (each download, each resume, each
 * renewal), so each main remembers the slots it took: while one still covers most of the lifetime a new
 * directive would have, the directive is issued on it without asking the store, and expires no later than
 * the slot. That is safe because nothing but its expiry releases a slot (MainStore.claimDevice): a slot this
 * main saw held until T is held until T on every main, so a directive that ends by T never adds a device.
 * Refusals are never remembered: the next ask goes to the store again.
 */
import { DEFAULT_MAX_DEVICES } from '../protocol/limits.ts'
import type { MainStore, LicenseRecord } from './store.ts'
import { ApiError } from './errors.ts'
import { Lru } from './lru.ts'
import { MAX_KNOWN_CLIENTS } from './reports.ts'

/**
 * A held slot is used without asking the store while it still covers this much of the lifetime the directive
 * would otherwise get: a directive issued on it is at most 10 % shorter than a fresh one, and each device's
 * slot is renewed in the store at most once per tenth of a directive lifetime (once a minute at 10 min).
 */
export const SLOT_REUSE_FRACTION = 0.9
/** Slots remembered per main (licence and client): as many as clients main remembers for reports. */
export const HELD_SLOTS = MAX_KNOWN_CLIENTS

/** The device bound of a licence. */
export function maxDevicesOf (license: LicenseRecord): number {
  return license.maxDevices ?? DEFAULT_MAX_DEVICES
}

/** This main's front of the store's device slots. */
export class DeviceSlots {
  readonly #store: MainStore
  /** `${licenseId}\n${clientPeerId}` → until when the store holds that client's slot (as this main last saw it) */
  readonly #held = new Lru<string, number>(HELD_SLOTS)

  constructor (store: MainStore) {
    this.#store = store
  }

  /**
   * Take (or renew) this client's slot on the licence for a directive that would run until `wanted`; returns
   * when the directive must expire (`wanted`, or a held slot's end at most a tenth of its lifetime earlier).
   * 409 `device_limit`, naming the limit, when all slots are held by others.
   */
  async claim (license: LicenseRecord, clientPeerId: string, wanted: number, now: number): Promise<number> {
    const key = `${license.licenseId}\n${clientPeerId}`
    const held = this.#held.get(key)
    if (held !== undefined && held > now && held - now >= (wanted - now) * SLOT_REUSE_FRACTION) return Math.min(held, wanted)
    const max = maxDevicesOf(license)
    const claim = await this.#store.claimDevice(license.licenseId, clientPeerId, wanted, max, now)
    if (claim.ok) {
      this.#held.set(key, claim.heldUntil)
      return Math.min(claim.heldUntil, wanted)
    }
    this.#held.delete(key)
    const waitS = Math.max(1, Math.ceil((claim.nextFreeAt - now) / 1000))
    throw new ApiError(409, 'device_limit',
      `this licence is in use on ${claim.holders} devices, its limit of ${max}; another device may use it once one stops (at the latest in ${waitS} s, when its directive expires)`,
      { 'Retry-After': String(waitS) })
  }
}
