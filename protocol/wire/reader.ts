/**
 * A bounds-checked cursor over a wire message body, and the matching writer
 * helpers. Every read past the end is a MalformedError, never a RangeError
 * from a DataView, so decoders built on it throw only typed errors.
 */
import { isUint8ArrayList, type Uint8ArrayList } from 'uint8arraylist'
import { MalformedError, TooLargeError } from '../errors.ts'
import { MAX_WIRE_ID_LENGTH } from './limits.ts'

/**
 * Flatten a message body to one Uint8Array after checking its size (a list
 * spanning several buffers is copied once; a single buffer is not copied).
 */
export function bodyOf (input: Uint8Array | Uint8ArrayList, maxBytes: number, what: string): Uint8Array {
  if (input instanceof Uint8Array) {
    if (input.byteLength > maxBytes) throw new TooLargeError(`${what}: ${input.byteLength} bytes exceeds ${maxBytes}`)
    return input
  }
  if (isUint8ArrayList(input)) {
    if (input.byteLength > maxBytes) throw new TooLargeError(`${what}: ${input.byteLength} bytes exceeds ${maxBytes}`)
    return input.subarray()
  }
  throw new MalformedError(`${what}: expected bytes`)
}

export class Reader {
  readonly bytes: Uint8Array
  readonly what: string
  offset = 0
  readonly #view: DataView

  constructor (bytes: Uint8Array, what: string) {
    this.bytes = bytes
    this.what = what
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  get remaining (): number { return this.bytes.length - this.offset }

  #need (n: number): void {
    if (this.remaining < n) throw new MalformedError(`${this.what}: truncated`)
  }

  u8 (): number {
    this.#need(1)
    const v = this.#view.getUint8(this.offset)
    this.offset += 1
    return v
  }

  u16 (): number {
    this.#need(2)
    const v = this.#view.getUint16(this.offset)
    this.offset += 2
    return v
  }

  u32 (): number {
    this.#need(4)
    const v = this.#view.getUint32(this.offset)
    this.offset += 4
    return v
  }

  /** A view (no copy) of the next n bytes. */
  take (n: number): Uint8Array {
    this.#need(n)
    const v = this.bytes.subarray(this.offset, this.offset + n)
    this.offset += n
    return v
  }

  /** A view of everything left. */
  rest (): Uint8Array {
    return this.take(this.remaining)
  }

  /** An itemId: u8 length (1..MAX_WIRE_ID_LENGTH), then printable ASCII. */
  id (): string {
    const len = this.u8()
    if (len === 0 || len > MAX_WIRE_ID_LENGTH) throw new MalformedError(`${this.what}: id length ${len} out of range`)
    const b = this.take(len)
    let s = ''
    for (const c of b) {
      if (c < 0x21 || c > 0x7e) throw new MalformedError(`${this.what}: id is not printable ASCII`)
      s += String.fromCharCode(c)
    }
    return s
  }

  end (): void {
    if (this.remaining !== 0) throw new MalformedError(`${this.what}: ${this.remaining} trailing bytes`)
  }
}

/** Whether `id` can travel as a wire id: 1..MAX_WIRE_ID_LENGTH printable ASCII characters, no spaces. */
export function isWireId (id: unknown): id is string {
  return typeof id === 'string' && id.length >= 1 && id.length <= MAX_WIRE_ID_LENGTH && /^[\x21-\x7e]+$/.test(id)
}

/** The wire form of an id (length byte + ASCII); RangeError for an id that cannot travel. */
export function encodeId (id: string): Uint8Array {
  if (!isWireId(id)) throw new RangeError(`id must be 1..${MAX_WIRE_ID_LENGTH} printable ASCII characters`)
  const out = new Uint8Array(1 + id.length)
  out[0] = id.length
  for (let i = 0; i < id.length; i++) out[1 + i] = id.charCodeAt(i)
  return out
}
