/**
 * Trace-driven workloads: a scenario's requests replayed from a trace file,
 * streamed. Each request reaches the simulated edge of the region and
 * client the trace names, for the item its object maps to (objects number
 * by first appearance), at its time times timeScale; bad traces are clear
 * errors.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseScenario } from '../scenario.ts'
import { runScenario } from '../run.ts'
import { traceOf, withAbsoluteTrace } from './workload.ts'

const dir = mkdtempSync(join(tmpdir(), 'reelnet-trace-wl-'))
const small = JSON.parse(readFileSync(new URL('../scenarios/small.json', import.meta.url), 'utf8')) as Record<string, any>
/** 4 regions × 500 clients, 2 edges each, 200 items; no churn so every named client is online. */
const base: Record<string, any> = { ...small, durationHours: 1, churn: undefined, preposition: { enabled: false } }
const ITEMS = base.catalog.items as number

// 600 requests over an hour of trace time (milliseconds), each from its own client; objects named by strings,
// 250 distinct ones, so the last 50 fall outside the 200-item catalog
const lines: string[] = ['time,item,size,region,client']
const want: Array<{ region: number, client: number, object: number }> = []
for (let i = 0; i < 600; i++) {
  const object = (i * 7) % 250
  const region = i % 4; const client = Math.floor(i / 4)
  lines.push(`${i * 6000},film-${object},1000,${region},${client}`)
  want.push({ region, client, object })
}
writeFileSync(join(dir, 'trace.csv'), lines.join('\n') + '\n')
// dense item numbers in order of first appearance
const firstSeen = new Map<number, number>()
for (const r of want) if (!firstSeen.has(r.object)) firstSeen.set(r.object, firstSeen.size)

function run (workload: Record<string, unknown>, extra: Record<string, unknown> = {}): { r: ReturnType<typeof runScenario>, edges: Array<[number, number]> } {
  const s = parseScenario({ ...base, ...extra, workload: { type: 'trace', path: 'trace.csv', ...workload } })
  const trace = traceOf(s, dir)!
  const edges: Array<[number, number]> = []
  try {
    const r = runScenario(s, 1, { requests: trace, onEdgeRequest: (edge, item) => edges.push([edge, item]) })
    return { r, edges }
  } finally {
    trace.close()
  }
}

test('each trace request reaches its client\'s home edge, for its object\'s item, in order', () => {
  const { r, edges } = run({ timeScale: 0.001 })
  const inCatalog = want.filter(x => firstSeen.get(x.object)! < ITEMS)
  assert.equal(r.metrics.trace, { replayed: 600, skippedOutsideCatalog: 600 - inCatalog.length })
  assert.is(r.metrics.requests.total, inCatalog.length)
  const w = r.sim.world
  const expected = inCatalog.map(x => [w.edge(x.region, (w.client(x.region, x.client) - w.firstClient) % w.edgesPerRegion), firstSeen.get(x.object)!] as [number, number])
  assert.equal(edges, expected)
})

test('overflow: wrap folds objects beyond the catalog onto it', () => {
  const { r, edges } = run({ timeScale: 0.001, overflow: 'wrap' })
  assert.is(r.metrics.trace!.skippedOutsideCatalog, 0)
  assert.is(r.metrics.requests.total, 600)
  assert.ok(edges.every(([, item]) => item < ITEMS))
})

test('timeScale: the same trace replayed twice as fast ends in half the time', () => {
  const { r } = run({ timeScale: 0.0005 })
  const t = r.seriesColumns.indexOf('time_s'); const q = r.seriesColumns.indexOf('requests')
  const last = Math.max(...r.series.filter(row => row[q]! > 0).map(row => row[t]!))
  assert.ok(last <= 1800 + 60 && last > 1700, `the last request's interval ends at ${last} s`)
})

test('bad traces: out of order, a region or client the scenario lacks', () => {
  writeFileSync(join(dir, 'back.csv'), '0,a,1\n10,b,1\n5,c,1\n')
  assert.throws(() => run({ path: 'back.csv' }), /request 3 is earlier than the one before it/)
  writeFileSync(join(dir, 'region.csv'), '0,a,1,9\n')
  assert.throws(() => run({ path: 'region.csv' }), /names region 9; the scenario has 4/)
  writeFileSync(join(dir, 'client.csv'), '0,a,1,0,500\n')
  assert.throws(() => run({ path: 'client.csv' }), /names client 500; a region has 500/)
  assert.throws(() => traceOf(parseScenario({ ...base, workload: { type: 'trace', path: 'trace.dat' } }), dir), /cannot tell the trace format/)
})

test('a sweep copy keeps a relative trace path working', () => {
  const raw = { ...base, workload: { type: 'trace', path: 'trace.csv' } }
  assert.equal((withAbsoluteTrace(raw, dir) as { workload: { path: string } }).workload.path, join(dir, 'trace.csv'))
  assert.is(raw.workload.path, 'trace.csv', 'the original is not changed')
})

test.after(() => { rmSync(dir, { recursive: true, force: true }) })

test.run()
