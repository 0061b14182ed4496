/** What the download engine reports: events as they happen, and its totals. */
import type { SourceKind } from './source.ts'
import type { Penalty } from '../net/errors.ts'

/** Why a source was dropped: it sent bad chunks, broke the protocol (both banned), or failed too often in a row. */
export type DropReason = 'bad-chunks' | 'protocol' | 'failures'

export type SchedulerEvent =
  | { type: 'chunk', index: number, bytes: number, source: string, kind: SourceKind }
  | { type: 'bad-chunk', index: number, source: string, kind: SourceKind, strikes: number }
  | { type: 'failure', source: string, kind: SourceKind, error: string, errorName: string, penalty: Penalty, index: number }
  | { type: 'drop', source: string, kind: SourceKind, reason: DropReason }
  | { type: 'refill', reason: string, added: number }

export interface SourceStats {
  id: string
  kind: SourceKind
  bytes: number
  chunks: number
  badChunks: number
  failures: number
  /** Measured throughput, bytes/s (0 before the first chunk). */
  rate: number
  dropped: false | DropReason
}

export interface DownloadStats {
  totalBytes: number
  doneBytes: number
  doneChunks: number
  chunkCount: number
  /** Verified bytes by the kind of source that delivered them (this run only, not resumed ones). */
  byKind: Record<SourceKind, number>
  /** Bytes received from the network this run, verified or not, duplicates included. */
  receivedBytes: number
  /** Bytes received that were not used: duplicates from the endgame and bad chunks. */
  wastedBytes: number
  resumedChunks: number
  resumedBytes: number
  sources: SourceStats[]
}
