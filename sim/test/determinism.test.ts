/**
 * Same scenario and seed: byte-identical metrics.json (and series.csv).
 * Another seed: different numbers.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseScenario } from '../scenario.ts'
import { runScenario } from '../run.ts'
import { writeOutputs } from '../output.ts'

const small = JSON.parse(readFileSync(new URL('../scenarios/small.json', import.meta.url), 'utf8')) as Record<string, unknown>
const scenario = parseScenario({ ...small, durationHours: 0.4, preposition: { enabled: true, intervalMinutes: 5, maxItemsPerEdge: 3 } })

function runTo (dir: string, seed: number): { metrics: string, series: string } {
  const r = runScenario(scenario, seed)
  writeOutputs(dir, scenario, seed, r, 1)
  return { metrics: readFileSync(join(dir, 'metrics.json'), 'utf8'), series: readFileSync(join(dir, 'series.csv'), 'utf8') }
}

test('the same scenario and seed give byte-identical metrics.json; another seed differs', () => {
  const root = mkdtempSync(join(tmpdir(), 'reelnet-sim-det-'))
  try {
    const a = runTo(join(root, 'a'), 42)
    const b = runTo(join(root, 'b'), 42)
    const c = runTo(join(root, 'c'), 43)
    const m = JSON.parse(a.metrics) as { requests: { total: number }, edge: { hits: number }, bytes: { toClientsFromPeers: number }, events: number }
    // the run exercised the model: requests, edge hits, peer bytes
    assert.ok(m.requests.total > 100 && m.edge.hits > 0 && m.bytes.toClientsFromPeers > 0, a.metrics.slice(0, 400))
    assert.ok(a.metrics === b.metrics, 'metrics.json differs between two runs with one seed')
    assert.ok(a.series === b.series, 'series.csv differs between two runs with one seed')
    assert.ok(a.metrics !== c.metrics, 'another seed gave the same metrics.json')
    assert.is.not((JSON.parse(c.metrics) as { events: number }).events, m.events)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test.run()
