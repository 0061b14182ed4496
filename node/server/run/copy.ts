/**
 * A role's own work between requests: a parent copies the items the rules
 * list for its region (or main's whole catalog) from main, an edge
 * prepositions the items the rules name. One pass at a time.
 */
import type { Manifest } from '../../../protocol/types.ts'
import { MAX_LACKING_ITEMS } from '../../../protocol/limits.ts'
import { mayHold, missingBytes, newestKey, parentPlan } from '../lifecycle.ts'
import type { Filler } from '../fill.ts'
import { baseItemId } from './bad-sources.ts'
import type { NodeParts } from './parts.ts'

/** Chunks a parent copies from main at once (each a readahead batch of the filler). */
export const PARENT_COPY_WORKERS = 4
/** Chunks an edge prepositions at once: less than a parent, it also serves customers. */
export const PREPOSITION_WORKERS = 2

export interface ItemCopierOptions {
  filler: Filler
  /** Announces an item in the region DHT once it is complete. */
  provide: (manifest: Manifest) => Promise<void>
}

export class ItemCopier {
  private copying = false
  private working = false

  constructor (private readonly parts: NodeParts, private readonly o: ItemCopierOptions) {}

  /** Starts a pass unless one is running (it runs in the background). */
  kick (): void {
    if (this.working) return
    this.working = true
    void this.tick().finally(() => { this.working = false })
  }

  /** One pass of the role's work. */
  async tick (): Promise<void> {
    const { opts, holdings, main, rules, log, signal } = this.parts
    if (opts.role === 'parent') {
      try {
        // the rules' list for the region when main publishes one (issue 15), else the whole catalog as before
        const plan = parentPlan(holdings.now()) ?? (await main.getCatalog({ signal })).map(c => c.itemId)
        await this.copyItems(plan, PARENT_COPY_WORKERS)
      } catch (err) {
        if (!signal.aborted) log(`catalog: ${(err as Error).message}`)
      }
    } else {
      const h = holdings.now()
      const list = (rules.region()?.preposition ?? []).map(id => newestKey(h, id)).filter((k): k is string => k !== undefined)
      if (list.length > 0) await this.copyItems(list, PREPOSITION_WORKERS)
    }
  }

  private async copyItems (itemIds: string[], workers: number): Promise<void> {
    if (this.copying) return
    this.copying = true
    const { opts, holdings, items, store, log, signal } = this.parts
    const { filler } = this.o
    const short: string[] = []
    try {
      for (const itemId of itemIds) {
        if (signal.aborted) return
        if (!mayHold(holdings.now(), itemId)) continue
        let manifest: Manifest
        try { manifest = await items.get(itemId, { signal }) } catch (err) { log(`manifest of ${itemId}: ${(err as Error).message}`); continue }
        const missing = filler.missing(manifest)
        // a parent without room says so (heartbeat `lacking`, the operator page) rather than failing chunk by chunk
        if (opts.role === 'parent' && missing.length > 0 && missingBytes(manifest, missing) > store.freeBytes) {
          if (!holdings.lacking.includes(itemId)) log(`no space for ${itemId}: ${missingBytes(manifest, missing)} bytes needed, ${store.freeBytes} free`)
          short.push(itemId)
          continue
        }
        if (missing.length > 0) {
          let next = 0
          let failed = 0
          await Promise.all(Array.from({ length: workers }, async () => {
            while (next < missing.length && !signal.aborted) {
              const i = missing[next++]!
              // background: a customer waiting on a miss goes first (node/download/priorities.ts)
              try { await filler.get(manifest, i, signal, 'background') } catch { failed++ }
            }
          }))
          // the rules dropped it while it was being copied (a takedown, a collected version): delete what arrived
          if (!mayHold(holdings.now(), itemId)) { await holdings.sweep(manifest); continue }
          if (failed > 0) { log(`${itemId}: ${failed} chunks failed, retrying later`); continue }
          if (filler.isComplete(manifest)) log(`item ${itemId} complete: ${manifest.chunkCount} chunks verified`)
        }
        // announced in the background: a provide in a small region DHT can wait out its whole timeout, and the
        // next item's copy must not queue behind it (it did: a parent took 10 s more per item)
        if (filler.isComplete(manifest)) void this.o.provide(manifest)
      }
      if (opts.role === 'parent') holdings.lacking = short.map(baseItemId).slice(0, MAX_LACKING_ITEMS)
    } finally {
      this.copying = false
    }
  }
}
