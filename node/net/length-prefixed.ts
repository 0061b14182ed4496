/**
 * The one way node/ reads length-prefixed frames: `lpStream` from
 * @libp2p/utils with protocol/wire/length-prefix.ts as its length decoder, so
 * a prefix that cannot end within the bytes the frame limit needs (a
 * never-ending varint, 0xff…) fails the read at its last legal byte instead
 * of being read one byte at a time for as long as the sender sends.
 */
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { decodeLengthPrefix, LENGTH_PREFIX_ERROR_NAMES, varintLength } from '../../protocol/wire/length-prefix.ts'

export interface BoundedLpOptions {
  /** The largest frame this reader accepts. */
  maxDataLength: number
  /** Unread bytes the stream may buffer (at least twice the largest frame). */
  maxBufferSize: number
}

export function boundedLpStream (stream: Stream, opts: BoundedLpOptions): LengthPrefixedStream<Stream> {
  const { maxDataLength } = opts
  return lpStream(stream, {
    maxDataLength,
    maxLengthLength: varintLength(maxDataLength),
    maxBufferSize: opts.maxBufferSize,
    lengthDecoder: buf => decodeLengthPrefix(buf, maxDataLength)
  })
}

/**
 * Errors of a read that mean the remote broke the framing, not a transport failure: a bad prefix or length, or
 * more unread bytes than the reader's buffer bound (a request side sends one small frame; a response side stays
 * within the frames asked for and the window).
 */
export function isFramingError (err: unknown): boolean {
  const name = (err as Error | undefined)?.name ?? ''
  return LENGTH_PREFIX_ERROR_NAMES.has(name) || name === 'StreamBufferError' ||
    name === 'InvalidDataLengthError' || name === 'InvalidMessageLengthError' || name === 'InvalidDataLengthLengthError'
}
