/**
 * The simulator's edges run protocol's eviction policies, not a copy: the
 * same request sequence driven through a simulated edge and through
 * createEvictionPolicy directly gives the same hits, request by request.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { access, createEvictionPolicy } from '../../protocol/policy/eviction.ts'
import { parseScenario } from '../scenario.ts'
import { runScenario } from '../run.ts'

const small = JSON.parse(readFileSync(new URL('../scenarios/small.json', import.meta.url), 'utf8')) as Record<string, unknown>

for (const eviction of ['lru', 'sieve', 's3fifo'] as const) {
  test(`${eviction}: every simulated edge's hits match the policy replayed directly`, () => {
    const s = parseScenario({
      ...small,
      durationHours: 0.5,
      catalog: { items: 300, sizeBytes: [64 << 20, 512 << 20], zipfAlpha: 0.8 },
      edge: { uplinkMbps: 2000, downlinkMbps: 10000, capacityBytes: 4 * 2 ** 30, eviction },
      workload: { type: 'poisson', requestsPerHour: 6000 },
      preposition: { enabled: false }
    })
    const log = new Map<number, Array<[number, boolean]>>()
    const r = runScenario(s, 11, {
      onEdgeRequest: (edge, item, hit) => {
        let l = log.get(edge)
        if (l === undefined) log.set(edge, l = [])
        l.push([item, hit])
      }
    })
    assert.ok(r.metrics.edge.requests > 1000, `enough edge requests: ${r.metrics.edge.requests}`)
    assert.ok(r.metrics.edge.evictions > 100, `the caches were under pressure: ${r.metrics.edge.evictions} evictions`)
    assert.is(log.size, s.regions.count * s.regions.edgesPerRegion)
    const size = r.sim.catalog.size
    let hits = 0
    for (const [edge, seq] of log) {
      const policy = createEvictionPolicy<number>(eviction, s.edge.capacityBytes)
      const direct = seq.map(([item]) => access(policy, item, size[item]!).hit)
      const simulated = seq.map(([, hit]) => hit)
      assert.equal(simulated, direct, `edge ${edge}`)
      hits += direct.filter(Boolean).length
    }
    assert.ok(hits > 0 && hits < r.metrics.edge.requests, 'some hits and some misses')
  })
}

test.run()
