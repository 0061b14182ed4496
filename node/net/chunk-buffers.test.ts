import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { CHUNK_HEADROOM_BYTES, ChunkBufferPool } from './chunk-buffers.ts'

test('a chunk handed back is used again; twice, or a foreign buffer, changes nothing', () => {
  const pool = new ChunkBufferPool(1 << 20)
  const a = pool.chunkView(pool.take(1000), 1000)
  assert.ok(pool.owns(a))
  pool.recycle(a)
  assert.not.ok(pool.owns(a))
  pool.recycle(a)
  assert.is(pool.stats.free, 1)
  const b = pool.chunkView(pool.take(900), 900)
  assert.is(b.buffer, a.buffer)
  assert.is(pool.stats.free, 0)
  // a buffer the pool never gave out, or a view into one at another offset, is never taken in
  const foreign = Buffer.alloc(1000)
  pool.recycle(foreign)
  pool.recycle(b.subarray(1))
  assert.is(pool.stats.free, 0)
  assert.ok(pool.owns(b))
})

test('withHeader writes the header into the headroom only of a buffer the pool owns', () => {
  const pool = new ChunkBufferPool(1 << 20)
  const chunk = pool.chunkView(pool.take(8), 8)
  chunk.set([1, 2, 3, 4, 5, 6, 7, 8])
  const whole = pool.withHeader(chunk, Uint8Array.from([9, 9, 9]))!
  assert.equal([...whole], [9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8])
  assert.is(whole.buffer, chunk.buffer)
  assert.is(pool.withHeader(chunk, new Uint8Array(CHUNK_HEADROOM_BYTES + 1)), null)
  assert.is(pool.withHeader(Buffer.alloc(8), Uint8Array.from([1])), null)
  pool.recycle(chunk)
  // once back, the pool no longer lets anyone frame it
  assert.is(pool.withHeader(chunk, Uint8Array.from([1])), null)
})

test('free buffers are kept only up to the pool bound; a too-small free buffer is not handed out', () => {
  const pool = new ChunkBufferPool(3000)
  const views = [pool.take(1000), pool.take(1000), pool.take(1000)].map(b => pool.chunkView(b, 1000))
  for (const v of views) pool.recycle(v)
  assert.is(pool.stats.free, 2)
  assert.ok(pool.stats.freeBytes <= 3000)
  const big = pool.take(5000)
  assert.ok(big.byteLength >= 5000 + CHUNK_HEADROOM_BYTES)
  assert.is(pool.stats.free, 2)
})

test.run()
