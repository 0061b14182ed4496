/**
 * The key validation of the eviction policies: under a Zipf(0.8) request
 * stream over 10^5 unit-size objects and a cache of 10^3, LRU's measured hit
 * ratio must agree with Che's approximation to within 0.01 (absolute), and
 * SIEVE and S3-FIFO must do at least as well as LRU (both papers' claim for
 * skewed workloads). All three see the same seeded request stream.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Rng, Zipf } from '../random.ts'
import { cheLruHitRatio } from './che.ts'
import { createEvictionPolicy, EVICTION_POLICY_NAMES, type EvictionPolicyName } from './eviction.ts'

const OBJECTS = 100_000
const ALPHA = 0.8
const CAPACITY = 1_000
const WARMUP = 200_000
const MEASURED = 2_000_000
const SEED = 20240417

const zipf = new Zipf(OBJECTS, ALPHA)
const requests = new Int32Array(WARMUP + MEASURED)
const rng = new Rng(SEED)
for (let i = 0; i < requests.length; i++) requests[i] = zipf.sample(rng)

function measuredHitRatio (name: EvictionPolicyName): number {
  const p = createEvictionPolicy<number>(name, CAPACITY)
  let hits = 0
  for (let i = 0; i < requests.length; i++) {
    const k = requests[i]!
    if (p.touch(k)) { if (i >= WARMUP) hits++ } else p.insert(k, 1)
    if (p.count > CAPACITY) throw new Error(`${name} holds ${p.count} objects`)
  }
  return hits / MEASURED
}

const probabilities = Float64Array.from({ length: OBJECTS }, (_, i) => zipf.probability(i))
const che = cheLruHitRatio(probabilities, CAPACITY)
const ratios = new Map<EvictionPolicyName, number>()
for (const name of EVICTION_POLICY_NAMES) ratios.set(name, measuredHitRatio(name))
console.log(`Zipf(${ALPHA}) over ${OBJECTS} objects, cache ${CAPACITY}: Che ${che.hitRatio.toFixed(4)}, ` +
  [...ratios].map(([n, r]) => `${n} ${r.toFixed(4)}`).join(', '))

test('Che\'s approximation is solved: the characteristic time fills the cache exactly', () => {
  let occupancy = 0
  for (const p of probabilities) occupancy += 1 - Math.exp(-p * che.characteristicTime)
  assert.ok(Math.abs(occupancy - CAPACITY) < 1e-6, `occupancy ${occupancy}`)
  assert.ok(che.hitRatio > 0.1 && che.hitRatio < 0.4, `Che hit ratio ${che.hitRatio}`)
})

test('LRU\'s hit ratio is within 0.01 of Che\'s approximation', () => {
  const lru = ratios.get('lru')!
  assert.ok(Math.abs(lru - che.hitRatio) <= 0.01, `LRU ${lru} vs Che ${che.hitRatio}`)
})

test('SIEVE and S3-FIFO hit at least as often as LRU', () => {
  const lru = ratios.get('lru')!
  assert.ok(ratios.get('sieve')! >= lru, `SIEVE ${ratios.get('sieve')} < LRU ${lru}`)
  assert.ok(ratios.get('s3fifo')! >= lru, `S3-FIFO ${ratios.get('s3fifo')} < LRU ${lru}`)
})

test('Che\'s approximation: a cache as large as the catalog always hits; a tiny one, about its share', () => {
  assert.equal(cheLruHitRatio([0.5, 0.5], 2), { characteristicTime: Infinity, hitRatio: 1 })
  // Uniform popularity: the hit ratio is the cached fraction, C/n.
  const uniform = new Float64Array(1000).fill(1 / 1000)
  assert.ok(Math.abs(cheLruHitRatio(uniform, 100).hitRatio - 0.1) < 1e-9)
  assert.throws(() => cheLruHitRatio(uniform, 0), RangeError)
})

test.run()
