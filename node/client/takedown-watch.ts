/**
 * Which items main's signed rules list as taken down (issue 15), polled once
 * per process for each main (its URL and pinned key), however many customers
 * of the process watch: the rules are public and signed, so one verified copy
 * answers all of them. A process running 25 customers (the load bench's
 * workers) made 25 polls every CUSTOMER_RULES_POLL_MS before; each customer
 * still learns of a takedown within one poll.
 */
import type { MainApi } from './main-api.ts'

export type OnRemoved = (removed: readonly string[]) => void

interface SharedPoll {
  listeners: Set<OnRemoved>
  timer: NodeJS.Timeout
  etag: string | undefined
  /** The last list main answered, once one came. */
  removed: readonly string[] | undefined
  busy: boolean
}

const polls = new Map<string, SharedPoll>()

/**
 * Call `onRemoved` with the taken-down itemIds whenever a poll brings a new list (and at once when this process
 * already holds one); returns the function that stops watching. The poll stops with its last watcher. A main that
 * cannot be reached is skipped silently: the directive and holdings calls say so.
 */
export function watchTakedowns (api: Pick<MainApi, 'url' | 'removedItems'>, mainKey: Uint8Array, pollMs: number, onRemoved: OnRemoved): () => void {
  const key = `${api.url} ${Buffer.from(mainKey).toString('hex')} ${pollMs}`
  let poll = polls.get(key)
  if (poll === undefined) {
    const p: SharedPoll = {
      listeners: new Set(),
      etag: undefined,
      removed: undefined,
      busy: false,
      timer: setInterval(() => {
        if (p.busy) return
        p.busy = true
        api.removedItems(p.etag).then(r => {
          if (r === undefined) return
          p.etag = r.etag
          p.removed = r.removed
          for (const l of [...p.listeners]) l(r.removed)
        }, () => { /* main unreachable */ }).finally(() => { p.busy = false })
      }, pollMs)
    }
    // a customer's other work (a download, seeding) keeps its process alive, never this poll
    p.timer.unref()
    polls.set(key, p)
    poll = p
  }
  const p = poll
  p.listeners.add(onRemoved)
  if (p.removed !== undefined) onRemoved(p.removed)
  return () => {
    p.listeners.delete(onRemoved)
    if (p.listeners.size === 0 && polls.get(key) === p) {
      clearInterval(p.timer)
      polls.delete(key)
    }
  }
}
