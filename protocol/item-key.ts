/**
 * The key an item's version travels under on the wire and in node stores (issue 15): version 1 is the bare
 * itemId (so every node and client from before versions keeps working), version N ≥ 2 is `itemId@N`. A key names
 * exactly one signed manifest, so a node may cache a manifest by its key forever, and a download that began on one
 * version keeps asking for that version's chunks after a replace.
 */
import { MAX_ITEM_VERSION } from './limits.ts'

export interface VersionedItem { itemId: string, version: number }

/** The wire key of an item's version. */
export function contentKeyOf (itemId: string, version = 1): string {
  if (!Number.isInteger(version) || version < 1 || version > MAX_ITEM_VERSION) throw new RangeError(`an item version is 1..${MAX_ITEM_VERSION}`)
  if (itemId.includes('@')) throw new RangeError('an itemId has no @')
  return version === 1 ? itemId : `${itemId}@${version}`
}

/** Split a wire key; a bare itemId is version 1. RangeError for a key no contentKeyOf could make. */
export function parseContentKey (key: string): VersionedItem {
  const at = key.indexOf('@')
  if (at < 0) return { itemId: key, version: 1 }
  const itemId = key.slice(0, at)
  const v = key.slice(at + 1)
  if (itemId === '' || !/^[1-9][0-9]{0,6}$/.test(v) || Number(v) < 2 || Number(v) > MAX_ITEM_VERSION) throw new RangeError(`not an item key: ${key.slice(0, 80)}`)
  return { itemId, version: Number(v) }
}
