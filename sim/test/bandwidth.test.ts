/**
 * Bandwidth conservation (Huang, Li & Ross, "Can internet video-on-demand be
 * profitable?", SIGCOMM 2007): N viewers each receiving at rate r, peers
 * uploading u each. With a surplus (u > r) peers carry nearly everything;
 * with a deficit (u < r) the server carries exactly the gap r·N − Σu.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runScenario } from '../run.ts'
import { flashCrowd } from './fixtures.ts'

const MB = 1_000_000
const MBPS = 125_000

test('surplus: peers upload more than viewers need, so peers carry over 80% of the bytes', () => {
  const s = flashCrowd({ clients: 50, itemBytes: 400 * MB, chunkBytes: MB, serverMbps: 800, peerUpMbps: 16, peerDownMbps: 8, peerAssist: true, window: 16 })
  const { metrics } = runScenario(s, 4)
  assert.is(metrics.downloadSeconds.count, 50)
  assert.ok(metrics.peerOffload > 0.8, `peer offload ${metrics.peerOffload.toFixed(3)}`)
})

test('deficit: the server carries r·N − Σu, within 5%', () => {
  const N = 50; const r = 8; const u = 4
  const s = flashCrowd({ clients: N, itemBytes: 400 * MB, chunkBytes: MB, serverMbps: 800, peerUpMbps: u, peerDownMbps: r, peerAssist: true, window: 16 })
  const { metrics, series, seriesColumns } = runScenario(s, 5)
  const T = seriesColumns.indexOf('time_s'); const P = seriesColumns.indexOf('bytes_from_parents')
  // the steady state: after the swarm has chunks to trade, before the first viewer finishes
  const from = 50; const to = metrics.downloadSeconds.p50 * 0.75
  assert.ok(to - from > 100, `steady window too short: ${from}..${to}`)
  let bytes = 0
  for (const row of series) if (row[T]! > from && row[T]! <= to) bytes += row[P]!
  const load = bytes / (to - from)
  const expected = (r * N - u * N) * MBPS
  assert.ok(Math.abs(load - expected) / expected <= 0.05, `server load ${(load / MB).toFixed(2)} MB/s, r·N − Σu = ${(expected / MB).toFixed(2)} MB/s`)
})

test.run()
