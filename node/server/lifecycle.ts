/**
 * What a parent or edge holds, from the signed rules (issue 15): each region lists its items with their live
 * versions, and the rules list taken-down items. A node serves only what the rules allow, a parent copies what its
 * region lists (highest priority first, saying which it lacks space for), and after every new rules version each
 * node deletes the chunks of what is no longer allowed — a takedown, a collected old version, or an item no longer
 * offered in its region. Rules from a main without these fields (no `items`) keep the old behaviour.
 */
import type { Manifest, RegionItem, Rules } from '../../protocol/types.ts'
import { contentKeyOf, parseContentKey } from '../../protocol/item-key.ts'
import { hex } from './store/chunk-store.ts'

/** Keys a node's /status lists as swept since start (the newest kept): enough to see the last takedowns. */
export const MAX_SWEPT_SHOWN = 1_000

export interface Holdings {
  /** The region's items as the rules list them, or undefined when the rules do not list items (an older main). */
  items: RegionItem[] | undefined
  removed: Set<string>
}

export function holdingsOf (rules: Rules | undefined, region: string): Holdings {
  return {
    items: rules?.regions.find(r => r.name === region)?.items,
    removed: new Set(rules?.removed ?? [])
  }
}

/** May this node hold and serve this wire key (itemId or itemId@N)? A key that no version could make: no. */
export function mayHold (h: Holdings, key: string): boolean {
  let parsed
  try { parsed = parseContentKey(key) } catch { return false }
  if (h.removed.has(parsed.itemId)) return false
  if (h.items === undefined) return true
  const item = h.items.find(i => i.itemId === parsed.itemId)
  return item !== undefined && item.versions.includes(parsed.version)
}

/** The wire key of an item's newest live version in this region (what a preposition of `itemId` means). */
export function newestKey (h: Holdings, itemId: string): string | undefined {
  if (h.removed.has(itemId)) return undefined
  if (h.items === undefined) return itemId
  const item = h.items.find(i => i.itemId === itemId)
  const v = item?.versions[item.versions.length - 1]
  return v === undefined ? undefined : contentKeyOf(itemId, v)
}

/** What a parent of the region must hold, in the order to copy it: by priority (the rules' order), newest version first. */
export function parentPlan (h: Holdings): string[] | undefined {
  if (h.items === undefined) return undefined
  const out: string[] = []
  for (const item of h.items) for (const v of [...item.versions].reverse()) out.push(contentKeyOf(item.itemId, v))
  return out
}

/** Bytes still to fetch for a manifest, given which chunks are missing. */
export function missingBytes (manifest: Manifest, missing: number[]): number {
  const last = manifest.chunkCount - 1
  let n = 0
  for (const i of missing) n += i === last ? manifest.size - last * manifest.chunkSize : manifest.chunkSize
  return n
}

export interface SweepTarget {
  all: () => Manifest[]
  forget: (key: string) => Promise<void>
}

export interface SweepStore {
  has: (hash: string) => boolean
  delete: (hash: string) => Promise<boolean>
}

/**
 * Delete the chunks of every manifest this node may no longer hold (a chunk another allowed manifest shares stays)
 * and forget those manifests. Returns the keys dropped and the chunks deleted.
 */
export async function sweep (h: Holdings, manifests: SweepTarget, store: SweepStore): Promise<{ dropped: string[], chunks: number }> {
  const drop = manifests.all().filter(m => !mayHold(h, m.itemId))
  if (drop.length === 0) return { dropped: [], chunks: 0 }
  const keep = new Set<string>()
  for (const m of manifests.all()) if (mayHold(h, m.itemId)) for (const c of m.chunkHashes) keep.add(hex(c))
  let chunks = 0
  for (const m of drop) {
    for (const c of m.chunkHashes) {
      const k = hex(c)
      if (keep.has(k) || !store.has(k)) continue
      if (await store.delete(k)) chunks++
    }
    await manifests.forget(m.itemId)
  }
  return { dropped: drop.map(m => m.itemId), chunks }
}
