import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Rng } from '../../protocol/random.ts'
import { createIndexStream, createStream, IndexStream } from './streams.ts'

test('IndexStream draws exactly protocol Rng\'s floor(next() * n), batch by batch, skips included', () => {
  const out = new Int32Array(8)
  for (const seed of [0, 1, 2, 12345, 2 ** 32 - 1, 2 ** 32 + 7, 2 ** 53 - 1]) {
    const ref = new Rng(seed); const fast = new IndexStream(seed)
    for (let round = 0; round < 20_000; round++) {
      const n = 1 + ((round * 7919) % 65536) // 1 … 2^16
      const count = 1 + (round % 8)
      if (round % 5 === 4) {
        fast.skip(count)
        for (let i = 0; i < count; i++) ref.next()
        continue
      }
      fast.indices(out, count, n)
      for (let i = 0; i < count; i++) {
        const want = Math.floor(ref.next() * n)
        if (out[i] !== want) assert.unreachable(`seed ${seed} round ${round} draw ${i}: ${out[i]} vs ${want}`)
      }
    }
  }
})

test('createIndexStream follows createStream for the same purpose', () => {
  const a = createStream(9, 'chunks'); const b = createIndexStream(9, 'chunks'); const out = new Int32Array(1)
  for (let i = 0; i < 1000; i++) { b.indices(out, 1, 1000); assert.is(out[0], Math.floor(a.next() * 1000)) }
})

test.run()
