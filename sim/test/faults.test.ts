/**
 * Faults: parents and edges that fail and recover. A scheduled edge outage
 * shows in the series exactly when it happens, its clients fail over to the
 * parents (parent load rises during the outage and falls after it), lost
 * chunks are fetched again, and downloads still finish; a region whose
 * parents are all down has its edges fill from main's origin;
 * random failures recover; and a scenario with faults configured but none
 * happening gives the same totals as the scenario without them.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { parseScenario } from '../scenario.ts'
import { runScenario, type RunResult } from '../run.ts'

const base = JSON.parse(readFileSync(new URL('../scenarios/faults.json', import.meta.url), 'utf8')) as Record<string, any>
const HOUR = 3600

function col (r: RunResult, name: string): number[] {
  const i = r.seriesColumns.indexOf(name)
  assert.ok(i >= 0, `series has ${name}`)
  return r.series.map(row => row[i]!)
}
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
/** Sum of a per-interval column over the intervals ending in (from, to]. */
function over (r: RunResult, name: string, from: number, to: number): number {
  const t = col(r, 'time_s'); const v = col(r, name)
  return sum(v.filter((_, i) => t[i]! > from && t[i]! <= to))
}

const edgeOutage = (at: number, down: number): Record<string, any> => ({
  ...base,
  durationHours: 2,
  // main notices late (5 minutes), so clients keep being sent to the dead edge and must fail over themselves
  faults: { schedule: [{ role: 'edge', region: 0, index: 0, atHour: at, downHours: down }], detectSeconds: 300, failoverSeconds: 6 }
})

test('an edge that dies: its clients fail over to the parents, and back to the edge once it returns', () => {
  const r = runScenario(parseScenario(edgeOutage(0.5, 0.5)), 3)
  const f = r.metrics.faults!
  assert.is(f.failures, 1)
  assert.is(f.recoveries, 1)
  assert.ok(Math.abs(f.nodeDownSeconds - 0.5 * HOUR) < 1e-6, `down for half an hour: ${f.nodeDownSeconds}`)
  assert.ok(f.lostChunks > 0, `chunks in flight from the edge were lost: ${f.lostChunks}`)
  assert.ok(f.failovers > 0, `downloads dropped the dead edge: ${f.failovers}`)
  // nodes_down is 1 exactly for the samples inside the outage
  const t = col(r, 'time_s'); const down = col(r, 'nodes_down')
  t.forEach((x, i) => assert.is(down[i], x >= 0.5 * HOUR && x < 1.0 * HOUR ? 1 : 0, `nodes_down at ${x} s`))
  // parents carry the dead edge's clients: far more parent-to-client bytes during the outage than in the half hours around it
  const before = over(r, 'parent_bytes_to_clients', 0, 0.5 * HOUR)
  const during = over(r, 'parent_bytes_to_clients', 0.5 * HOUR, 1.0 * HOUR)
  const after = over(r, 'parent_bytes_to_clients', 1.0 * HOUR + 600, 1.5 * HOUR + 600)
  assert.ok(during > 5 * before && during > 5 * after, `parent bytes to clients before ${before}, during ${during}, after ${after}`)
  // every download still finishes (a few may be in flight at the end)
  const clean = runScenario(parseScenario({ ...edgeOutage(0.5, 0.5), faults: undefined }), 3)
  assert.ok(r.metrics.requests.downloadsDone >= clean.metrics.requests.downloadsDone - 5, `done ${r.metrics.requests.downloadsDone} vs ${clean.metrics.requests.downloadsDone} without the fault`)
  assert.ok(r.metrics.bytes.fromParents > clean.metrics.bytes.fromParents, 'the outage costs parent bytes')
})

test('a region with all its parents down: its edges fill from main\'s origin, and downloads go on', () => {
  const s = {
    ...base,
    durationHours: 2,
    faults: { schedule: [{ role: 'parent', region: 1, index: 0, atHour: 0.5, downHours: 0.5 }, { role: 'parent', region: 1, index: 1, atHour: 0.5, downHours: 0.5 }] }
  }
  const r = runScenario(parseScenario(s), 3)
  const clean = runScenario(parseScenario({ ...s, faults: undefined }), 3)
  assert.is(r.metrics.faults!.failures, 2)
  assert.ok(Math.abs(r.metrics.faults!.nodeDownSeconds - HOUR) < 1e-6)
  // as node/server/fill.ts does: an edge, else a parent, else the origin
  assert.is(clean.metrics.bytes.fromOrigin, 0)
  assert.ok(r.metrics.bytes.fromOrigin > 2 ** 30, `the edges filled from the origin: ${(r.metrics.bytes.fromOrigin / 2 ** 30).toFixed(1)} GiB`)
  assert.ok(r.metrics.requests.downloadsDone >= clean.metrics.requests.downloadsDone - 10, `done ${r.metrics.requests.downloadsDone} vs ${clean.metrics.requests.downloadsDone}`)
})

test('random failures recover, and the same seed gives the same faults', () => {
  const s = { ...base, durationHours: 3, faults: { rates: { edge: { mtbfHours: 1, mttrHours: 0.1 }, parent: { mtbfHours: 4, mttrHours: 0.05 } } } }
  const a = runScenario(parseScenario(s), 9)
  const b = runScenario(parseScenario(s), 9)
  const f = a.metrics.faults!
  assert.ok(f.failures >= 5, `edges fail about hourly: ${f.failures} failures`)
  assert.ok(f.recoveries >= f.failures - 6, `and recover: ${f.recoveries} of ${f.failures}`)
  assert.equal(a.metrics, b.metrics)
  assert.ok(Math.max(...col(a, 'nodes_down')) >= 1)
})

test('faults configured but none happening: the same totals as without', () => {
  const s = { ...base, durationHours: 1, faults: { schedule: [] } }
  const a = runScenario(parseScenario(s), 2)
  const b = runScenario(parseScenario({ ...s, faults: undefined }), 2)
  const { faults, ...rest } = a.metrics
  assert.equal(rest, b.metrics)
  assert.equal(faults, { failures: 0, recoveries: 0, lostChunks: 0, failovers: 0, nodeDownSeconds: 0 })
  assert.equal(a.series.map(row => row.slice(0, b.seriesColumns.length)), b.series)
})

test('a fault naming a node that does not exist is a clear scenario error', () => {
  assert.throws(() => parseScenario({ ...base, faults: { schedule: [{ role: 'edge', region: 0, index: 2, atHour: 1, downHours: 1 }] } }), /faults.schedule\[0\].index: a region has 2 edges/)
  assert.throws(() => parseScenario({ ...base, faults: { schedule: [{ role: 'parent', region: 5, index: 0, atHour: 1, downHours: 1 }] } }), /faults.schedule\[0\].region: region 5 is not one of 2/)
})

test.run()
