/**
 * A direct writer of canonical dag-cbor for the plain values documents are
 * made of: strings without surrogates, safe integers, booleans, null, Uint8Arrays,
 * arrays and plain objects. It writes the bytes @ipld/dag-cbor writes (maps
 * sorted by key length, then key bytes; minimal heads) without building
 * cborg's token tree, which made encoding a directive cost as much as
 * signing it. For anything else — floats, -0, Maps, Buffers, CIDs,
 * undefined, strings with surrogates, deep or cyclic values, a getter that encodes —
 * it returns undefined and protocol/encoding.ts asks @ipld/dag-cbor, so
 * every value still has one encoding and every error stays dag-cbor's.
 * plain-cbor.test.ts checks byte equality with @ipld/dag-cbor on random values.
 *
 * Objects and arrays frozen all the way down (Object.freeze) are immutable,
 * so their encoding is kept (weakly) and copied on reuse: main freezes the
 * ranked peers it names in thousands of directives a second.
 */
import { Buffer } from 'node:buffer'

/** Nesting deeper than this is left to dag-cbor (which also detects cycles); documents nest a few levels. */
const MAX_PLAIN_DEPTH = 64
/** The scratch buffer starts this large and goes back to it after a bigger value, so one manifest does not pin megabytes. */
const SCRATCH_BYTES = 16 * 1024
/** Map keys keep their encoded form here (documents use a few dozen names); keys longer than this are encoded each time. */
const MAX_CACHED_KEY_LENGTH = 64
const MAX_CACHED_KEYS = 1024

/** Strings with any surrogate (astral characters, or lone halves that UTF-8 cannot carry) are left to dag-cbor. */
const SURROGATE = /[\uD800-\uDFFF]/
const ASCII = /^[\x00-\x7f]*$/

const frozenEncodings = new WeakMap<object, Uint8Array>()
const keyEncodings = new Map<string, Uint8Array>()

let scratch = Buffer.alloc(SCRATCH_BYTES)
let pos = 0
let busy = false

/** Thrown inside the writer to give up on a value (one instance: giving up must be cheap); never leaves this module. */
class NotPlainError extends Error { name = 'NotPlainError' }
const NOT_PLAIN = new NotPlainError('not a plain value')

function ensure (n: number): void {
  if (pos + n <= scratch.length) return
  let size = scratch.length * 2
  while (size < pos + n) size *= 2
  const grown = Buffer.alloc(size)
  scratch.copy(grown, 0, 0, pos)
  scratch = grown
}

/** A CBOR head: major type and argument in the fewest bytes (what makes an encoding canonical). */
function head (major: number, n: number): void {
  const m = major << 5
  if (n < 24) {
    ensure(1)
    scratch[pos++] = m | n
  } else if (n < 0x100) {
    ensure(2)
    scratch[pos++] = m | 24
    scratch[pos++] = n
  } else if (n < 0x10000) {
    ensure(3)
    scratch[pos++] = m | 25
    scratch[pos++] = n >>> 8
    scratch[pos++] = n & 0xff
  } else if (n < 0x100000000) {
    ensure(5)
    scratch[pos++] = m | 26
    scratch.writeUInt32BE(n, pos)
    pos += 4
  } else {
    ensure(9)
    scratch[pos++] = m | 27
    scratch.writeUInt32BE(Math.floor(n / 0x100000000), pos)
    scratch.writeUInt32BE(n % 0x100000000, pos + 4)
    pos += 8
  }
}

function writeBytes (b: Uint8Array): void {
  ensure(b.length)
  scratch.set(b, pos)
  pos += b.length
}

function writeString (s: string): void {
  if (ASCII.test(s)) {
    // Documents are almost all ASCII (ids, PeerIds, multiaddrs): one byte per character.
    const len = s.length
    head(3, len)
    ensure(len)
    pos += scratch.write(s, pos, len, 'latin1')
    return
  }
  if (SURROGATE.test(s)) throw NOT_PLAIN
  const n = Buffer.byteLength(s, 'utf8')
  head(3, n)
  ensure(n)
  pos += scratch.write(s, pos, n, 'utf8')
}

function encodedKey (k: string): Uint8Array {
  let e = keyEncodings.get(k)
  if (e !== undefined) return e
  if (SURROGATE.test(k)) throw NOT_PLAIN
  const bytes = Buffer.from(k, 'utf8')
  const start = pos
  head(3, bytes.length)
  e = new Uint8Array(pos - start + bytes.length)
  e.set(scratch.subarray(start, pos), 0)
  e.set(bytes, pos - start)
  pos = start
  if (k.length <= MAX_CACHED_KEY_LENGTH && keyEncodings.size < MAX_CACHED_KEYS) keyEncodings.set(k, e)
  return e
}

/** dag-cbor's map order: encoded keys by length, then bytewise. */
function keyOrder (a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return 0
}

/** A frozen object with a getter is not immutable: only plain data properties make a frozen value final. */
export function onlyDataProperties (v: object): boolean {
  for (const k of Object.keys(v)) {
    if (!('value' in Object.getOwnPropertyDescriptor(v, k)!)) return false
  }
  return true
}

/** Write v; true if its encoding can never change (a primitive, or frozen all the way down). */
function write (v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
      writeString(v)
      return true
    case 'number':
      if (!Number.isSafeInteger(v) || Object.is(v, -0)) throw NOT_PLAIN
      if (v >= 0) head(0, v)
      else head(1, -1 - v)
      return true
    case 'boolean':
      ensure(1)
      scratch[pos++] = v ? 0xf5 : 0xf4
      return true
    case 'object':
      break
    default:
      throw NOT_PLAIN
  }
  if (v === null) {
    ensure(1)
    scratch[pos++] = 0xf6
    return true
  }
  if (depth >= MAX_PLAIN_DEPTH) throw NOT_PLAIN
  const proto = Object.getPrototypeOf(v)
  if (proto === Uint8Array.prototype) {
    const b = v as Uint8Array
    head(2, b.length)
    writeBytes(b)
    return false
  }
  const frozen = Object.isFrozen(v)
  if (frozen) {
    const known = frozenEncodings.get(v)
    if (known !== undefined) {
      writeBytes(known)
      return true
    }
  }
  const start = pos
  let stable = frozen
  if (proto === Array.prototype) {
    const a = v as unknown[]
    const n = a.length
    head(4, n)
    for (let i = 0; i < n; i++) if (!write(a[i], depth + 1)) stable = false
  } else if (proto === Object.prototype) {
    const o = v as Record<string, unknown>
    // dag-cbor's encoder gives such objects to its CID check first.
    if ('/' in o || 'asCID' in o) throw NOT_PLAIN
    const keys = Object.keys(o)
    const n = keys.length
    const entries: Array<{ e: Uint8Array, k: string }> = new Array(n)
    for (let i = 0; i < n; i++) entries[i] = { e: encodedKey(keys[i]!), k: keys[i]! }
    entries.sort((x, y) => keyOrder(x.e, y.e))
    // Distinct strings without surrogates have distinct UTF-8 bytes, so no two entries compare equal.
    head(5, n)
    for (let i = 0; i < n; i++) {
      const entry = entries[i]!
      writeBytes(entry.e)
      if (!write(o[entry.k], depth + 1)) stable = false
    }
  } else {
    throw NOT_PLAIN
  }
  if (stable && onlyDataProperties(v)) {
    frozenEncodings.set(v, new Uint8Array(scratch.subarray(start, pos)))
    return true
  }
  return false
}

/** The canonical dag-cbor encoding of a plain value, or undefined if the value is not one (ask @ipld/dag-cbor). */
export function encodePlain (value: unknown): Uint8Array | undefined {
  if (busy) return undefined
  busy = true
  pos = 0
  try {
    write(value, 0)
    return new Uint8Array(scratch.subarray(0, pos))
  } catch {
    // NOT_PLAIN, or a getter that threw: dag-cbor encodes it again and says what is wrong.
    return undefined
  } finally {
    busy = false
    if (scratch.length > SCRATCH_BYTES * 64) scratch = Buffer.alloc(SCRATCH_BYTES)
  }
}
