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

// a small plain-CSV trace: 3000 requests over 300 objects, sizes fixed per object
const traceLines: string[] = []
for (let i = 0; i < 3000; i++) { const o = i < 300 ? i : Math.floor(300 * (((i * 2654435761) % 2 ** 32) / 2 ** 32) ** 3); traceLines.push(`${i},obj${o},${1000 + o * 10}`) }
const traceFile = join(dir, 'trace.csv')
writeFileSync(traceFile, traceLines.join('\n') + '\n')

test('reelnet sim cache: a miss-ratio table to four decimals, mrc.csv and mrc.html', async () => {
  const out = join(dir, 'mrc')
  const r = await reelnet('cache', traceFile, '--policy', 'lru,sieve', '--size', '10%,16KiB', '--out', out)
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, /3,000 requests, 300 distinct objects/)
  const rows = r.stdout.split('\n').filter(l => /^(lru|sieve)\s/.test(l))
  assert.is(rows.length, 4, r.stdout)
  for (const row of rows) assert.match(row, /\s0\.\d{4}\s+0\.\d{4}$/)
  const csv = readFileSync(join(out, 'mrc.csv'), 'utf8').trimEnd().split('\n')
  assert.is(csv.length, 5)
  assert.match(csv[0]!, /^policy,size,capacity_bytes,requests,hits,/)
  const html = readFileSync(join(out, 'mrc.html'), 'utf8')
  assert.match(html, '<svg')
  assert.not.match(html, '<script')
})

test('reelnet sim cache: bad flags and traces are one-line errors', async () => {
  await oneLineError(['cache', traceFile, '--policy', 'lfu'], /unknown policy 'lfu'/)
  await oneLineError(['cache', traceFile, '--size', '200%'], /at most 100/)
  await oneLineError(['cache', traceFile, '--size', 'big'], /is not bytes/)
  await oneLineError(['cache', join(dir, 'trace.weird')], /cannot tell the format/)
  await oneLineError(['cache', join(dir, 'absent.csv')], /cannot open .*ENOENT/)
  const bad = join(dir, 'bad.csv'); writeFileSync(bad, '1,a,10\n2,b,ten\n')
  await oneLineError(['cache', bad], /bad.csv line 2: size 'ten'/)
  const torn = join(dir, 'torn.oracleGeneral'); writeFileSync(torn, Buffer.alloc(24 * 2 + 5))
  await oneLineError(['cache', torn], /not a whole number of 24-byte/)
})

test('reelnet sim sweep: a folder per run, sweep.csv and report.html; each run as if alone', async () => {
  const out = join(dir, 'sweep')
  const r = await reelnet('sweep', quick, '--vary', 'edge.eviction=lru,s3fifo', '--vary', 'edge.capacityBytes=2GiB,8GiB', '--out', out, '--jobs', '2')
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, /4 runs in [\d.]+ s wall/)
  const csv = readFileSync(join(out, 'sweep.csv'), 'utf8').trimEnd().split('\n')
  assert.is(csv.length, 5)
  assert.match(csv[4]!, /^run-004,s3fifo,8GiB,/)
  const alone = join(dir, 'alone')
  const one = await reelnet(join(out, 'run-004', 'scenario.json'), '--out', alone)
  assert.is(one.code, 0, one.stderr)
  assert.ok(readFileSync(join(alone, 'metrics.json'), 'utf8') === readFileSync(join(out, 'run-004', 'metrics.json'), 'utf8'), 'run-004 alone writes the same metrics.json')
  await oneLineError(['sweep', quick, '--out', out], /at least one --vary/)
  await oneLineError(['sweep', quick, '--vary', 'edge.eviction=lru,fifo', '--out', out], /edge.eviction=fifo: invalid scenario/)
  await oneLineError(['sweep', quick, '--vary', 'edge.eviction=lru', '--out', out, '--jobs', '0'], /--jobs must be between 1/)
})

test('reelnet sim: a trace workload, its path relative to the scenario file', async () => {
  const scen = join(dir, 'traced.json')
  writeFileSync(scen, JSON.stringify({ ...small, durationHours: 0.5, workload: { type: 'trace', path: 'trace.csv', timeScale: 0.5 } }))
  const out = join(dir, 'traced')
  const r = await reelnet(scen, '--out', out)
  assert.is(r.code, 0, r.stderr)
  const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as { trace: { replayed: number }, requests: { total: number } }
  assert.is(m.trace.replayed, 3000)
  assert.ok(m.requests.total > 1000, `requests ${m.requests.total}`)
})

test.after(() => { chmodSync(dir, 0o755); rmSync(dir, { recursive: true, force: true }) })

test.run()
