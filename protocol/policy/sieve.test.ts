import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { SievePolicy } from './sieve.ts'

interface Item { key: number, size: number, visited: boolean }

/** SIEVE as the NSDI'24 paper's Figure/Algorithm states it, on an array from oldest to newest, O(n) per step. */
class NaiveSieve {
  items: Item[] = []
  hand: Item | null = null
  constructor (readonly cap: number) {}
  find (key: number): number { return this.items.findIndex(x => x.key === key) }
  touch (key: number): boolean {
    const i = this.find(key)
    if (i < 0) return false
    this.items[i]!.visited = true
    return true
  }

  insert (key: number, size: number): number[] {
    this.remove(key)
    if (size > this.cap) return [key]
    const out: number[] = []
    while (this.items.reduce((s, x) => s + x.size, 0) + size > this.cap) {
      let i = this.hand === null ? 0 : this.items.indexOf(this.hand)
      while (this.items[i]!.visited) {
        this.items[i]!.visited = false
        i = (i + 1) % this.items.length
      }
      this.hand = this.items[i + 1] ?? null
      out.push(this.items.splice(i, 1)[0]!.key)
    }
    this.items.push({ key, size, visited: false })
    return out
  }

  remove (key: number): boolean {
    const i = this.find(key)
    if (i < 0) return false
    if (this.hand === this.items[i]) this.hand = this.items[i + 1] ?? null
    this.items.splice(i, 1)
    return true
  }
}

test('sieve: exactly matches a naive array SIEVE on random operations', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constantFrom('touch' as const, 'remove' as const), key: fc.nat(20) }),
    fc.record({ kind: fc.constant('insert' as const), key: fc.nat(20), size: fc.integer({ min: 1, max: 12 }) })
  )
  fc.assert(fc.property(fc.integer({ min: 0, max: 40 }), fc.array(op, { maxLength: 400 }), (cap, ops) => {
    const p = new SievePolicy<number>(cap)
    const ref = new NaiveSieve(cap)
    for (const o of ops) {
      if (o.kind === 'touch') assert.is(p.touch(o.key), ref.touch(o.key))
      else if (o.kind === 'remove') assert.is(p.remove(o.key), ref.remove(o.key))
      else if (o.kind === 'insert') assert.equal(p.insert(o.key, o.size), ref.insert(o.key, o.size))
    }
  }), { numRuns: 300 })
})

test('sieve: visited objects survive the hand, and keep their place in the queue', () => {
  const p = new SievePolicy<string>(4)
  for (const k of ['a', 'b', 'c', 'd']) p.insert(k, 1)
  p.touch('a')
  p.touch('c')
  // The hand starts at the oldest: a is visited (cleared, skipped), b is not.
  assert.equal(p.insert('e', 1), ['b'])
  // The hand stays at c: visited (cleared), then d goes.
  assert.equal(p.insert('f', 1), ['d'])
  // The hand now sits behind the newest objects: unvisited newcomers go first
  // (quick demotion), while a and c, already passed, stay until it wraps.
  assert.equal(p.insert('g', 1), ['e'])
  assert.equal(p.insert('h', 1), ['f'])
  assert.ok(p.has('a') && p.has('c'))
  // Once the hand passes the head it wraps to the tail, where a's bit is clear.
  p.touch('g')
  p.touch('h')
  p.touch('c')
  assert.equal(p.insert('i', 1), ['a'])
})

test.run()
