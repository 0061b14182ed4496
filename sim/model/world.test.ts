/**
 * World.roleOf / regionOf (computed for clients, read from the columns for
 * the infrastructure) agree with the role and region columns for every
 * node, at region sizes whose reciprocals are not exact.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { parseScenario } from '../scenario.ts'
import { World } from './world.ts'

const small = JSON.parse(readFileSync(new URL('../scenarios/small.json', import.meta.url), 'utf8')) as Record<string, unknown>

test('roleOf and regionOf match the columns for every node', () => {
  for (const [count, perRegion] of [[7, 3], [3, 49999], [13, 1], [2, 1_000_000], [1, 10]]) {
    const s = parseScenario({ ...small, regions: { count, parentsPerRegion: 2, edgesPerRegion: 3, clientsPerRegion: perRegion } })
    const w = new World(s, 1)
    for (let n = 0; n < w.nodeCount; n++) {
      if (w.roleOf(n) !== w.role[n] || w.regionOf(n) !== w.region[n]) assert.unreachable(`node ${n} of ${count}×${perRegion}: role ${w.roleOf(n)}/${w.role[n]}, region ${w.regionOf(n)}/${w.region[n]}`)
    }
  }
})

test.run()
