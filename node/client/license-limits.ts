/** The licence watch's bounds (node/client/license-watch.ts), apart so the CLI's --help loads nothing else. */

/** How often a client asks by default: a revocation reaches a watching customer within a minute. */
export const DEFAULT_REVOCATION_POLL_MS = 60_000
/** "At least every few minutes" (issue 14): a longer interval is refused. */
export const MAX_REVOCATION_POLL_MS = 5 * 60_000
/** Below this a client would only load main (tests use a few hundred ms). */
export const MIN_REVOCATION_POLL_MS = 100
/**
 * Playback without main's word lasts this long when the licence states no `offlineGraceMs`: a train tunnel or a
 * flaky hotel network, not a way to keep watching after a revocation (the list itself lives an hour).
 */
export const DEFAULT_OFFLINE_GRACE_MS = 30 * 60_000
