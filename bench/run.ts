/**
 * `npm run bench`: runs every benchmark in bench/ (or those named on the
 * command line) one after another, each in its own process so that one
 * benchmark's memory and JIT state do not colour the next.
 */
import '../test/require-node.ts'
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const dir = new URL('.', import.meta.url).pathname
const names = readdirSync(dir)
  .filter(f => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts'))
  .map(f => f.slice(0, -3))
  .sort()
const wanted = process.argv.slice(2)
const chosen = wanted.length > 0 ? names.filter(n => wanted.includes(n)) : names
if (chosen.length === 0) {
  console.error(`no benchmark matches ${wanted.join(', ')}; have: ${names.join(', ')}`)
  process.exit(2)
}
let failed = 0
for (const name of chosen) {
  console.log(`\n== bench/${name} ==`)
  // the network benches use the e2e kit, whose 7-minute watchdog suits test suites, not 1 GiB transfers
  const env = { REELNET_E2E_WATCHDOG_MS: String(30 * 60_000), ...process.env }
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, `${name}.ts`)], { stdio: 'inherit', env })
  if (r.status !== 0) failed++
}
process.exitCode = failed === 0 ? 0 : 1
