import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EventQueue } from './queue.ts'

/** A tiny deterministic generator so this test does not depend on protocol/random.ts. */
function lcg (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 }
}

test('events leave in time order, ties in push order', () => {
  const q = new EventQueue(2)
  const rnd = lcg(7)
  const pushed: Array<[number, number]> = []
  for (let i = 0; i < 20_000; i++) {
    const t = Math.floor(rnd() * 500) // many ties
    q.push(t, i % 250, i)
    pushed.push([t, i])
  }
  pushed.sort((x, y) => x[0] - y[0] || x[1] - y[1])
  const out: Array<[number, number]> = []
  while (q.pop()) {
    out.push([q.time, q.a])
    assert.is(q.kind, q.a % 250)
  }
  assert.equal(out, pushed)
  assert.is(q.size, 0)
})

test('interleaved pushes and pops keep the order (a simulation-like pattern)', () => {
  const q = new EventQueue()
  const rnd = lcg(99)
  for (let i = 0; i < 1000; i++) q.push(rnd() * 10, 1, i)
  let last = -1; let pops = 0
  while (q.pop() && pops < 200_000) {
    pops++
    assert.ok(q.time >= last, `time went back: ${q.time} < ${last}`)
    last = q.time
    if (pops < 100_000) { q.push(q.time + rnd() * 5, 2, pops); if (rnd() < 0.5) q.push(q.time, 3, pops) }
  }
  assert.is(q.size, 0)
})

test('rejects times that would corrupt the order', () => {
  const q = new EventQueue()
  assert.throws(() => q.push(NaN, 0))
  assert.throws(() => q.push(-1, 0))
  assert.throws(() => q.push(Infinity, 0))
  assert.is(q.pop(), false)
})


test('far-future buckets keep (time, seq) order, including ties across buckets and the zero-delay ring', () => {
  for (const width of [0.5, 3, 1000]) {
    const q = new EventQueue(4, width)
    const rnd = lcg(5)
    const expected: Array<[number, number]> = []
    let id = 0
    for (let i = 0; i < 3000; i++) { const t = Math.floor(rnd() * 200) / 2; q.push(t, 1, id); expected.push([t, id++]) }
    const out: Array<[number, number]> = []
    while (q.pop()) {
      out.push([q.time, q.a])
      // handlers schedule more: some at this instant, some ahead (possibly far ahead)
      if (id < 9000) {
        const r = rnd()
        const t = r < 0.3 ? q.time : q.time + Math.floor(rnd() * 40) / 2
        q.push(t, 1, id); expected.push([t, id++])
      }
    }
    // order is by time, then by push order (the id is the push order here)
    expected.sort((x, y) => x[0] - y[0] || x[1] - y[1])
    assert.equal(out, expected, `bucket width ${width}`)
  }
})

test.run()
