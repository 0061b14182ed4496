/**
 * What the download engine downloads from: a source is anything that can be
 * asked for some chunk indexes and hands back raw bytes, one chunk at a time.
 * The engine verifies every chunk; a source never has to be trusted.
 */

/** Who a source is: a region edge, a parent, a customer's peer, or main's origin copy (a fill's last resort). */
export type SourceKind = 'edge' | 'parent' | 'peer' | 'origin'

export interface FetchOptions {
  signal: AbortSignal
  /**
   * Called once per chunk as it arrives, in any order. While the engine's store is behind it returns a promise
   * that settles once there is room: a source that awaits it stops reading, and back-pressure reaches the stream.
   */
  onChunk: (index: number, bytes: Uint8Array) => void | Promise<void>
  /**
   * Called as raw response bytes arrive, before a chunk is whole: lets the scheduler tell a transfer that is
   * slow but moving from one that stalled. A source that never calls it is judged by whole chunks only.
   */
  onBytes?: (n: number) => void
}

export interface DownloadSource {
  /** Stable id (the PeerId). */
  readonly id: string
  readonly kind: SourceKind
  /**
   * Ask for `indexes`; resolve when the source has answered all it will.
   * Indexes not delivered by then are taken as "this source lacks them".
   * Reject on any failure (dead connection, refused credential, ...).
   */
  fetch: (indexes: number[], opts: FetchOptions) => Promise<void>
  /** Whether the source is known to hold chunk `index` (a have-bitfield); absent = assume it does. */
  has?: (index: number) => boolean
  /**
   * Bytes this source handed to onChunk are referenced by nobody any more (the engine's caller said its store keeps
   * nothing, and no waiter was given them): the source may reuse their buffer. Absent: they go to the GC.
   */
  recycle?: (bytes: Uint8Array) => void
  /** Release whatever the source holds open (called once when dropped or the download ends). */
  close?: () => void
  /** Requests open to this source at once, if fewer than the engine's `maxRequests` (main's origin: a few HTTP requests). */
  readonly maxRequests?: number
}
