/**
 * A stream middleware that checks the length-prefixed framing of libp2p's
 * own protocols (identify, identify push, the region DHT) as bytes arrive,
 * before their readers see them. Those readers are `pbStream`s of
 * @libp2p/utils, which read a never-ending varint (0xff…) one byte at a time
 * without yielding (FACTS.md); we cannot hand them a bounded decoder, so the
 * guard walks the frames itself (O(1) per frame: it skips bodies by length)
 * and resets the stream, with the offending bytes withheld from every later
 * listener, at the first prefix that runs past the bytes the protocol's
 * largest message needs or names a larger message.
 */
import type { Connection, Stream, StreamMessageEvent, StreamMiddleware } from '@libp2p/interface'
import { FrameTooLargeError, OverlongLengthPrefixError, varintLength } from '../../protocol/wire/length-prefix.ts'

export type FrameViolation = OverlongLengthPrefixError | FrameTooLargeError

/** Walks a byte stream of varint-length-prefixed frames, one piece at a time. */
export class FrameWalker {
  private readonly maxPrefixBytes: number
  /** Body bytes still to skip of the current frame; -1 while reading a prefix. */
  private remaining = -1
  private prefixValue = 0
  private prefixScale = 1
  private prefixBytes = 0

  constructor (readonly maxDataLength: number) {
    this.maxPrefixBytes = varintLength(maxDataLength)
  }

  /** Account for `piece`; returns the first violation in it, or undefined. */
  feed (piece: Uint8Array): FrameViolation | undefined {
    let i = 0
    while (i < piece.length) {
      if (this.remaining > 0) {
        const skip = Math.min(this.remaining, piece.length - i)
        this.remaining -= skip
        i += skip
        if (this.remaining === 0) this.remaining = -1
        continue
      }
      const b = piece[i++]!
      this.prefixValue += (b & 0x7f) * this.prefixScale
      this.prefixScale *= 0x80
      this.prefixBytes++
      if ((b & 0x80) !== 0) {
        if (this.prefixBytes >= this.maxPrefixBytes) {
          return new OverlongLengthPrefixError(`length prefix runs past ${this.maxPrefixBytes} bytes (messages here are at most ${this.maxDataLength} bytes)`)
        }
        continue
      }
      if (this.prefixValue > this.maxDataLength) {
        return new FrameTooLargeError(`message of ${this.prefixValue} bytes is over the ${this.maxDataLength}-byte limit`)
      }
      this.remaining = this.prefixValue === 0 ? -1 : this.prefixValue
      this.prefixValue = 0
      this.prefixScale = 1
      this.prefixBytes = 0
    }
    return undefined
  }
}

/**
 * Middleware for a length-prefixed protocol whose messages are at most `maxDataLength` bytes. Installed
 * before the protocol's handler (or before the dialer gets the stream), so its listener runs first.
 */
export function lengthPrefixGuard (maxDataLength: number, onViolation?: (connection: Connection, protocol: string, err: FrameViolation) => void): StreamMiddleware {
  return function lengthPrefixGuardMiddleware (stream: Stream, connection: Connection, next) {
    const walker = new FrameWalker(maxDataLength)
    let broken = false
    // Not a 'message' listener: a stream dispatches its buffered bytes to whatever listener there is, so a
    // listener of ours added before the protocol's reader would take bytes the reader then never sees (identify
    // answers and DHT requests that arrive with the protocol negotiation were lost that way). Every 'message'
    // goes through dispatchEvent when the reader is there, so the guard sits in front of it.
    const dispatch = stream.dispatchEvent.bind(stream)
    stream.dispatchEvent = (evt: Event): boolean => {
      if (evt.type !== 'message') return dispatch(evt)
      if (broken) return false
      const data = (evt as StreamMessageEvent).data
      const err = data instanceof Uint8Array ? walker.feed(data) : firstViolation(walker, data)
      if (err === undefined) return dispatch(evt)
      // the protocol's reader must not see these bytes: it would read them one at a time
      broken = true
      stream.abort(err)
      onViolation?.(connection, stream.protocol, err)
      return false
    }
    next(stream, connection)
  }
}

function firstViolation (walker: FrameWalker, list: Iterable<Uint8Array>): FrameViolation | undefined {
  for (const piece of list) {
    const err = walker.feed(piece)
    if (err !== undefined) return err
  }
  return undefined
}
