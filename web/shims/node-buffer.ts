/**
 * node:buffer for the browser bundle (esbuild aliases it here): the `buffer`
 * package, taught the 'base64url' encoding that protocol/encoding.ts uses
 * for envelopes and keys (the package knows only 'base64').
 */
import { Buffer } from 'buffer'

const from = Buffer.from.bind(Buffer) as (...a: unknown[]) => Buffer
const toStr = Buffer.prototype.toString as (this: Buffer, enc?: string, start?: number, end?: number) => string

;(Buffer as unknown as { from: unknown }).from = (value: unknown, enc?: unknown, length?: unknown): Buffer => {
  if (typeof value === 'string' && enc === 'base64url') return from(value.replaceAll('-', '+').replaceAll('_', '/'), 'base64')
  return from(value, enc, length)
}
Buffer.prototype.toString = function toString (this: Buffer, enc?: string, start?: number, end?: number): string {
  if (enc === 'base64url') return toStr.call(this, 'base64', start, end).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
  return toStr.call(this, enc, start, end)
}

export { Buffer }
export default { Buffer }
