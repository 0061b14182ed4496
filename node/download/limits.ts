/** The download engine's tunables, each with why it has its value. */

export interface SchedulerLimits {
  /** Chunks in flight per source before anything is measured: enough to fill a loopback pipe's first round trips. */
  initialWindow: number
  /** Never fewer than this in flight per source: one chunk in transit while the next is requested. */
  minWindow: number
  /** Never more than this per source: bounds memory (window × chunk size) and what a dying source takes down with it. */
  maxWindow: number
  /** A window holds about this much time of the source's measured throughput. */
  targetQueueMs: number
  /** Chunks per request: fewer stream opens, yet small enough to spread a range across sources. */
  maxBatch: number
  /**
   * Requests (streams) open to one source at once. Nodes and seeding peers answer at most MAX_STREAMS_PER_PEER (16)
   * chunk streams per peer with 'busy'; a window refilled one chunk at a time opened more than that against an
   * uncapped edge, and each 'busy' counted as a failure and backed the edge off (the parent then carried 14-149 MiB
   * of a 256 MiB download that the edge alone could serve).
   */
  maxRequests: number
  /**
   * A request that delivers no chunk for this long, and fewer than minProgressRate bytes per second over it,
   * is abandoned and its chunks rescheduled.
   */
  stallMs: number
  /**
   * Bytes per second that keep a late request alive. Under load a busy uplink is shared by every stream it
   * serves, so each chunk arrives slowly; cutting them all would throw away the bytes already moved and retry
   * them elsewhere, on the same overloaded machines (congestion collapse). A request still moving at this rate
   * is not stalled; a peer trickling a byte a second is far below it.
   */
  minProgressRate: number
  /** A request's first chunk may take this long (dial, credential check, an edge's miss to its parent). */
  firstChunkMs: number
  /** A sender of this many bad chunks is dropped for the rest of the download. */
  maxBadChunks: number
  /** This many failed requests in a row drop a source. */
  maxFailures: number
  /** Base back-off after a failed request, doubled per consecutive failure. */
  backoffMs: number
  /** How many sources may be asked for one chunk at once in the endgame. */
  maxRequestersPerChunk: number
  /** A source that did not deliver a chunk is not asked for it again for this long (a peer may get it later). */
  lackRetryMs: number
  /** A source dropped for failures is not re-added from a new directive for this long. */
  deadCooldownMs: number
  /** Consecutive refills that bring no usable source before the download gives up. */
  maxEmptyRefills: number
  /** Wait between refills that brought nothing. */
  refillRetryMs: number
  /** Timer tick for deadlines and back-offs. */
  tickMs: number
  /**
   * Download cap, bytes per second; 0 for none (`--max-download`). Chunks are asked for no faster than this on
   * average (a token bucket of one second at the cap, at least one chunk); a seek still goes first under it.
   */
  maxRate: number
  /**
   * Verified bytes handed to `store` and not yet written, past which no new request goes out and sources that await
   * onChunk are held (disk back-pressure reaching the stream: a slow disk must not make memory grow without bound).
   */
  maxPendingStoreBytes: number
  /** How long a source that broke the protocol or sent bad chunks is kept out (Infinity: the engine's whole life). */
  banMs: number
}

export const DEFAULT_LIMITS: SchedulerLimits = {
  // 2, not 4: at 4, two capped edges were handed half of a 16-chunk item before anything was measured, and a
  // faster seeding peer could only win the rest (peer-assist fell to 37 % in test/adversarial/network.test.ts)
  initialWindow: 2,
  minWindow: 2,
  maxWindow: 24,
  targetQueueMs: 250,
  maxBatch: 4,
  maxRequests: 8,
  stallMs: 6_000,
  minProgressRate: 16 * 1024,
  firstChunkMs: 15_000,
  maxBadChunks: 2,
  maxFailures: 5,
  backoffMs: 250,
  maxRequestersPerChunk: 2,
  lackRetryMs: 2_000,
  deadCooldownMs: 5_000,
  maxEmptyRefills: 20,
  refillRetryMs: 1_000,
  tickMs: 100,
  maxRate: 0,
  // 16 MiB: sixteen 1 MiB chunks in memory at most, past one full window of a fast source, so a disk that keeps up never pauses a stream
  maxPendingStoreBytes: 16 * 1024 * 1024,
  banMs: Infinity
}
