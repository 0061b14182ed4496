import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { DemandCounter, planPreposition, PREPOSITION_MAX_TOP_N, type DemandEvent } from './preposition.ts'

const ev = (region: string, itemId: string, at: number): DemandEvent => ({ region, itemId, at })

test('the most requested items of each region, most first', () => {
  const demand = [
    ev('eu', 'a', 1), ev('eu', 'b', 2), ev('eu', 'b', 3), ev('eu', 'c', 4), ev('eu', 'c', 5), ev('eu', 'c', 6),
    ev('us', 'a', 7)
  ]
  const plan = planPreposition(demand, { now: 10, windowMs: 100, topN: 2 })
  assert.equal([...plan], [['eu', ['c', 'b']], ['us', ['a']]])
})

test('only requests in (now - window, now] count', () => {
  const demand = [ev('eu', 'old', 0), ev('eu', 'old', 0), ev('eu', 'edge', 1), ev('eu', 'future', 12), ev('eu', 'future', 12), ev('eu', 'now', 11)]
  const plan = planPreposition(demand, { now: 11, windowMs: 11, topN: 5 })
  // 'old' (at 0) is just outside, 'future' not yet; 'now' and 'edge' tie on count, the more recent first.
  assert.equal(plan.get('eu'), ['now', 'edge'])
})

test('ties break by the most recent request, then by itemId', () => {
  const demand = [ev('eu', 'z', 1), ev('eu', 'y', 5), ev('eu', 'b', 3), ev('eu', 'a', 3)]
  assert.equal(planPreposition(demand, { now: 10, windowMs: 10, topN: 4 }).get('eu'), ['y', 'a', 'b', 'z'])
})

test('with regions given: exactly those, each present even without demand', () => {
  const demand = [ev('eu', 'a', 1), ev('us', 'b', 1)]
  const plan = planPreposition(demand, { now: 1, windowMs: 10, topN: 3, regions: ['eu', 'asia'] })
  assert.equal([...plan], [['asia', []], ['eu', ['a']]])
})

test('options are checked', () => {
  assert.throws(() => planPreposition([], { now: 0, windowMs: 0, topN: 1 }), RangeError)
  assert.throws(() => planPreposition([], { now: 0, windowMs: 10, topN: -1 }), RangeError)
  assert.throws(() => planPreposition([], { now: 0, windowMs: 10, topN: PREPOSITION_MAX_TOP_N + 1 }), RangeError)
  assert.throws(() => planPreposition([], { now: Number.NaN, windowMs: 10, topN: 1 }), RangeError)
  assert.throws(() => new DemandCounter({ windowMs: 10, buckets: 0 }), RangeError)
})

test('DemandCounter: counts within the window, forgets what leaves it', () => {
  const c = new DemandCounter({ windowMs: 1000, buckets: 10 }) // 100 ms buckets
  c.record('eu', 'a', 50)
  c.record('eu', 'a', 150)
  c.record('eu', 'b', 160)
  assert.is(c.count('eu', 'a'), 2)
  assert.equal(c.plan(900, 5).get('eu'), ['a', 'b'])
  // At 1050 the bucket [0, 100) has left the window.
  assert.equal(c.plan(1050, 5).get('eu'), ['b', 'a'])
  assert.is(c.count('eu', 'a'), 1)
  assert.equal(c.plan(5000, 5), new Map())
  assert.is(c.size, 0)
  // A request older than the window is ignored.
  c.record('eu', 'late', 100)
  assert.is(c.count('eu', 'late'), 0)
})

test('DemandCounter: memory is bounded by maxKeys; the rest is counted as dropped', () => {
  const c = new DemandCounter({ windowMs: 1000, maxKeys: 3 })
  for (const item of ['a', 'b', 'c', 'd', 'e']) c.record('eu', item, 1)
  c.record('eu', 'a', 2)
  assert.is(c.size, 3)
  assert.is(c.dropped, 2)
  assert.is(c.count('eu', 'a'), 2)
  // Once old pairs expire, new ones are tracked again.
  c.record('eu', 'd', 2000)
  assert.is(c.count('eu', 'd'), 1)
  assert.is(c.size, 1)
})

test('property: DemandCounter plans what planPreposition plans over the requests in its whole buckets', () => {
  const BUCKET = 100
  const BUCKETS = 8
  const evArb = fc.record({ region: fc.constantFrom('eu', 'us'), itemId: fc.constantFrom('a', 'b', 'c', 'd', 'e'), at: fc.integer({ min: 0, max: 3000 }) })
  fc.assert(fc.property(fc.array(evArb, { maxLength: 80 }), fc.integer({ min: 0, max: 3500 }), fc.nat(6), (events, now, topN) => {
    const c = new DemandCounter({ windowMs: BUCKET * BUCKETS, buckets: BUCKETS })
    let latest = -Infinity
    const kept: DemandEvent[] = []
    for (const e of events) {
      c.record(e.region, e.itemId, e.at)
      latest = Math.max(latest, e.at)
      // An event counts if its bucket is within the window of the latest time seen when it arrives...
      if (Math.floor(e.at / BUCKET) > Math.floor(latest / BUCKET) - BUCKETS) kept.push(e)
    }
    // ...and still within it at plan time.
    const end = Math.max(latest, now)
    const live = kept.filter(e => Math.floor(e.at / BUCKET) > Math.floor(end / BUCKET) - BUCKETS)
    const expected = planPreposition(live, { now: 1e9, windowMs: 2e9, topN })
    assert.equal(c.plan(now, topN), expected)
  }), { numRuns: 500 })
})

test.run()
