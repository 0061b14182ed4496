/**
 * Rentals: a signed license per rental, stored before it is returned, and
 * cached in memory because every directive request looks one up.
 */
import { randomUUID } from 'node:crypto'
import type { Signer } from '../protocol/keys.ts'
import type { License, Price } from '../protocol/types.ts'
import { signLicense } from '../protocol/documents.ts'
import { toText } from '../protocol/signing.ts'
import type { MainStore, LicenseRecord } from './store.ts'
import { Lru } from './lru.ts'
import { LICENSE_CACHE_ENTRIES, DEFAULT_OFFLINE_GRACE_MS } from './limits.ts'
import { PURCHASE_EXPIRES_AT } from '../protocol/limits.ts'

export type LicenseKind = 'rental' | 'purchase'

export class Licenses {
  readonly #store: MainStore
  readonly #signer: Signer
  readonly #now: () => number
  readonly #rentalMs: number
  readonly #offlineGraceMs: number
  readonly #cache = new Lru<string, LicenseRecord>(LICENSE_CACHE_ENTRIES)

  constructor (store: MainStore, signer: Signer, now: () => number, rentalMs: number, offlineGraceMs = DEFAULT_OFFLINE_GRACE_MS) {
    this.#offlineGraceMs = offlineGraceMs
    this.#store = store
    this.#signer = signer
    this.#now = now
    this.#rentalMs = rentalMs
  }

  /** How long a rental lasts (shown on the storefront before renting). */
  get rentalMs (): number { return this.#rentalMs }

  /**
   * Rent (or buy) an item. A rental's period starts now, at rent, not at first play: expiresAt is fixed here and
   * signed (`periodMs` from the item's offer, else main's default; `price` is what it charged). A purchase never ends (expiresAt is PURCHASE_EXPIRES_AT) and may be exported as plaintext.
   */
  async rent (accountId: string, itemId: string, terms: { kind?: LicenseKind, price?: Price, periodMs?: number, itemVersion?: number, maxDevices?: number } = {}): Promise<LicenseRecord> {
    const now = this.#now()
    const kind = terms.kind ?? 'rental'
    // a rental's period comes from the item's offer (issue 15), else main's default; `price` is what it charged
    const license: License = {
      licenseId: randomUUID(),
      accountId,
      itemId,
      notBefore: now,
      expiresAt: kind === 'purchase' ? PURCHASE_EXPIRES_AT : now + (terms.periodMs ?? this.#rentalMs),
      kind,
      offlineGraceMs: this.#offlineGraceMs
    }
    if (terms.price !== undefined) license.price = terms.price
    // the item's devices per licence (issue 15's terms), enforced by main's device claims (issue 14)
    if (terms.maxDevices !== undefined) license.maxDevices = terms.maxDevices
    const record: LicenseRecord = { ...license, license: toText(signLicense(license, this.#signer)) }
    if (terms.itemVersion !== undefined) record.itemVersion = terms.itemVersion
    await this.#store.putLicense(record)
    this.#cache.set(record.licenseId, record)
    return record
  }

  /** An account's rentals, newest first, at most `limit` (the storefront's "My rentals"). */
  async forAccount (accountId: string, limit: number): Promise<LicenseRecord[]> {
    const out: LicenseRecord[] = []
    for await (const r of this.#store.listAccountLicenses(accountId)) out.push(r)
    return out.sort((a, b) => b.notBefore - a.notBefore || a.licenseId.localeCompare(b.licenseId)).slice(0, limit)
  }

  async get (licenseId: string): Promise<LicenseRecord | undefined> {
    let r = this.#cache.get(licenseId)
    if (r === undefined) {
      r = await this.#store.getLicense(licenseId)
      if (r !== undefined) this.#cache.set(licenseId, r)
    }
    return r
  }
}
