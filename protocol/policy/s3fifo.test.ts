import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { S3FifoPolicy, S3FIFO_MAX_FREQ, S3FIFO_MOVE_TO_MAIN_FREQ } from './s3fifo.ts'
import { LruPolicy } from './lru.ts'

test('s3fifo: S gets 10% of the bytes, M the rest', () => {
  const p = new S3FifoPolicy(1000)
  assert.is(p.smallTargetBytes, 100)
  assert.is(p.mainTargetBytes, 900)
  assert.is(S3FIFO_MAX_FREQ, 3)
  assert.is(S3FIFO_MOVE_TO_MAIN_FREQ, 2)
})

test('s3fifo: a scan of one-hit objects does not flush objects that were reused (LRU loses them all)', () => {
  const s3 = new S3FifoPolicy<number>(100)
  const lru = new LruPolicy<number>(100)
  for (const p of [s3, lru]) {
    for (let k = 0; k < 50; k++) p.insert(k, 1)
    for (let r = 0; r < 2; r++) for (let k = 0; k < 50; k++) assert.ok(p.touch(k))
    for (let k = 1000; k < 3000; k++) if (!p.touch(k)) p.insert(k, 1)
  }
  for (let k = 0; k < 50; k++) assert.ok(s3.has(k), `hot ${k} kept by s3fifo`)
  for (let k = 0; k < 50; k++) assert.not.ok(lru.has(k))
  assert.is(s3.mainBytes, 50)
  assert.ok(s3.smallBytes <= 50)
})

test('s3fifo: leaving S needs two hits (SOSP\'23 Algorithm 1: freq > 1); one hit is not enough', () => {
  const p = new S3FifoPolicy<string>(10) // S target 1 byte, M 9
  p.insert('once', 1)
  p.insert('twice', 1)
  p.touch('once')
  p.touch('twice')
  p.touch('twice')
  for (let i = 0; i < 8; i++) p.insert(`fill${i}`, 1) // now full: 10 objects in S
  const evicted = p.insert('new', 1)
  // Eviction takes S's oldest, 'once': one hit is not enough, so it goes (its key to the ghost).
  assert.equal(evicted, ['once'])
  assert.is(p.mainBytes, 0)
  assert.equal(p.insert('new2', 1), ['fill0'], "'twice' moves to M and the next unhit object goes")
  assert.ok(p.has('twice'))
  assert.is(p.mainBytes, 1)
})

test('s3fifo: a key evicted from S and asked for again soon enters M directly (the ghost)', () => {
  const p = new S3FifoPolicy<string>(10)
  for (let i = 0; i < 10; i++) p.insert(`k${i}`, 1)
  assert.equal(p.insert('x', 1), ['k0'])
  assert.is(p.ghostCount, 1)
  assert.is(p.mainBytes, 0)
  p.insert('k0', 1)
  assert.is(p.mainBytes, 1, 'k0 came back through the ghost into M')
  assert.is(p.ghostCount, 1, 'k0 left the ghost; k1 was evicted to it')
})

test('s3fifo: from M, a hit object is reinserted and the oldest unhit one evicted; S is used first once over its share', () => {
  const p = new S3FifoPolicy<string>(20) // S target 2 bytes, M 18
  for (let i = 0; i < 18; i++) p.insert(`a${i}`, 1)
  for (let r = 0; r < 2; r++) for (let i = 0; i < 18; i++) p.touch(`a${i}`)
  p.insert('b0', 1)
  p.insert('b1', 1)
  // Full: S's oldest objects (a0..a17, two hits each) move to M, then b0 goes.
  assert.equal(p.insert('b2', 1), ['b0'])
  assert.is(p.mainBytes, 18)
  p.touch('a0')
  p.remove('b1')
  p.remove('b2')
  // S is empty, so eviction takes from M: a0 (hit) is reinserted, a1 goes.
  assert.equal(p.insert('y', 3), ['a1'])
  assert.ok(p.has('a0'))
  // S now holds 3 bytes, over its 2-byte share: eviction takes from S.
  assert.equal(p.insert('z', 1), ['y'])
  // a0's counter was spent on its reinsertion: once the others are hit, it is the one to go,
  // after every hit object ahead of it in M was passed over once.
  p.remove('z')
  for (let i = 2; i < 18; i++) p.touch(`a${i}`)
  assert.equal(p.insert('w', 4), ['a0'])
  for (let i = 2; i < 18; i++) assert.ok(p.has(`a${i}`))
})

test.run()
