import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { FramePool, POOL_MAX_FREE_BYTES, POOL_MIN_BYTES } from './frame-pool.ts'

const SIZE = 1024 * 1024 + 9

test('a body handed back is handed out again for the same length, once', () => {
  const pool = new FramePool()
  const a = pool.alloc(SIZE)
  pool.recycle(a.subarray(9)) // a view into the body, as the chunk handed to onChunk is
  assert.is(pool.freeSize, SIZE)
  const b = pool.alloc(SIZE)
  assert.is(b.buffer, a.buffer, 'the same memory')
  assert.is(b.length, SIZE)
  assert.is(pool.freeSize, 0)
  const c = pool.alloc(SIZE)
  assert.is.not(c.buffer, a.buffer, 'a body in use is never handed out twice')
})

test('a body recycled twice is kept once; a foreign buffer and a small body are ignored', () => {
  const pool = new FramePool()
  const a = pool.alloc(SIZE)
  pool.recycle(a)
  pool.recycle(a)
  assert.is(pool.freeSize, SIZE)
  assert.is.not(pool.alloc(SIZE).buffer, pool.alloc(SIZE).buffer, 'two asks after one recycle: two bodies')
  pool.recycle(Buffer.allocUnsafeSlow(SIZE))
  pool.recycle(new Uint8Array(SIZE))
  const small = pool.alloc(POOL_MIN_BYTES - 1)
  pool.recycle(small)
  assert.is(pool.freeSize, 0)
})

test('other lengths get their own bodies; the free list is bounded', () => {
  const pool = new FramePool()
  const a = pool.alloc(SIZE)
  pool.recycle(a)
  assert.is.not(pool.alloc(SIZE - 1).buffer, a.buffer)
  const many = Array.from({ length: Math.ceil(POOL_MAX_FREE_BYTES / SIZE) + 4 }, () => pool.alloc(SIZE))
  for (const b of many) pool.recycle(b)
  assert.ok(pool.freeSize <= POOL_MAX_FREE_BYTES, `${pool.freeSize} bytes kept`)
  assert.ok(pool.freeSize > POOL_MAX_FREE_BYTES - 2 * SIZE)
})

test.run()
