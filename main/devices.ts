/**
 * One licence, a bounded number of devices (issue 14b): main issues directives for one licence to at most
 * `maxDevices` distinct client keys (clientPeerIds) holding unexpired directives at once (the licence's own
 * bound, else DEFAULT_MAX_DEVICES). A client that holds a slot renews it with each directive; once a device's
 * last directive expires its slot is free for another. The slots live in the store (MainStore.claimDevice), so
 * several mains share one count.
 */
import { DEFAULT_MAX_DEVICES } from '../protocol/limits.ts'
import type { MainStore, LicenseRecord } from './store.ts'
import { ApiError } from './errors.ts'

/** The device bound of a licence. */
export function maxDevicesOf (license: LicenseRecord): number {
  return license.maxDevices ?? DEFAULT_MAX_DEVICES
}

/** Take (or renew) this client's slot on the licence until `expiresAt`; 409 `device_limit`, naming the limit, when all are held. */
export async function claimDevice (store: MainStore, license: LicenseRecord, clientPeerId: string, expiresAt: number, now: number): Promise<void> {
  const max = maxDevicesOf(license)
  const claim = await store.claimDevice(license.licenseId, clientPeerId, expiresAt, max, now)
  if (claim.ok) return
  const waitS = Math.max(1, Math.ceil((claim.nextFreeAt - now) / 1000))
  throw new ApiError(409, 'device_limit',
    `this licence is in use on ${claim.holders} devices, its limit of ${max}; another device may use it once one stops (at the latest in ${waitS} s, when its directive expires)`,
    { 'Retry-After': String(waitS) })
}
