/**
 * Hard bounds of the libp2p wire protocols (`/reelnet/chunk/1.0.0`,
 * `/reelnet/have/1.0.0`). Every decoder checks the size of its input against
 * these before reading a field, so hostile bytes can never make it allocate
 * more than the bound. The transport (node/) should pass the `MAX_*_BYTES`
 * values to `lpStream({ maxDataLength })`, and a `maxBufferSize` of at least
 * twice the largest of them.
 */
import { MAX_CHUNK_COUNT, MAX_DOCUMENT_BYTES, MAX_ID_LENGTH } from '../limits.ts'

/**
 * The largest chunk the wire carries. Four times the default chunk size, so
 * an operator may pick larger chunks for huge items, and small enough that a
 * peer holds a few frames in memory per stream without strain.
 * protocol/limits.ts caps manifests' chunk size at the same figure, so every
 * signed item can be served.
 */
export const MAX_WIRE_CHUNK_BYTES = 4 * 1024 * 1024

/** The largest chunk index (exclusive) a frame may name: a manifest never has more chunks. */
export const MAX_WIRE_CHUNK_COUNT = MAX_CHUNK_COUNT

/** Chunk indexes in one request: enough to keep a fast peer busy for a while, small enough that one request cannot pin a server for long. */
export const MAX_INDEXES_PER_REQUEST = 256

/** An itemId on the wire: printable ASCII, the same bound as in signed documents. */
export const MAX_WIRE_ID_LENGTH = MAX_ID_LENGTH

/** A credential is a signed directive envelope, so it may be as large as the largest directive main signs. */
export const MAX_CREDENTIAL_BYTES = MAX_DOCUMENT_BYTES.directive

/** The human-readable message of an error frame: one line, for logs. */
export const MAX_ERROR_MESSAGE_BYTES = 1024

/** Header of a chunk data frame: type byte plus a big-endian uint32 index. */
export const CHUNK_DATA_HEADER_BYTES = 5

/** A chunk request body: id length + id, index count + indexes, credential length + credential. */
export const MAX_CHUNK_REQUEST_BYTES =
  1 + MAX_WIRE_ID_LENGTH + 2 + 4 * MAX_INDEXES_PER_REQUEST + 4 + MAX_CREDENTIAL_BYTES

/** A chunk response frame: the largest chunk plus its header (error frames are far smaller). */
export const MAX_CHUNK_FRAME_BYTES = MAX_WIRE_CHUNK_BYTES + CHUNK_DATA_HEADER_BYTES

/** A have request body: id length + id. */
export const MAX_HAVE_REQUEST_BYTES = 1 + MAX_WIRE_ID_LENGTH

/** A have response body: id length + id, uint32 chunk count, one bit per chunk. */
export const MAX_HAVE_RESPONSE_BYTES = 1 + MAX_WIRE_ID_LENGTH + 4 + Math.ceil(MAX_WIRE_CHUNK_COUNT / 8)
