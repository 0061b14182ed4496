import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { REELNET_BIN } from '../../test/bin.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const NODE = join(ROOT, 'node_modules/.bin/node')
/** Generous: a cold tsx start on a busy 2-core machine can take several seconds. */
const RUN_TIMEOUT_MS = 60_000

const dir = mkdtempSync(join(tmpdir(), 'reelnet-sim-cli-'))

function reelnet (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [REELNET_BIN, 'sim', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: RUN_TIMEOUT_MS })
    let stdout = ''; let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
  })
}

const small = JSON.parse(readFileSync(join(ROOT, 'sim/scenarios/small.json'), 'utf8')) as Record<string, any>
const quick = join(dir, 'quick.json')
writeFileSync(quick, JSON.stringify({ ...small, durationHours: 0.05 }))

test('reelnet sim writes the four outputs, and --seed is recorded', async () => {
  const out = join(dir, 'out')
  const r = await reelnet(quick, '--out', out, '--seed', '9')
  assert.is(r.code, 0, r.stderr)
  for (const f of ['metrics.json', 'series.csv', 'manifest.json', 'report.html']) assert.ok(existsSync(join(out, f)), f)
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { seed: number, scenarioHash: string }
  assert.is(manifest.seed, 9)
  assert.match(manifest.scenarioHash, /^[0-9a-f]{64}$/)
  const html = readFileSync(join(out, 'report.html'), 'utf8')
  assert.match(html, '<svg')
  assert.not.match(html, '<script')
  assert.is(r.stderr, '', 'no progress bar when stderr is not a terminal')
})

test('--help prints the usage', async () => {
  const r = await reelnet('--help')
  assert.is(r.code, 0)
  assert.match(r.stdout, 'usage: reelnet sim SCENARIO.json --out DIR')
})

async function oneLineError (args: string[], pattern: RegExp): Promise<void> {
  const r = await reelnet(...args)
  assert.is.not(r.code, 0)
  const lines = r.stderr.trim().split('\n')
  assert.is(lines.length, 1, r.stderr)
  assert.match(lines[0]!, pattern)
}

test('errors are one line: bad JSON, schema error, unwritable folder, missing flags', async () => {
  const bad = join(dir, 'bad.json'); writeFileSync(bad, '{ "name": ')
  await oneLineError([bad, '--out', join(dir, 'x')], /not valid JSON/)
  const wrong = join(dir, 'wrong.json'); writeFileSync(wrong, JSON.stringify({ ...small, client: { uplinkMbps: 'fast', downlinkMbps: 1 } }))
  await oneLineError([wrong, '--out', join(dir, 'x')], /client\.uplinkMbps/)
  const locked = join(dir, 'locked'); writeFileSync(locked, 'a file, not a folder')
  await oneLineError([quick, '--out', join(locked, 'sub')], /cannot write to/)
  await oneLineError([quick], /--out DIR is required/)
  await oneLineError([join(dir, 'missing.json'), '--out', join(dir, 'x')], /cannot read/)
})

test.after(() => { chmodSync(dir, 0o755); rmSync(dir, { recursive: true, force: true }) })

test.run()
