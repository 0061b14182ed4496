/**
 * The errors a download ends with, whoever runs it (a customer, an edge's fill): each with a stable `name` and
 * `code` so the CLI can print one clear line and tests can match on them. node/client/errors.ts re-exports them
 * beside the customer's own.
 */

export class ClientError extends Error {
  name = 'ClientError'
  code = 'client_error'
}

/** Every source failed or was dropped, and asking main for a new directive brought no usable one. */
export class NoSourcesError extends ClientError {
  name = 'NoSourcesError'
  code = 'no_sources'
}

/** Main's directive names no source at all in the client's region (every node down or drained, or none): retrying cannot help soon. */
export class RegionUnservedError extends ClientError {
  name = 'RegionUnservedError'
  code = 'region_unserved'
}

/** The download was stopped by its caller (Ctrl-C, SIGTERM, a test's abort). */
export class DownloadAbortedError extends ClientError {
  name = 'DownloadAbortedError'
  code = 'aborted'
}
