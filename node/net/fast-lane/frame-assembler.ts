/**
 * Cuts a byte stream into length-prefixed frames as pieces arrive, with the
 * bounded length-prefix decoder of protocol/wire/length-prefix.ts: a prefix
 * that cannot end within the bytes the frame limit needs, or a length above
 * the limit, throws at once (before any body byte is buffered). Each frame
 * body is copied once, into a buffer of its own and of exactly its size
 * (from `alloc`: the fast-lane client's FramePool), so the pieces handed in
 * may be views into one reused read buffer and a chunk kept from a frame pins
 * nothing else.
 */
import { decodeLengthPrefix, varintLength } from '../../../protocol/wire/length-prefix.ts'

export class FrameAssembler {
  private readonly prefix: Uint8Array
  private prefixLen = 0
  private body: Uint8Array | undefined
  private filled = 0

  constructor (
    readonly maxDataLength: number,
    private readonly onFrame: (body: Uint8Array) => void,
    private readonly alloc: (length: number) => Uint8Array = length => Buffer.allocUnsafeSlow(length)
  ) {
    this.prefix = new Uint8Array(varintLength(maxDataLength))
  }

  /** Inside a frame (its prefix or body begun, not finished): a slow sender here is holding a buffer open. */
  get midFrame (): boolean { return this.prefixLen > 0 || this.body !== undefined }

  /** Bytes of the frame being assembled that are still to come (0 between frames). */
  get pendingBytes (): number { return this.body === undefined ? 0 : this.body.length - this.filled }

  /** The request id (first 4 body bytes) of the frame being assembled, once they have arrived. */
  currentRequestId (): number | undefined {
    if (this.body === undefined || this.filled < 4) return undefined
    return new DataView(this.body.buffer, this.body.byteOffset, 4).getUint32(0)
  }

  /** Account for `piece` (only read during the call). Throws the decoder's framing errors; onFrame's errors pass through. */
  feed (piece: Uint8Array): void {
    let i = 0
    const n = piece.length
    while (i < n) {
      if (this.body === undefined) {
        const byte = piece[i++]!
        this.prefix[this.prefixLen++] = byte
        // a continuation byte within the bound: not yet decodable (the decoder would only throw "incomplete",
        // and an exception per frame cost 3 % of a requester's CPU)
        if ((byte & 0x80) !== 0 && this.prefixLen < this.prefix.length) continue
        let len: number
        try {
          len = decodeLengthPrefix(this.prefix.subarray(0, this.prefixLen), this.maxDataLength)
        } catch (err) {
          if ((err as Error).name === 'IncompleteLengthPrefixError') continue
          throw err
        }
        this.prefixLen = 0
        // not zero-filled: every byte is overwritten before the frame is handed on
        this.body = this.alloc(len)
        this.filled = 0
        if (len === 0) { this.finish(); continue }
      }
      const take = Math.min(this.body.length - this.filled, n - i)
      this.body.set(piece.subarray(i, i + take), this.filled)
      this.filled += take
      i += take
      if (this.filled === this.body.length) this.finish()
    }
  }

  private finish (): void {
    const body = this.body!
    this.body = undefined
    this.filled = 0
    this.onFrame(body)
  }
}
