/**
 * Reporting a source that sent a bad chunk to main, once an hour per source
 * (main quarantines it when reporters agree).
 */
import { parseContentKey } from '../../../protocol/item-key.ts'
import type { MainClient } from '../../control/main-client.ts'
import type { EventLog } from './options.ts'

/** A source that keeps sending bad chunks is reported to main again only after this long: one report per source is what main counts. */
export const REPORT_AGAIN_AFTER_MS = 3600_000
/** Sources remembered as reported (forgotten all at once beyond: the cost is only a repeated report). */
export const MAX_REPORTED_SOURCES = 1_000

export interface BadSourceReporterOptions {
  main: MainClient
  region: string
  signal: AbortSignal
  log: (line: string) => void
  event: EventLog
}

export function createBadSourceReporter (opts: BadSourceReporterOptions): (source: string, at: { itemId: string, chunkIndex: number }) => void {
  const reportedSources = new Map<string, number>()
  return function reportBadSource (source, at) {
    const now = Date.now()
    if ((reportedSources.get(source) ?? 0) > now - REPORT_AGAIN_AFTER_MS) return
    if (reportedSources.size >= MAX_REPORTED_SOURCES) reportedSources.clear()
    reportedSources.set(source, now)
    opts.main.reportBadSource({ ...at, itemId: baseItemId(at.itemId), source, region: opts.region }, { signal: opts.signal }).then(
      r => { opts.event('warn', 'reported a bad source to main', { sourcePeerId: source, itemId: at.itemId, quarantined: r.quarantined }) },
      (e: unknown) => { opts.log(`reporting ${source}: ${(e as Error).message}`) })
  }
}

/** The itemId of a wire key (itemId@N → itemId); main's reports and the operator page speak itemIds. */
export function baseItemId (key: string): string {
  try { return parseContentKey(key).itemId } catch { return key }
}
