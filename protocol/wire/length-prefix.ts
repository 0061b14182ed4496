/**
 * The unsigned-varint length prefix in front of every frame of
 * `/reelnet/chunk/1.0.0` and `/reelnet/have/1.0.0`, decoded with a hard bound
 * on its own length. A prefix longer than the largest legal length needs is a
 * protocol error at once: a varint made only of continuation bytes (0xff…)
 * would otherwise be read byte by byte for as long as the sender keeps
 * sending (`lpStream` of @libp2p/utils reads the decoder's RangeError as
 * "need more bytes" and checks its length limit only once a length decodes).
 */
import type { Uint8ArrayList } from 'uint8arraylist'

/** The prefix is incomplete: read one more byte and ask again. A RangeError, as lpStream expects. */
export class IncompleteLengthPrefixError extends RangeError {
  name = 'IncompleteLengthPrefixError'
}

/** The prefix runs past the bytes the largest legal length needs, or is not the shortest encoding. */
export class OverlongLengthPrefixError extends Error {
  name = 'OverlongLengthPrefixError'
}

/** The prefix decodes to a length above the protocol's bound for this frame. */
export class FrameTooLargeError extends Error {
  name = 'FrameTooLargeError'
}

/** Bytes of a varint that encodes `n` (7 bits each). */
export function varintLength (n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a length: ${n}`)
  let len = 1
  while (n >= 0x80) { n = Math.floor(n / 0x80); len++ }
  return len
}

/**
 * Decode the length prefix at the start of `buf`, for frames of at most
 * `maxDataLength` bytes. Throws IncompleteLengthPrefixError while the prefix
 * may still end legally, OverlongLengthPrefixError as soon as it cannot
 * (more bytes than `varintLength(maxDataLength)`, or a non-minimal encoding),
 * FrameTooLargeError for a length above the bound. Reads at most
 * `varintLength(maxDataLength)` bytes whatever `buf` holds.
 */
export function decodeLengthPrefix (buf: Uint8Array | Uint8ArrayList, maxDataLength: number): number {
  const maxBytes = varintLength(maxDataLength)
  const have = Math.min(buf.byteLength, maxBytes)
  const bytes = buf.subarray(0, have)
  let value = 0
  let scale = 1
  for (let i = 0; i < have; i++) {
    const b = bytes[i]!
    value += (b & 0x7f) * scale
    scale *= 0x80
    if ((b & 0x80) === 0) {
      // a last byte of 0 after the first adds nothing: the same length had a shorter encoding
      if (b === 0 && i > 0) throw new OverlongLengthPrefixError('length prefix is not minimally encoded')
      if (value > maxDataLength) throw new FrameTooLargeError(`frame of ${value} bytes is over the ${maxDataLength}-byte limit`)
      return value
    }
  }
  if (buf.byteLength >= maxBytes) {
    throw new OverlongLengthPrefixError(`length prefix runs past ${maxBytes} bytes (frames here are at most ${maxDataLength} bytes)`)
  }
  throw new IncompleteLengthPrefixError('length prefix incomplete')
}

/** Names of the errors above that mean the sender broke the framing (a malformed frame). */
export const LENGTH_PREFIX_ERROR_NAMES: ReadonlySet<string> = new Set(['OverlongLengthPrefixError', 'FrameTooLargeError'])
