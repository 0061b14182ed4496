import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { access, createEvictionPolicy, EVICTION_POLICY_NAMES, isEvictionPolicyName, type EvictionPolicy, type EvictionPolicyName } from './eviction.ts'
import { LruPolicy } from './lru.ts'

type Op =
  | { kind: 'has' | 'touch' | 'remove', key: number }
  | { kind: 'insert', key: number, size: number }
  | { kind: 'access', key: number, size: number }

/** Few keys so that hits, re-inserts and removes of held keys are common; sizes up to a bit over the largest capacity. */
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom('has' as const, 'touch' as const, 'remove' as const), key: fc.nat(24) }),
  fc.record({ kind: fc.constant('insert' as const), key: fc.nat(24), size: fc.nat(70) }),
  fc.record({ kind: fc.constant('access' as const), key: fc.nat(24), size: fc.nat(70) })
)
const capacityArb = fc.nat(64)
const opsArb = fc.array(opArb, { maxLength: 400 })

function sum (m: Map<number, number>): number {
  let s = 0
  for (const v of m.values()) s += v
  return s
}

/**
 * Runs `ops` against `policy` and a plain Map of what should be held, checking
 * after every step: has/touch/remove answers, evicted keys were held and are
 * gone, the new key is held unless refused, counts and bytes agree, bytes never
 * exceed capacity. With `minimal`, also that no more was evicted than needed.
 */
function checkAgainstModel (policy: EvictionPolicy<number>, ops: Op[], minimal: boolean): void {
  const held = new Map<number, number>()
  const cap = policy.capacityBytes
  for (const op of ops) {
    switch (op.kind) {
      case 'has':
        assert.is(policy.has(op.key), held.has(op.key))
        break
      case 'touch':
        assert.is(policy.touch(op.key), held.has(op.key))
        break
      case 'remove':
        assert.is(policy.remove(op.key), held.has(op.key))
        held.delete(op.key)
        break
      case 'insert':
      case 'access': {
        let evicted: number[]
        if (op.kind === 'access') {
          const wasHeld = held.has(op.key)
          const r = access(policy, op.key, op.size)
          assert.is(r.hit, wasHeld)
          if (r.hit) { assert.equal(r.evicted, []); break }
          evicted = r.evicted
        } else {
          held.delete(op.key) // insert of a held key replaces it
          evicted = policy.insert(op.key, op.size)
        }
        if (op.size > cap) {
          assert.equal(evicted, [op.key], 'an object larger than the capacity is refused')
          assert.not.ok(policy.has(op.key))
          break
        }
        const before = sum(held)
        assert.is(new Set(evicted).size, evicted.length, 'no key evicted twice')
        let freed = 0
        let lastSize = 0
        for (const k of evicted) {
          assert.ok(held.has(k), `evicted ${k} was held`)
          assert.is.not(k, op.key)
          assert.not.ok(policy.has(k))
          lastSize = held.get(k)!
          freed += lastSize
          held.delete(k)
        }
        assert.ok(before - freed + op.size <= cap)
        // Without its last eviction the object would not have fitted.
        if (minimal && evicted.length > 0) assert.ok(before - freed + lastSize + op.size > cap, 'evicted more than needed')
        held.set(op.key, op.size)
        assert.ok(policy.has(op.key))
        break
      }
    }
    assert.is(policy.count, held.size)
    assert.is(policy.usedBytes, sum(held))
    assert.ok(policy.usedBytes <= cap)
  }
  for (const k of held.keys()) assert.ok(policy.has(k))
}

for (const name of EVICTION_POLICY_NAMES) {
  test(`${name}: never exceeds capacity and agrees with a model of what it holds, over random operations`, () => {
    fc.assert(fc.property(capacityArb, opsArb, (cap, ops) => {
      checkAgainstModel(createEvictionPolicy<number>(name, cap), ops, name !== 's3fifo')
    }), { numRuns: 300 })
  })

  test(`${name}: an object larger than the whole capacity is refused and changes nothing`, () => {
    const p = createEvictionPolicy<string>(name, 100)
    assert.equal(p.insert('a', 60), [])
    assert.equal(p.insert('huge', 101), ['huge'])
    assert.not.ok(p.has('huge'))
    assert.ok(p.has('a'))
    assert.is(p.usedBytes, 60)
    assert.equal(p.insert('exact', 100), ['a'], 'an object of exactly the capacity fits once the rest is gone')
    assert.is(p.usedBytes, 100)
  })

  test(`${name}: sizes and capacities must be non-negative integers`, () => {
    assert.throws(() => createEvictionPolicy(name, -1), RangeError)
    assert.throws(() => createEvictionPolicy(name, 1.5), RangeError)
    const p = createEvictionPolicy<string>(name, 10)
    assert.throws(() => p.insert('a', -1), RangeError)
    assert.throws(() => p.insert('a', Number.NaN), RangeError)
    assert.throws(() => p.insert('a', 0.5), RangeError)
    assert.is(p.count, 0)
  })

  test(`${name}: reports its name and capacity`, () => {
    const p = createEvictionPolicy(name, 1234)
    assert.is(p.name, name)
    assert.is(p.capacityBytes, 1234)
    assert.is(p.usedBytes, 0)
    assert.is(p.count, 0)
  })
}

/** The obvious LRU: an array from least to most recent, scanned on every step. */
class NaiveLru {
  items: Array<{ key: number, size: number }> = []
  constructor (readonly cap: number) {}
  touch (key: number): boolean {
    const i = this.items.findIndex(x => x.key === key)
    if (i < 0) return false
    this.items.push(...this.items.splice(i, 1))
    return true
  }

  insert (key: number, size: number): number[] {
    this.remove(key)
    if (size > this.cap) return [key]
    const out: number[] = []
    while (this.items.reduce((s, x) => s + x.size, 0) + size > this.cap) out.push(this.items.shift()!.key)
    this.items.push({ key, size })
    return out
  }

  remove (key: number): boolean {
    const i = this.items.findIndex(x => x.key === key)
    if (i < 0) return false
    this.items.splice(i, 1)
    return true
  }
}

test('lru: exactly matches a naive LRU (every answer, every eviction, the order held)', () => {
  fc.assert(fc.property(capacityArb, opsArb, (cap, ops) => {
    const p = new LruPolicy<number>(cap)
    const ref = new NaiveLru(cap)
    for (const op of ops) {
      switch (op.kind) {
        case 'has': assert.is(p.has(op.key), ref.items.some(x => x.key === op.key)); break
        case 'touch': assert.is(p.touch(op.key), ref.touch(op.key)); break
        case 'remove': assert.is(p.remove(op.key), ref.remove(op.key)); break
        case 'insert': assert.equal(p.insert(op.key, op.size), ref.insert(op.key, op.size)); break
        case 'access': {
          const hit = ref.touch(op.key)
          assert.equal(access(p, op.key, op.size), { hit, evicted: hit ? [] : ref.insert(op.key, op.size) })
        }
      }
      assert.equal(p.keys(), ref.items.map(x => x.key).reverse())
    }
  }), { numRuns: 300 })
})

test('lru: evicts the least recently used first', () => {
  const p = new LruPolicy<string>(3)
  p.insert('a', 1); p.insert('b', 1); p.insert('c', 1)
  p.touch('a')
  assert.equal(p.insert('d', 1), ['b'])
  assert.equal(p.insert('e', 2), ['c', 'a'])
  assert.equal(p.keys(), ['e', 'd'])
})

test('the factory knows exactly the three names', () => {
  assert.equal([...EVICTION_POLICY_NAMES], ['lru', 'sieve', 's3fifo'])
  for (const n of EVICTION_POLICY_NAMES) assert.ok(isEvictionPolicyName(n))
  assert.not.ok(isEvictionPolicyName('fifo'))
  assert.not.ok(isEvictionPolicyName('toString'))
  assert.throws(() => createEvictionPolicy('fifo' as EvictionPolicyName, 10), RangeError)
})

test('access(): a miss admits, a hit evicts nothing', () => {
  const p = createEvictionPolicy<string>('lru', 2)
  assert.equal(access(p, 'a', 1), { hit: false, evicted: [] })
  assert.equal(access(p, 'a', 1), { hit: true, evicted: [] })
  assert.equal(access(p, 'b', 2), { hit: false, evicted: ['a'] })
  assert.equal(access(p, 'c', 3), { hit: false, evicted: ['c'] })
})

test.run()
