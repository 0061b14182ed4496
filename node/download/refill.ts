/**
 * Asking for more sources when none is usable (a customer's new directive):
 * one ask at a time, at least `refillRetryMs` apart after one that brought
 * nothing, and giving up after `maxEmptyRefills` such asks in a row — or at
 * once when main says the region has no source at all.
 */
import { NoSourcesError } from './errors.ts'
import type { DownloadSource } from './source.ts'
import type { SchedulerLimits } from './limits.ts'

/** An ask for sources is cut off after this long (a directive from main answers in milliseconds). */
export const REFILL_TIMEOUT_MS = 30_000

export interface RefillHooks {
  /** Add the sources; how many were new. */
  add: (sources: DownloadSource[]) => number
  /** The download cannot go on. */
  fail: (err: Error) => void
  /** A refill ended (for events). */
  done: (reason: string, added: number) => void
  now: () => number
  /** Ends any ask under way when the engine ends. */
  signal: AbortSignal
}

export class Refiller {
  private busy = false
  private empty = 0
  private nextAt = 0

  constructor (
    private readonly more: ((reason: string, signal: AbortSignal) => Promise<DownloadSource[]>) | undefined,
    private readonly limits: Pick<SchedulerLimits, 'refillRetryMs' | 'maxEmptyRefills'>,
    private readonly hooks: RefillHooks
  ) {}

  /** New sources arrived (from anywhere): the count of empty asks starts again. */
  sourcesAdded (): void { this.empty = 0 }

  /** No usable source is left: ask for more, unless an ask is under way or too recent. */
  request (reason: string): void {
    if (this.busy) return
    const more = this.more
    if (more === undefined) { this.hooks.fail(new NoSourcesError(`${reason}, and nowhere to ask for more`)); return }
    if (this.hooks.now() < this.nextAt) return
    this.busy = true
    const signal = AbortSignal.any([this.hooks.signal, AbortSignal.timeout(REFILL_TIMEOUT_MS)])
    more(reason, signal).then(sources => {
      this.busy = false
      const added = this.hooks.add(sources)
      this.hooks.done(reason, added)
      if (added === 0 && this.emptied()) this.hooks.fail(new NoSourcesError(`${reason}: ${this.empty} new directives in a row brought no usable source`))
    }, (err: unknown) => {
      this.busy = false
      // main says the region has no source at all: asking again every second cannot help soon
      if ((err as Error).name === 'RegionUnservedError') { this.hooks.fail(err as Error); return }
      const gaveUp = this.emptied()
      this.hooks.done(`${reason} (failed: ${(err as Error).message})`, 0)
      if (gaveUp) this.hooks.fail(new NoSourcesError(`${reason}; asking main failed: ${(err as Error).message}`))
    })
  }

  /** One more ask brought nothing: true once that is one too many. */
  private emptied (): boolean {
    this.empty++
    this.nextAt = this.hooks.now() + this.limits.refillRetryMs
    return this.empty >= this.limits.maxEmptyRefills
  }
}
