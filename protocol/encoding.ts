/**
 * The canonical encoding: deterministic dag-cbor (@ipld/dag-cbor), so one
 * value has exactly one byte string. Decoding is bounded before any parsing
 * (size, then an iterative scan of the CBOR headers for depth and structure),
 * and anything that does not re-encode to the same bytes is rejected, so a
 * signature over bytes is a signature over one meaning.
 *
 * Only MalformedError and TooLargeError leave this module (plus TypeError for
 * a non-bytes argument, a programming mistake).
 */
import { Buffer } from 'node:buffer'
import * as dagCbor from '@ipld/dag-cbor'
import { MalformedError, TooLargeError } from './errors.ts'
import { encodePlain } from './plain-cbor.ts'
import { MAX_CBOR_DEPTH, MAX_ENCODED_BYTES } from './limits.ts'

export interface DecodeOptions {
  /** Reject input longer than this before parsing (default MAX_ENCODED_BYTES). */
  maxBytes?: number
  /** Reject containers nested deeper than this before parsing (default MAX_CBOR_DEPTH). */
  maxDepth?: number
}

/** Encode a value canonically (plain values by protocol/plain-cbor.ts, the same bytes faster). Values dag-cbor cannot represent (undefined, NaN, functions…) are MalformedError. */
export function encode (value: unknown, maxBytes = MAX_ENCODED_BYTES): Uint8Array {
  let bytes = encodePlain(value)
  if (bytes === undefined) {
    try {
      bytes = dagCbor.encode(value)
    } catch (err) {
      throw new MalformedError(`cannot encode as dag-cbor: ${(err as Error).message}`)
    }
  }
  if (bytes.length > maxBytes) throw new TooLargeError(`encoding is ${bytes.length} bytes, more than ${maxBytes}`)
  return bytes
}

/** Decode canonical dag-cbor: bounded, strict, and only if re-encoding gives the same bytes. */
export function decode (bytes: Uint8Array, opts: DecodeOptions = {}): unknown {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('decode expects a Uint8Array')
  const maxBytes = opts.maxBytes ?? MAX_ENCODED_BYTES
  if (bytes.length > maxBytes) throw new TooLargeError(`input is ${bytes.length} bytes, more than ${maxBytes}`)
  scanCbor(bytes, opts.maxDepth ?? MAX_CBOR_DEPTH)
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new MalformedError(`not dag-cbor: ${(err as Error).message}`)
  }
  let again: Uint8Array
  try {
    again = dagCbor.encode(value)
  } catch (err) {
    throw new MalformedError(`does not re-encode: ${(err as Error).message}`)
  }
  if (!bytesEqual(again, bytes)) throw new MalformedError('not canonical dag-cbor (re-encoding differs)')
  return value
}

/**
 * Walk the CBOR item headers without recursion and without allocating
 * anything proportional to claimed lengths: checks that exactly one
 * well-formed item fills the input, that no container nests deeper than
 * maxDepth (TooLargeError), and that no length points past the end
 * (MalformedError). Indefinite lengths are rejected (dag-cbor forbids them).
 */
export function scanCbor (bytes: Uint8Array, maxDepth = MAX_CBOR_DEPTH): void {
  const n = bytes.length
  /** Items still expected in each open container; the bottom entry is the single top-level item. */
  const pending: number[] = [1]
  let i = 0
  while (pending.length > 0) {
    const top = pending.length - 1
    if (pending[top] === 0) { pending.pop(); continue }
    pending[top]!--
    if (i >= n) throw new MalformedError('truncated CBOR')
    const ib = bytes[i]!
    const major = ib >> 5
    const ai = ib & 31
    i++
    let arg: number
    if (ai < 24) {
      arg = ai
    } else if (ai <= 27) {
      const len = 1 << (ai - 24)
      if (i + len > n) throw new MalformedError('truncated CBOR header')
      arg = 0
      for (let k = 0; k < len; k++) {
        // Past 2^53 the value can only be a length longer than any input; keep it large but finite.
        arg = arg * 256 + bytes[i + k]!
      }
      i += len
    } else {
      throw new MalformedError(ai === 31 ? 'indefinite-length CBOR is not allowed' : 'reserved CBOR additional info')
    }
    switch (major) {
      case 0: case 1: case 7:
        break
      case 2: case 3:
        if (arg > n - i) throw new MalformedError('CBOR string runs past the end')
        i += arg
        break
      case 4: case 5: case 6: {
        const children = major === 5 ? arg * 2 : major === 6 ? 1 : arg
        // Every child takes at least one byte: a count beyond the rest of the input is a lie.
        if (children > n - i) throw new MalformedError('CBOR container claims more items than bytes remain')
        if (pending.length > maxDepth) throw new TooLargeError(`CBOR nests deeper than ${maxDepth}`)
        if (children > 0) pending.push(children)
        break
      }
    }
  }
  if (i !== n) throw new MalformedError(`${n - i} trailing bytes after the CBOR item`)
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const BASE64URL = /^[A-Za-z0-9_-]*$/

/** Bytes as unpadded base64url text (RFC 4648 §5). */
export function toBase64url (bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('toBase64url expects a Uint8Array')
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

/**
 * Strict unpadded base64url: only the alphabet, no padding or whitespace, and
 * unused trailing bits zero (so each byte string has exactly one text form).
 */
export function fromBase64url (text: string, maxBytes = MAX_ENCODED_BYTES): Uint8Array {
  if (typeof text !== 'string') throw new MalformedError('base64url input is not a string')
  if (text.length > Math.ceil(maxBytes / 3) * 4) throw new TooLargeError(`base64url text decodes to more than ${maxBytes} bytes`)
  if (!BASE64URL.test(text)) throw new MalformedError('not base64url (unexpected character)')
  if (text.length % 4 === 1) throw new MalformedError('not base64url (impossible length)')
  const buf = Buffer.from(text, 'base64url')
  if (buf.toString('base64url') !== text) throw new MalformedError('not canonical base64url (non-zero trailing bits)')
  if (buf.length > maxBytes) throw new TooLargeError(`base64url text decodes to more than ${maxBytes} bytes`)
  // A copy, so the result never aliases Buffer's shared pool.
  return new Uint8Array(buf)
}
