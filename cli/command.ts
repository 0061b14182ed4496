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
  /** For a command with subcommands: the help of the one argv names (`reelnet admin nodes --help`), else undefined. */
  helpFor?: (argv: string[]) => string | undefined
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

/** Milliseconds per unit a duration flag accepts (`500ms`, `30s`, `30m`, `2h`, `7d`, `1w`). */
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 24 * 3600_000, w: 7 * 24 * 3600_000 }

/** Read a duration such as `30m`, `2h`, `7d`, `1h30m` or `1.5h` into ms; a bare number is in `bareUnit`. Undefined if it is not one. */
export function parseDuration (value: string, bareUnit: keyof typeof DURATION_UNITS | 'ms' | 's' | 'm' | 'h' | 'd' = 'ms'): number | undefined {
  const v = value.trim().toLowerCase()
  if (v.length === 0 || v.length > 32) return undefined
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * DURATION_UNITS[bareUnit]!)
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y
  let total = 0
  let at = 0
  while (at < v.length) {
    re.lastIndex = at
    const m = re.exec(v)
    if (m === null) return undefined
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!
    at = re.lastIndex
  }
  return Math.round(total)
}

/** Show ms as the largest whole units (`48h`, `7d`, `1h30m`, `250ms`), for help texts and messages. */
export function formatDuration (ms: number): string {
  if (ms === 0) return '0s'
  const parts: string[] = []
  let rest = ms
  for (const [unit, size] of [['d', DURATION_UNITS.d!], ['h', DURATION_UNITS.h!], ['m', DURATION_UNITS.m!], ['s', DURATION_UNITS.s!], ['ms', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`)
      rest %= size
    }
  }
  return parts.join('')
}

/** Parse a duration flag (`30m`, `2h`, `7d`; a bare number is in `bareUnit`) within [min, max] ms, naming the flag on error. */
export function durationFlag (name: string, value: string | undefined, fallbackMs: number, minMs: number, maxMs: number, bareUnit: 'ms' | 's' | 'm' | 'h' | 'd' = 'ms'): number {
  if (value === undefined) return fallbackMs
  const ms = parseDuration(value, bareUnit)
  if (ms === undefined) throw new UsageError(`--${name} must be a duration like 30m, 2h or 7d (a bare number is ${bareUnit === 'ms' ? 'milliseconds' : `in ${bareUnit}`}), got '${value}'`)
  if (ms < minMs || ms > maxMs) throw new UsageError(`--${name} must be between ${formatDuration(minMs)} and ${formatDuration(maxMs)}, got ${formatDuration(ms)}`)
  return ms
}
