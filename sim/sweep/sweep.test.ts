/**
 * Sweeps: the grid is every combination of the --vary values, validated
 * like any scenario; run in parallel child processes, each run's
 * metrics.json and series.csv are the same bytes as the same scenario run
 * alone in this process. Starts processes: run under the shared lock.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { metricsJson, seriesCsv } from '../output.ts'
import { runScenario } from '../run.ts'
import { parseScenario } from '../scenario.ts'
import { parseVary, setField, SweepError, sweepGrid } from './grid.ts'
import { estimatedEvents, longestFirst, runSweep } from './run.ts'
import { sweepCsv, sweepHtml } from './report.ts'

const small = JSON.parse(readFileSync(new URL('../scenarios/small.json', import.meta.url), 'utf8')) as Record<string, any>
/** Short enough for a test, long enough that the policies and sizes differ. */
const quick: Record<string, any> = { ...small, durationHours: 0.25 }

test('--vary values: JSON, sizes for *Bytes fields, bare words, bracketed lists', () => {
  assert.equal(parseVary('edge.eviction=lru,sieve,s3fifo').values, ['lru', 'sieve', 's3fifo'])
  assert.equal(parseVary('edge.capacityBytes=1GiB,4294967296,2GB').values, [2 ** 30, 2 ** 32, 2e9])
  assert.equal(parseVary('latency.intraRegionMs=[5,30],[10, 40]').values, [[5, 30], [10, 40]])
  assert.equal(parseVary('peerAssist.enabled=true,false').values, [true, false])
  assert.equal(parseVary('name="a,b",c').values, ['a,b', 'c'])
  assert.throws(() => parseVary('edge.eviction'), (e: Error) => e instanceof SweepError && /FIELD=A,B/.test(e.message))
  assert.throws(() => parseVary('edge..x=1'), /dotted field path/)
  assert.throws(() => parseVary('a=1,,2'), /empty value/)
  assert.throws(() => parseVary('a=1,1'), /listed twice/)
  assert.throws(() => parseVary('a=#x'), /cannot read the value/)
})

test('runs start longest first by their estimated events; equal estimates keep grid order', () => {
  const runs = sweepGrid(quick, [parseVary('durationHours=0.25,1,0.5'), parseVary('edge.eviction=lru,sieve')])
  // 0.25 h lru, 0.25 h sieve, 1 h lru, 1 h sieve, 0.5 h lru, 0.5 h sieve
  assert.equal(longestFirst(runs), [2, 3, 4, 5, 0, 1])
  assert.ok(estimatedEvents(runs[2]!.scenario) > estimatedEvents(runs[4]!.scenario))
  const same = sweepGrid(quick, [parseVary('edge.eviction=lru,sieve,s3fifo')])
  assert.equal(longestFirst(same), [0, 1, 2])
})

test('the grid: every combination, the last --vary fastest, each validated', () => {
  const runs = sweepGrid(quick, [parseVary('edge.eviction=lru,sieve'), parseVary('edge.capacityBytes=1GiB,2GiB,4GiB')])
  assert.is(runs.length, 6)
  assert.equal(runs.map(r => r.point.map(p => p[1]).join(' ')), ['lru 1GiB', 'lru 2GiB', 'lru 4GiB', 'sieve 1GiB', 'sieve 2GiB', 'sieve 4GiB'])
  assert.is(runs[4]!.scenario.edge.capacityBytes, 2 ** 31)
  assert.is(runs[4]!.scenario.edge.eviction, 'sieve')
  assert.is((quick.edge as { eviction: string }).eviction, 'lru', 'the base is not changed')
  assert.throws(() => sweepGrid(quick, [parseVary('edge.eviction=lru,fifo')]), /edge.eviction=fifo: invalid scenario: edge.eviction/)
  assert.throws(() => sweepGrid(quick, [parseVary('edge.colour=1,2')]), /unrecognized key|colour/i)
  assert.throws(() => sweepGrid(quick, [parseVary('name.x=1')]), /name is not an object/)
  assert.throws(() => sweepGrid(quick, [parseVary('seed=1,2'), parseVary('seed=3')]), /varied twice/)
  assert.equal(setField({ a: 1 }, ['b', 'c'], 2), { a: 1, b: { c: 2 } })
})

test('3 policies × 3 sizes in parallel: each run byte-identical to running it alone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reelnet-sweep-'))
  try {
    const varies = [parseVary('edge.eviction=lru,sieve,s3fifo'), parseVary('edge.capacityBytes=2GiB,6GiB,20GiB')]
    const runs = sweepGrid(quick, varies)
    const results = await runSweep(runs, { out: dir, seed: 5, jobs: 2 })
    assert.is(results.length, 9)
    const hitRatios = new Set<number>()
    for (const r of results) {
      const alone = runScenario(parseScenario(JSON.parse(readFileSync(join(r.dir, 'scenario.json'), 'utf8'))), 5)
      assert.ok(readFileSync(join(r.dir, 'metrics.json'), 'utf8') === metricsJson(alone.metrics), `${r.run.name} metrics.json`)
      assert.ok(readFileSync(join(r.dir, 'series.csv'), 'utf8') === seriesCsv(alone.seriesColumns, alone.series), `${r.run.name} series.csv`)
      hitRatios.add(r.metrics.edge.hitRatioByRequests)
    }
    assert.ok(hitRatios.size >= 5, `the grid's points differ: ${[...hitRatios].join(', ')}`)
    const csv = sweepCsv(varies, results).trimEnd().split('\n')
    assert.is(csv.length, 10)
    assert.match(csv[0]!, /^run,edge.eviction,edge.capacityBytes,seed,requests,/)
    assert.match(csv[9]!, /^run-009,s3fifo,20GiB,5,/)
    const html = sweepHtml('small', varies, results, 1, 2)
    assert.match(html, 'run-009/report.html')
    assert.not.match(html, '<script')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a run that fails stops the sweep with its name', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reelnet-sweep-'))
  try {
    const runs = sweepGrid(quick, [parseVary('catalog.items=10,20')])
    // corrupt the second run's scenario after validation: the worker must fail and say which run
    runs[1] = { ...runs[1]!, raw: { ...(runs[1]!.raw as object), durationHours: -1 } }
    await runSweep(runs, { out: dir, seed: 1, jobs: 1 }).then(() => assert.unreachable('should fail'), (err: Error) => assert.match(err.message, /run-002 failed/))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
