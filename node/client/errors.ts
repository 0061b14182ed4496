/**
 * The errors the customer client throws, each with a stable `name` so the
 * CLI can print one clear line and tests can match on them.
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

/** Every chunk verified, yet the Merkle root over their hashes is not the manifest's: never rename such a file into place. */
export class RootMismatchError extends ClientError {
  name = 'RootMismatchError'
  code = 'root_mismatch'
}

/** The `.part` file or its journal belongs to another item or is damaged beyond use. */
export class PartFileError extends ClientError {
  name = 'PartFileError'
  code = 'part_file'
}

/** Main answered an API call with an error (its `{error:{code,message}}` body, when there is one). */
export class MainApiError extends ClientError {
  name = 'MainApiError'
  code = 'main_api'
  status: number
  constructor (message: string, status: number, code?: string) {
    super(message)
    this.status = status
    if (code !== undefined) this.code = code
  }
}

/** An encrypted item without its content key: main sent none, or the sealed box does not open with this client's key. */
export class ContentKeyError extends ClientError {
  name = 'ContentKeyError'
  code = 'content_key'
}
