/**
 * Catalog lifecycle (issue 15): an item's terms (offers, devices, window, regions, priority), what they allow
 * now, and what the signed rules tell nodes to hold. Every refusal names the date or region that caused it.
 */
import { z } from 'zod'
import type { Price, RegionItem } from '../protocol/types.ts'
import { PriceSchema } from '../protocol/documents.ts'
import { MAX_REGION_ITEMS, MAX_REMOVED_ITEMS } from '../protocol/limits.ts'
import type { ItemRecord, ItemTerms, LicenseRecord } from './store.ts'
import { ApiError } from './errors.ts'
import type { Catalog } from './catalog.ts'
import type { RulesPublisher } from './rules.ts'
import type { MainServices } from './services.ts'
import { regionSchema } from './validate.ts'
import { MAX_REGIONS_PER_ITEM, MAX_RENTAL_HOURS, MAX_DEVICES_PER_LICENSE, MAX_ITEM_PRIORITY, MAX_REMOVAL_REASON_LENGTH } from './limits.ts'

/** Times in terms: ms since the epoch, or an ISO 8601 date (what an admin types). */
const when = z.union([
  z.number().int().min(0).max(8.64e15),
  z.string().max(40).transform((s, ctx) => {
    const t = Date.parse(s)
    if (!Number.isFinite(t) || t < 0) { ctx.addIssue({ code: 'custom', message: `not a date: ${s}` }); return z.NEVER }
    return t
  })
])

/**
 * A change to an item's terms (PATCH /v1/items/:id, and ingest's `terms`): a field absent is kept, null clears it.
 * Prices are integers in the currency's minor unit (399 EUR = 3.99 €).
 */
export const TermsPatchSchema = z.strictObject({
  rentalHours: z.number().int().min(1).max(MAX_RENTAL_HOURS).optional(),
  rentalPrice: PriceSchema.nullable().optional(),
  purchasePrice: PriceSchema.nullable().optional(),
  maxDevices: z.number().int().min(1).max(MAX_DEVICES_PER_LICENSE).nullable().optional(),
  availableFrom: when.nullable().optional(),
  availableUntil: when.nullable().optional(),
  regions: z.array(regionSchema).min(1).max(MAX_REGIONS_PER_ITEM).nullable().optional(),
  priority: z.number().int().min(0).max(MAX_ITEM_PRIORITY).nullable().optional()
})
export type TermsPatch = z.infer<typeof TermsPatchSchema>

export const RemovalSchema = z.strictObject({ reason: z.string().trim().min(1).max(MAX_REMOVAL_REASON_LENGTH).optional() })

/** Apply a patch; throws 422 when the result is inconsistent (a window that ends before it starts). */
export function applyTermsPatch (cur: ItemTerms, patch: TermsPatch, defaultRentalHours: number): ItemTerms {
  const next: ItemTerms = { ...cur }
  const set = <K extends keyof ItemTerms>(k: K, v: ItemTerms[K] | null | undefined): void => {
    if (v === undefined) return
    if (v === null) delete next[k]
    else next[k] = v
  }
  if (patch.rentalHours !== undefined || patch.rentalPrice !== undefined) {
    const hours = patch.rentalHours ?? cur.rental?.hours ?? defaultRentalHours
    const price = patch.rentalPrice === undefined ? cur.rental?.price : patch.rentalPrice
    next.rental = price === null || price === undefined ? { hours } : { hours, price }
  }
  if (patch.purchasePrice !== undefined) set('purchase', patch.purchasePrice === null ? null : { price: patch.purchasePrice })
  set('maxDevices', patch.maxDevices)
  set('availableFrom', patch.availableFrom)
  set('availableUntil', patch.availableUntil)
  set('regions', patch.regions === null || patch.regions === undefined ? patch.regions : [...new Set(patch.regions)].sort())
  set('priority', patch.priority)
  if (next.availableFrom !== undefined && next.availableUntil !== undefined && next.availableUntil <= next.availableFrom) {
    throw new ApiError(422, 'invalid', `availableUntil (${iso(next.availableUntil)}) must be after availableFrom (${iso(next.availableFrom)})`)
  }
  return next
}

export function iso (t: number): string {
  return new Date(t).toISOString()
}

export function formatPrice (p: Price | undefined): string {
  if (p === undefined) return 'free'
  return `${(p.amount / 100).toFixed(2)} ${p.currency}`
}

/** Is the item offered in this region (no list = everywhere)? */
export function offeredIn (terms: ItemTerms | undefined, region: string | undefined): boolean {
  const regions = terms?.regions
  return regions === undefined || region === undefined || regions.includes(region)
}

/** Within its window now? */
export function inWindow (terms: ItemTerms | undefined, now: number): boolean {
  return (terms?.availableFrom === undefined || now >= terms.availableFrom) && (terms?.availableUntil === undefined || now < terms.availableUntil)
}

/** Taken down: 410, with the date and the admin's reason (what customers see on their rentals too). */
export function removedError (itemId: string, terms: ItemTerms): ApiError {
  const reason = terms.removedReason !== undefined ? `: ${terms.removedReason}` : ''
  return new ApiError(410, 'item_removed', `item ${itemId} was taken down on ${iso(terms.removedAt ?? 0)}${reason}`)
}

/** Why this item may not be rented in `region` now, or undefined when it may. */
export function rentRefusal (item: ItemRecord, terms: ItemTerms | undefined, region: string | undefined, now: number): ApiError | undefined {
  if (terms?.removedAt !== undefined) return removedError(item.itemId, terms)
  if (!offeredIn(terms, region)) {
    return new ApiError(403, 'not_offered_in_region', `'${item.title}' is not offered in region ${region ?? '?'} (offered in ${terms?.regions?.join(', ') ?? 'every region'})`)
  }
  if (terms?.availableFrom !== undefined && now < terms.availableFrom) {
    return new ApiError(403, 'not_yet_available', `'${item.title}' can be rented from ${iso(terms.availableFrom)}`)
  }
  if (terms?.availableUntil !== undefined && now >= terms.availableUntil) {
    return new ApiError(403, 'no_longer_available', `'${item.title}' could be rented until ${iso(terms.availableUntil)}`)
  }
  return undefined
}

/** Why a directive for this item in `region` is refused (a licence sold keeps working after the window), or undefined. */
export function directiveRefusal (item: ItemRecord | undefined, itemId: string, terms: ItemTerms | undefined, region: string): ApiError | undefined {
  if (terms?.removedAt !== undefined) return removedError(itemId, terms)
  if (item === undefined) return new ApiError(410, 'item_removed', `item ${itemId} is no longer in the catalog`)
  if (!offeredIn(terms, region)) return new ApiError(403, 'not_offered_in_region', `'${item.title}' is not offered in region ${region} (offered in ${terms?.regions?.join(', ') ?? 'every region'})`)
  return undefined
}

/** The public view of an item's terms (catalog, storefront). */
export function publicTerms (terms: ItemTerms | undefined, defaultRentalHours: number): Record<string, unknown> {
  return {
    rental: terms?.rental ?? { hours: defaultRentalHours, price: null },
    purchase: terms?.purchase ?? null,
    maxDevices: terms?.maxDevices ?? null,
    availableFrom: terms?.availableFrom ?? null,
    availableUntil: terms?.availableUntil ?? null,
    regions: terms?.regions ?? null
  }
}

/** What a region's parents must hold and its edges may hold: every item offered there, not taken down, highest priority first. */
export function regionItems (region: string, entries: Array<{ itemId: string, terms: ItemTerms | undefined, versions: number[] }>): RegionItem[] {
  const out: RegionItem[] = []
  for (const e of entries) {
    if (e.terms?.removedAt !== undefined || !offeredIn(e.terms, region) || e.versions.length === 0) continue
    const r: RegionItem = { itemId: e.itemId, versions: e.versions }
    if (e.terms?.availableFrom !== undefined) r.availableFrom = e.terms.availableFrom
    if (e.terms?.availableUntil !== undefined) r.availableUntil = e.terms.availableUntil
    if (e.terms?.priority !== undefined) r.priority = e.terms.priority
    out.push(r)
  }
  return out.sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0) || a.itemId.localeCompare(b.itemId)).slice(0, MAX_REGION_ITEMS)
}

/** Taken-down itemIds for the rules: the most recent MAX_REMOVED_ITEMS. */
export function removedItems (entries: Array<[string, ItemTerms]>): string[] {
  return entries.filter(([, t]) => t.removedAt !== undefined)
    .sort((a, b) => (b[1].removedAt ?? 0) - (a[1].removedAt ?? 0) || a[0].localeCompare(b[0]))
    .slice(0, MAX_REMOVED_ITEMS).map(([id]) => id).sort()
}

/**
 * Older versions are collected this often: a download on one keeps it live until its last directive expires,
 * so the delay past that is at most this (plus one rules poll for the nodes).
 */
export const VERSION_COLLECT_MS = 2_000

/** Hook the catalog into the rules: each region's items and the removed list, republished whenever they change. */
export function wireLifecycle (catalog: Catalog, rules: RulesPublisher, now: () => number): void {
  rules.lifecycle = {
    itemsFor: region => regionItems(region, catalog.list().map(i => ({ itemId: i.itemId, terms: catalog.terms(i.itemId), versions: catalog.liveVersions(i.itemId, now()) }))),
    removed: () => removedItems(catalog.allTerms())
  }
  catalog.onChange = async () => { await rules.publish() }
}

/** A rental as its customer sees it: title, what it charged, and whether it still plays (and if not, why). */
export function rentalView (s: { catalog: Catalog, now: () => number }, l: LicenseRecord): { title: string | null, price: Price | null, kind: 'rental' | 'purchase', status: 'active' | 'expired' | 'removed', endedReason: string | null } {
  const item = s.catalog.get(l.itemId)
  const terms = s.catalog.terms(l.itemId)
  const base = { title: item?.title ?? null, price: l.price ?? null, kind: l.kind ?? 'rental' as const }
  if (terms?.removedAt !== undefined) return { ...base, status: 'removed', endedReason: removedError(l.itemId, terms).message }
  if (l.expiresAt <= s.now()) return { ...base, status: 'expired', endedReason: `the rental ended at ${iso(l.expiresAt)}` }
  return { ...base, status: 'active', endedReason: null }
}

/** Rent with every check of the item's terms (API and storefront alike): window, region, takedown; the offer's period and price. */
export async function rentChecked (s: MainServices, accountId: string, item: ItemRecord, kind?: 'rental' | 'purchase'): Promise<LicenseRecord> {
  const terms = s.catalog.terms(item.itemId)
  const refusal = rentRefusal(item, terms, (await s.accounts.get(accountId))?.region, s.now())
  if (refusal !== undefined) throw refusal
  // a purchase charges the offer's purchase price (licence kinds, issue 14); a rental its rental price and period
  const price = kind === 'purchase' ? terms?.purchase?.price : terms?.rental?.price
  const l = await s.licenses.rent(accountId, item.itemId, {
    ...(kind !== undefined ? { kind } : {}),
    ...(price !== undefined ? { price } : {}),
    ...(kind !== 'purchase' && terms?.rental !== undefined ? { periodMs: terms.rental.hours * 3600_000 } : {}),
    ...(terms?.maxDevices !== undefined ? { maxDevices: terms.maxDevices } : {}),
    itemVersion: s.catalog.newestVersion(item.itemId)
  })
  s.metrics.licensesIssued.inc()
  return l
}

/**
 * Issue a directive with the lifecycle checks (API and storefront alike): a takedown is 410, a region the item
 * is not offered in 403; the version asked for (a download continuing) while it is live, else the newest.
 */
export async function issueChecked (s: MainServices, req: { license: LicenseRecord, accountId: string, clientPeerId: string, region: string, asked?: number }): Promise<Awaited<ReturnType<MainServices['directives']['issue']>> & { itemVersion: number }> {
  const { license } = req
  const refusal = directiveRefusal(await s.catalog.lookup(license.itemId), license.itemId, s.catalog.terms(license.itemId), req.region)
  if (refusal !== undefined) throw refusal
  const live = s.catalog.liveVersions(license.itemId, s.now())
  const itemVersion = req.asked !== undefined && live.includes(req.asked) ? req.asked : s.catalog.newestVersion(license.itemId)
  // one licence, a bounded number of devices (issue 14): the directive ends no later than its device's slot
  const now = s.now()
  const notAfter = await s.devices.claim(license, req.clientPeerId, s.directives.expiryFor(license, now), now)
  const issued = await s.directives.issue({ license, accountId: req.accountId, clientPeerId: req.clientPeerId, region: req.region, itemVersion, notAfter })
  // a failed write only loses the hold for other mains; this one keeps it in memory
  await s.catalog.noteInUse(license.itemId, itemVersion, issued.expiresAt).catch(() => {})
  return { ...issued, itemVersion }
}
