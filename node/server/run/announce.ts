/**
 * Announcing held items in the region DHT, so edges find which members
 * hold an item (each item once, retried on the next tick if it failed).
 */
import { itemCid } from '../../../protocol/cid.ts'
import type { Manifest } from '../../../protocol/types.ts'
import type { ReelnetHost } from '../../net/host.ts'

/** A DHT provide that has not finished by then is retried on the next tick (an empty routing table makes it hang). */
export const PROVIDE_TIMEOUT_MS = 10_000

/** `provided`: the keys announced (the sweep forgets the ones it deletes). */
export function createProvider (host: ReelnetHost, provided: Set<string>, signal: AbortSignal): (manifest: Manifest) => Promise<void> {
  return async function provide (manifest) {
    if (provided.has(manifest.itemId)) return
    provided.add(manifest.itemId)
    try {
      const s = AbortSignal.any([signal, AbortSignal.timeout(PROVIDE_TIMEOUT_MS)])
      for await (const _ of host.services.dht.provide(itemCid(manifest.merkleRoot), { signal: s })) { /* drain */ }
    } catch {
      provided.delete(manifest.itemId) // retried on the next tick
    }
  }
}
