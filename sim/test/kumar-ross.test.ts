/**
 * One item to N peers (Kumar & Ross, "Peer-assisted file distribution: the
 * minimum distribution time", HotWeb 2006): with server upload u_s, peer
 * upload u and download d, no scheme can finish before
 *   max(F/u_s, F/d_min, N·F/(u_s + N·u)),
 * and a good one comes close in the fluid regime (many chunks per item).
 * Without peer-assist the server sends all N copies: N·F/u_s.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runScenario } from '../run.ts'
import { flashCrowd } from './fixtures.ts'

const MB = 1_000_000
const MBPS = 125_000

function boundKR (N: number, F: number, us: number, u: number, d: number): number {
  return Math.max(F / us, F / d, N * F / (us + N * u))
}

test('a swarm whose total upload is the limit finishes within 5% of the Kumar–Ross bound', () => {
  const N = 50; const F = 100 * MB
  const s = flashCrowd({ clients: N, itemBytes: F, chunkBytes: F / 400, serverMbps: 40, peerUpMbps: 8, peerDownMbps: 1000, peerAssist: true, parentPenaltyMs: 0 })
  const { metrics } = runScenario(s, 1)
  const bound = boundKR(N, F, 40 * MBPS, 8 * MBPS, 1000 * MBPS)
  assert.is(metrics.downloadSeconds.count, N, 'every peer finishes')
  const T = metrics.downloadSeconds.max
  assert.ok(T >= bound * 0.999, `T = ${T.toFixed(2)} s beats the lower bound ${bound.toFixed(2)} s: the model leaks capacity`)
  assert.ok(T <= bound * 1.05, `T = ${T.toFixed(2)} s is more than 5% above the bound ${bound.toFixed(2)} s`)
})

test('a swarm whose server is the limit finishes within 5% of F/u_s', () => {
  const N = 50; const F = 100 * MB
  const s = flashCrowd({ clients: N, itemBytes: F, chunkBytes: F / 100, serverMbps: 8, peerUpMbps: 80, peerDownMbps: 1000, peerAssist: true })
  const { metrics } = runScenario(s, 2)
  const bound = boundKR(N, F, 8 * MBPS, 80 * MBPS, 1000 * MBPS)
  assert.is(bound, F / (8 * MBPS))
  const T = metrics.downloadSeconds.max
  assert.ok(T >= bound * 0.999 && T <= bound * 1.05, `T = ${T.toFixed(2)} s, bound ${bound.toFixed(2)} s`)
})

test('without peer-assist the server sends every copy: within 1% of N·F/u_s', () => {
  const N = 40; const F = 50 * MB
  const s = flashCrowd({ clients: N, itemBytes: F, chunkBytes: F / 100, serverMbps: 40, peerUpMbps: 8, peerDownMbps: 1000, peerAssist: false })
  const { metrics } = runScenario(s, 3)
  const expected = N * F / (40 * MBPS)
  const T = metrics.downloadSeconds.max
  assert.is(metrics.bytes.toClientsFromPeers, 0)
  assert.ok(Math.abs(T - expected) / expected <= 0.01, `T = ${T.toFixed(2)} s, N·F/u_s = ${expected.toFixed(2)} s`)
})

test.run()
