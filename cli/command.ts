/**
 * The shape every `reelnet` command has, and the one way flags are parsed:
 * strict, so an unknown or malformed flag is one clear line and exit 2.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'

export interface Command {
  name: string
  /** One line for `reelnet --help`. */
  summary: string
  /** The full `reelnet NAME --help` text. */
  usage: string
  run (argv: string[]): Promise<number | void>
}

/** A user mistake: printed as one line, exit code 2 (usage) unless said otherwise. */
export class UsageError extends Error {
  name = 'UsageError'
  exitCode: number
  constructor (message: string, exitCode = 2) {
    super(message)
    this.exitCode = exitCode
  }
}

/** A failure the user can act on (main unreachable, not logged in, ...): one line, exit 1. */
export class CommandError extends Error {
  name = 'CommandError'
  exitCode = 1
}

export type Options = NonNullable<ParseArgsConfig['options']>

export function parseFlags<O extends Options> (argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals })
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify.*$/s, ''))
  }
}

/** Parse a whole number flag within bounds, with a clear message naming the flag. */
export function intFlag (name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got '${value}'`)
  const n = Number(value)
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`)
  return n
}

/** Parse a byte size such as 1048576, 512MiB, 4GiB, 10MB. */
export function bytesFlag (name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const m = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?$/i.exec(value.trim())
  if (m === null) throw new UsageError(`--${name} must be a size like 1048576, 512MiB or 4GiB, got '${value}'`)
  const unit = (m[2] ?? 'b').toLowerCase()
  const mult: Record<string, number> = {
    b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
    g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1000 ** 4, tib: 1024 ** 4
  }
  const n = Math.floor(Number(m[1]) * (mult[unit] ?? 1))
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} is out of range: '${value}'`)
  return n
}
