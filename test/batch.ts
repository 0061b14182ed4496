/**
 * Runs several uvu suites in this one process (uvu's own multi-file runner,
 * as its CLI does), for the test runner's batch of unit suites: each suite
 * in its own process paid tsx's start-up and the imports again, about two
 * seconds of CPU apiece on these machines. Usage: `node --import tsx
 * test/batch.ts FILE...`; prints uvu's usual per-file lines and one summary.
 *
 * One process means the suites share its globals: a suite that changes
 * process.env or replaces a console method and does not put it back changes
 * every later suite, and every process those spawn. What the batch finds
 * changed at the end is named, and fails the batch.
 */
import { resolve } from 'node:path'
import { run } from 'uvu/run'

const files = process.argv.slice(2)
if (files.length === 0) {
  console.error('usage: node --import tsx test/batch.ts FILE...')
  process.exit(2)
}
const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug'] as const
const envBefore = { ...process.env }
const consoleBefore = CONSOLE_METHODS.map(m => console[m])
await run(files.map(f => ({ name: f, file: resolve(f) })))
const envChanged = [...new Set([...Object.keys(envBefore), ...Object.keys(process.env)])].filter(k => envBefore[k] !== process.env[k]).sort()
const consoleChanged = CONSOLE_METHODS.filter((m, i) => console[m] !== consoleBefore[i])
if (envChanged.length > 0 || consoleChanged.length > 0) {
  const what = [...envChanged.map(k => `process.env.${k}`), ...consoleChanged.map(m => `console.${m}`)]
  process.stderr.write(`[batch] a suite left these changed for the suites after it: ${what.join(', ')}\n`)
  process.exitCode = 1
}
