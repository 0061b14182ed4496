import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync } from 'node:fs'
import { parseScenario, parseScenarioText, scenarioHash, ScenarioError } from './scenario.ts'

const dir = new URL('./scenarios/', import.meta.url)
const small = (): Record<string, any> => JSON.parse(readFileSync(new URL('small.json', dir), 'utf8'))

test('every example scenario validates', () => {
  const files = readdirSync(dir).filter(f => f.endsWith('.json'))
  assert.ok(files.length >= 3)
  for (const f of files) parseScenarioText(readFileSync(new URL(f, dir), 'utf8'))
})

function errorOf (value: unknown): string {
  try { parseScenario(value); return '' } catch (err) {
    assert.instance(err, ScenarioError)
    return (err as Error).message
  }
}

test('a bad field is named in the error', () => {
  const s = small(); s.client.uplinkMbps = -1
  assert.match(errorOf(s), 'client.uplinkMbps')
  const t = small(); t.edge.eviction = 'fifo'
  assert.match(errorOf(t), 'edge.eviction')
  const u = small(); delete u.durationHours
  assert.match(errorOf(u), 'durationHours')
})

test('an unknown (misspelt) key is an error, not silently ignored', () => {
  const s = small(); s.regions.edgesPerRegon = 3
  assert.match(errorOf(s), /regions.*edgesPerRegon/)
})

test('cross-field checks: spike item in the catalog, chunk count bounded, client total bounded', () => {
  const s = small(); s.workload.spike = { item: 999, atHour: 1, requestsPerHour: 10, decayHours: 1 }
  assert.match(errorOf(s), 'not in a catalog')
  const t = small(); t.chunkSizeBytes = 1024
  assert.match(errorOf(t), 'chunks')
  const u = small(); u.regions.count = 1000; u.regions.clientsPerRegion = 10_000
  assert.match(errorOf(u), 'clients')
})

test('bad JSON is a ScenarioError, and the hash ignores key order but not values', () => {
  assert.throws(() => parseScenarioText('{"name": '), (e: Error) => e instanceof ScenarioError && /not valid JSON/.test(e.message))
  const a = small()
  const reordered = Object.fromEntries(Object.entries(a).reverse())
  assert.is(scenarioHash(parseScenario(a)), scenarioHash(parseScenario(reordered)))
  const b = small(); b.seed = 2
  assert.is.not(scenarioHash(parseScenario(a)), scenarioHash(parseScenario(b)))
})

test.run()
