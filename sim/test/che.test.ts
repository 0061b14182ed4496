/**
 * The simulator's edge under Zipf demand against Che's approximation of an
 * LRU cache (Che, Tung & Wang, IEEE JSAC 2002): the characteristic time T
 * solves Σ_i (1 − e^(−p_i·T)) = C and the hit ratio is Σ_i p_i (1 − e^(−p_i·T)).
 * Computed here, independently of protocol/ and of the simulator.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runScenario } from '../run.ts'
import { edgeCache } from './fixtures.ts'

function cheHitRatio (n: number, alpha: number, C: number): number {
  const p = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) { p[i] = (i + 1) ** -alpha; sum += p[i]! }
  for (let i = 0; i < n; i++) p[i]! /= sum
  const fill = (T: number): number => { let s = 0; for (let i = 0; i < n; i++) s += -Math.expm1(-p[i]! * T); return s }
  let lo = 0; let hi = 1
  while (fill(hi) < C) { lo = hi; hi *= 2 }
  for (let k = 0; k < 100; k++) { const mid = (lo + hi) / 2; if (fill(mid) < C) lo = mid; else hi = mid }
  const T = (lo + hi) / 2
  let h = 0
  for (let i = 0; i < n; i++) h += p[i]! * -Math.expm1(-p[i]! * T)
  return h
}

/** Requests before this are the cache filling up; the ratio is measured after. */
const WARMUP_SECONDS = 60

function simulatedHitRatio (cacheItems: number, seed: number): number {
  const s = edgeCache({ items: 100_000, zipfAlpha: 0.8, cacheItems, requestsPerSecond: 1000, seconds: 200 })
  const { series, seriesColumns } = runScenario(s, seed)
  const T = seriesColumns.indexOf('time_s'); const R = seriesColumns.indexOf('edge_requests'); const H = seriesColumns.indexOf('edge_hits')
  let req = 0; let hits = 0
  for (const row of series) if (row[T]! > WARMUP_SECONDS) { req += row[R]!; hits += row[H]! }
  assert.ok(req > 130_000, `enough requests measured: ${req}`)
  return hits / req
}

for (const C of [1_000, 10_000]) {
  test(`LRU edge, Zipf(0.8) over 10^5 items, cache of ${C}: hit ratio within 1% of Che's approximation`, () => {
    const expected = cheHitRatio(100_000, 0.8, C)
    const got = simulatedHitRatio(C, 7)
    console.log(`C=${C}: simulated ${got.toFixed(4)}, Che ${expected.toFixed(4)}`)
    assert.ok(Math.abs(got - expected) <= 0.01, `simulated ${got.toFixed(4)}, Che ${expected.toFixed(4)}`)
  })
}

test.run()
