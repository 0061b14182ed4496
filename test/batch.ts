/**
 * Runs several uvu suites in this one process (uvu's own multi-file runner,
 * as its CLI does), for the test runner's batch of unit suites: each suite
 * in its own process paid tsx's start-up and the imports again, about two
 * seconds of CPU apiece on these machines. Usage: `node --import tsx
 * test/batch.ts FILE...`; prints uvu's usual per-file lines and one summary.
 */
import { resolve } from 'node:path'
import { run } from 'uvu/run'

const files = process.argv.slice(2)
if (files.length === 0) {
  console.error('usage: node --import tsx test/batch.ts FILE...')
  process.exit(2)
}
await run(files.map(f => ({ name: f, file: resolve(f) })))
