/**
 * The structured logger of long-running commands (`reelnet main`, `reelnet
 * node`, `reelnet get`): pino JSON lines on stderr when stderr is not a
 * terminal (for log collectors and `jq`), pino-pretty when it is. The level
 * comes from REELNET_LOG_LEVEL (default info). Ready lines and results stay
 * plain console output: scripts and tests read those.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino'
import pretty from 'pino-pretty'
import { UsageError } from './command.ts'

export const LOG_LEVELS: readonly LevelWithSilent[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']
export const LOG_LEVEL_ENV = 'REELNET_LOG_LEVEL'

/** The level named by REELNET_LOG_LEVEL, or `fallback`; an unknown name is a usage error. */
export function logLevelFromEnv (fallback: LevelWithSilent = 'info'): LevelWithSilent {
  const v = process.env[LOG_LEVEL_ENV]
  if (v === undefined || v === '') return fallback
  if (!(LOG_LEVELS as readonly string[]).includes(v)) throw new UsageError(`${LOG_LEVEL_ENV} must be one of ${LOG_LEVELS.join(', ')}, got '${v}'`)
  return v as LevelWithSilent
}

export function createLogger (name: string, opts: { level?: LevelWithSilent, base?: Record<string, unknown> } = {}): Logger {
  const level = opts.level ?? logLevelFromEnv()
  const base = { name, ...opts.base }
  if (process.stderr.isTTY === true) {
    // synchronous pretty-printing in this thread: no worker to outlive the process
    return pino({ level, base }, pretty({ destination: 2, sync: true, colorize: process.env.NO_COLOR === undefined, ignore: 'pid,hostname' }))
  }
  return pino({ level, base: { pid: process.pid, ...base } }, pino.destination({ dest: 2, sync: true }))
}
