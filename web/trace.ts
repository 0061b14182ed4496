/**
 * Timestamps of what the player does (performance.now(), the page's clock),
 * kept in a bounded list at globalThis.reelnetTrace for tests, the bench and a
 * curious customer's console: where a seek's time goes (the Service Worker's
 * request, the chunk asked for, verified, the first bytes answered).
 */

/** Events kept; older ones are dropped first. A 2-hour film at 1 MiB chunks is ~4,000 chunk events. */
export const MAX_TRACE_EVENTS = 5_000

export interface TraceEvent { t: number, ev: string, [k: string]: unknown }

const events: TraceEvent[] = []
;(globalThis as unknown as { reelnetTrace: TraceEvent[] }).reelnetTrace = events

export function trace (ev: string, data: Record<string, unknown> = {}): void {
  events.push({ ...data, t: performance.now(), ev })
  if (events.length > MAX_TRACE_EVENTS) events.splice(0, events.length - MAX_TRACE_EVENTS)
}

/** The wall clock both the page and the Service Worker can read (their performance.now() origins differ). */
export function wallMs (): number {
  return performance.timeOrigin + performance.now()
}
