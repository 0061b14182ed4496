/**
 * `reelnet demo` end to end (what `npm start` runs), on a small item: it
 * exits 0 with three byte-exact customers and a summary table, leaves no
 * temp folder behind, and Ctrl-C stops everything it started.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync } from 'node:fs'
import { spawnReelnet, waitFor } from './client-net.ts'

// Ctrl-C first: it is short, and the long run then has the rest of the suite's watchdog (11 min)
test('Ctrl-C stops the demo and everything it started', async () => {
  const p = spawnReelnet(['demo', '--size', '12MiB'], { name: 'demo-int' })
  const m = await waitFor(p, /main\s+(http:\/\/\S+)/, 180_000)
  const dir = /working in (\S+)/.exec(p.output())?.[1]
  p.kill('SIGINT')
  const code = await p.exited
  assert.equal(code, 130, p.output().slice(-2000))
  let refused = false
  try { await fetch(`${m[1] as string}/healthz`, { signal: AbortSignal.timeout(5_000) }) } catch { refused = true }
  assert.ok(refused, 'main is no longer running')
  assert.ok(dir !== undefined && !existsSync(dir), 'the temp folder is removed')
})

test('reelnet demo downloads through the network, verifies three customers byte for byte, and cleans up', async () => {
  const p = spawnReelnet(['demo', '--size', '12MiB', '--timeout', '540'], { name: 'demo' })
  const code = await p.exited
  const out = p.output()
  assert.equal(code, 0, out.slice(-3000))
  assert.match(out, /all three files are byte-exact/)
  const rows = out.split('\n').filter(l => /^customer \d\s/.test(l))
  assert.equal(rows.length, 3, out)
  for (const r of rows) assert.match(r, /\byes$/)
  assert.match(out, /peer offload in wave 2: \d+(\.\d+)?%/)
  const dir = /working in (\S+)/.exec(out)?.[1]
  assert.ok(dir !== undefined && !existsSync(dir), `the temp folder ${dir} is removed`)
})

test.run()
