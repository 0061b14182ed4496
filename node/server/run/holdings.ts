/**
 * What the rules let this node hold (issue 15), and the sweep that deletes,
 * after each new rules version, what they no longer allow. Also the items
 * announced in the region DHT, which a sweep forgets.
 */
import type { Manifest, Rules } from '../../../protocol/types.ts'
import { MAX_SWEPT_SHOWN, holdingsOf, sweep, type Holdings } from '../lifecycle.ts'
import type { ManifestCache } from '../items.ts'
import type { ChunkStore } from '../store/chunk-store.ts'
import type { EventLog } from './options.ts'

export interface NodeHoldingsOptions {
  /** The rules in force (read at each use: they change under the holdings). */
  rules: () => Rules | undefined
  region: string
  items: ManifestCache
  store: ChunkStore
  log: (line: string) => void
  event: EventLog
}

export class NodeHoldings {
  /** Items (wire keys) announced in the region DHT; a swept one is announced again if it comes back. */
  readonly provided = new Set<string>()
  /** Items deleted since start, the newest MAX_SWEPT_SHOWN (for /status). */
  readonly swept: string[] = []
  /** Items a parent could not hold for want of space (heartbeat and /status). */
  lacking: string[] = []
  private sweeping: Promise<void> = Promise.resolve()

  constructor (private readonly opts: NodeHoldingsOptions) {}

  /** What the current rules allow. */
  now (): Holdings {
    return holdingsOf(this.opts.rules(), this.opts.region)
  }

  /**
   * Deletes what the rules no longer allow, one sweep after another. `copied`: a manifest a copy was working on
   * while the rules dropped it (already forgotten by the cache, its chunks not).
   */
  sweep (copied?: Manifest): Promise<void> {
    const { items, store, log, event } = this.opts
    this.sweeping = this.sweeping.then(async () => {
      const rules = this.opts.rules()
      if (rules === undefined) return
      const target = copied === undefined
        ? items
        : { all: () => [...items.all().filter(m => m.itemId !== copied.itemId), copied], forget: async (key: string) => { await items.forget(key) } }
      const r = await sweep(this.now(), target, store)
      for (const key of r.dropped) { this.provided.delete(key); this.swept.push(key) }
      if (this.swept.length > MAX_SWEPT_SHOWN) this.swept.splice(0, this.swept.length - MAX_SWEPT_SHOWN)
      if (r.dropped.length > 0) event('info', 'items no longer held deleted', { items: r.dropped, chunks: r.chunks, rulesVersion: rules.version })
    }).catch((err: unknown) => { log(`sweep: ${(err as Error).message}`) })
    return this.sweeping
  }
}
