/**
 * The errors the customer client throws, each with a stable `name` so the
 * CLI can print one clear line and tests can match on them.
 */

export { ClientError, NoSourcesError, RegionUnservedError, DownloadAbortedError } from '../download/errors.ts'
import { ClientError } from '../download/errors.ts'

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
