import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Rng, Zipf } from './random.ts'

test('xoshiro128** matches the reference implementation from state {1, 2, 3, 4}', () => {
  // Outputs of Blackman & Vigna's xoshiro128starstar.c from s = {1, 2, 3, 4} (also rand_xoshiro's test vector).
  const expected = [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804]
  const r = Rng.fromState(1, 2, 3, 4)
  assert.equal(expected.map(() => r.nextU32()), expected)
})

test('the same seed gives the same stream; different seeds, different streams', () => {
  const a = new Rng(7)
  const b = new Rng(7)
  const xs = Array.from({ length: 100 }, () => a.nextU32())
  assert.equal(Array.from({ length: 100 }, () => b.nextU32()), xs)
  const firsts = new Set<number>()
  for (const seed of [0, 1, 2, 3, 2 ** 32, 2 ** 32 + 1, -1, Number.MAX_SAFE_INTEGER]) firsts.add(new Rng(seed).nextU32())
  assert.is(firsts.size, 8)
})

test('seeds are checked', () => {
  assert.throws(() => new Rng(1.5), RangeError)
  assert.throws(() => new Rng(Number.NaN), RangeError)
  assert.throws(() => Rng.fromState(0, 0, 0, 0), RangeError)
})

test('next() is uniform on [0, 1) and nextInt(n) stays in range', () => {
  const r = new Rng(11)
  const bins = new Array<number>(10).fill(0)
  const n = 100_000
  for (let i = 0; i < n; i++) {
    const x = r.next()
    assert.ok(x >= 0 && x < 1)
    bins[Math.floor(x * 10)]!++
  }
  // Each bin expects 10 000 with sd ≈ 95: ±600 is over 6 sd.
  for (const b of bins) assert.ok(Math.abs(b - n / 10) < 600, `bin count ${b}`)
  for (let i = 0; i < 10_000; i++) {
    const k = r.nextInt(7)
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7)
  }
  assert.throws(() => r.nextInt(0), RangeError)
  assert.throws(() => r.nextInt(2.5), RangeError)
})

test('exp(rate) has mean 1/rate and is never infinite', () => {
  const r = new Rng(3)
  let sum = 0
  const n = 200_000
  for (let i = 0; i < n; i++) {
    const x = r.exp(4)
    assert.ok(Number.isFinite(x) && x >= 0)
    sum += x
  }
  // Mean 0.25, sd of the mean 0.25/sqrt(n) ≈ 0.00056.
  assert.ok(Math.abs(sum / n - 0.25) < 0.004, `mean ${sum / n}`)
  assert.throws(() => r.exp(0), RangeError)
  assert.throws(() => r.exp(-1), RangeError)
})

test('Zipf probabilities follow 1/(i+1)^alpha and sum to 1', () => {
  const z = new Zipf(1000, 0.8)
  let sum = 0
  for (let i = 0; i < 1000; i++) sum += z.probability(i)
  assert.ok(Math.abs(sum - 1) < 1e-12)
  assert.ok(Math.abs(z.probability(0) / z.probability(9) - Math.pow(10, 0.8)) < 1e-9)
  const u = new Zipf(4, 0)
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(u.probability(i) - 0.25) < 1e-15)
  assert.throws(() => z.probability(1000), RangeError)
  assert.throws(() => z.probability(-1), RangeError)
})

test('Zipf samples land on ranks with the stated probabilities', () => {
  const z = new Zipf(50, 1.2)
  const r = new Rng(5)
  const n = 200_000
  const counts = new Array<number>(50).fill(0)
  for (let i = 0; i < n; i++) {
    const k = z.sample(r)
    assert.ok(Number.isInteger(k) && k >= 0 && k < 50)
    counts[k]!++
  }
  // Chi-square with 49 degrees of freedom: the 99.99th percentile is about 95.
  let chi2 = 0
  for (let i = 0; i < 50; i++) {
    const e = n * z.probability(i)
    chi2 += (counts[i]! - e) ** 2 / e
  }
  assert.ok(chi2 < 95, `chi2 ${chi2}`)
})

test('a one-item Zipf always answers rank 0, and bad parameters are refused', () => {
  const z = new Zipf(1, 0.8)
  const r = new Rng(1)
  for (let i = 0; i < 100; i++) assert.is(z.sample(r), 0)
  assert.throws(() => new Zipf(0, 0.8), RangeError)
  assert.throws(() => new Zipf(10, -0.1), RangeError)
  assert.throws(() => new Zipf(10, Number.NaN), RangeError)
  assert.throws(() => new Zipf(1.5, 1), RangeError)
})

test.run()
