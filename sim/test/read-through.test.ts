/**
 * Read-through edges (edge.readThrough), as the real edge works: a client
 * may ask an edge for any chunk, and the edge fetches what it lacks from a
 * parent first (the chunk and the next READ_AHEAD_CHUNKS missing ones), each
 * chunk once however many clients ask. Whole-item fills (the default) send
 * clients to the parent for the chunks the edge has not filled yet.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseScenario, type ScenarioInput } from '../scenario.ts'
import { runScenario } from '../run.ts'

const MIB = 2 ** 20
const SIZE = 64 * MIB

function burst (readThrough: boolean): ScenarioInput {
  return {
    name: 'read-through',
    durationHours: 1,
    sampleIntervalSeconds: 1,
    chunkSizeBytes: MIB,
    catalog: { items: 1, sizeBytes: SIZE, zipfAlpha: 0 },
    regions: { count: 1, parentsPerRegion: 1, edgesPerRegion: 2, clientsPerRegion: 8 },
    origin: { uplinkMbps: 8000 },
    parent: { uplinkMbps: 32, downlinkMbps: 8000 },
    edge: { uplinkMbps: 32, downlinkMbps: 8000, capacityBytes: 64 * SIZE, readThrough },
    client: { uplinkMbps: 8, downlinkMbps: 8000 },
    latency: { intraRegionMs: [0, 1], interRegionMs: [0, 1] },
    workload: { type: 'flash', item: 0, atSeconds: 0 },
    peerAssist: { enabled: false },
    // parents only for what no one else has (the real client's fallback), no cap on a source's queue
    download: { window: 8, startupChunks: 4, parentPenaltyMs: 1e7, edgePenaltyMs: 0, peerPenaltyMs: 0, maxQueueSeconds: 3600 }
  }
}

test('read-through edges fetch each chunk once from the parent and serve every client byte', () => {
  const m = runScenario(parseScenario(burst(true)), 1).metrics
  assert.is(m.requests.downloadsDone, 8)
  assert.is(m.bytes.toEdgesFromParents, 2 * SIZE, 'each edge fetched the item once')
  assert.is(m.bytes.toClientsFromParents, 0, 'the parent served no client')
  assert.is(m.bytes.toClientsFromEdges, 8 * SIZE)
  // 512 MiB through two 4 MB/s edge uplinks takes at least 128 s; waiting on the parent adds some
  const bound = 8 * SIZE / (2 * 32e6 / 8)
  assert.ok(m.downloadSeconds.max >= bound && m.downloadSeconds.max < 1.5 * bound, `last download ${m.downloadSeconds.max.toFixed(1)} s, bound ${bound.toFixed(1)} s`)
})

test('whole-item fills send clients to the parent for chunks the edge has not filled yet', () => {
  const m = runScenario(parseScenario(burst(false)), 1).metrics
  assert.is(m.requests.downloadsDone, 8)
  assert.ok(m.bytes.toClientsFromParents > 0.2 * 8 * SIZE, `parent to clients: ${(m.bytes.toClientsFromParents / MIB).toFixed(0)} MiB`)
})

test.run()
