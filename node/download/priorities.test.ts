import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ChunkQueue } from './priorities.ts'

const none = (): boolean => false
const any = (): boolean => true

test('a download wants every chunk and hands them out in order, in contiguous batches', () => {
  const q = new ChunkQueue(10, true)
  const taken = new Set<number>()
  const pick = (max: number): number[] => { const out = q.pick(max, i => taken.has(i), any); out.forEach(i => taken.add(i)); return out }
  assert.equal(pick(4), [0, 1, 2, 3])
  assert.equal(pick(4), [4, 5, 6, 7])
  assert.equal(pick(4), [8, 9])
  assert.equal(pick(4), [])
})

test('on demand: nothing is handed out until wanted; urgent, then normal, then background', () => {
  const q = new ChunkQueue(100, false)
  assert.equal(q.pick(4, none, any), [])
  for (let i = 0; i < 4; i++) q.want(i, 'background')
  q.want(50, 'normal')
  q.want(51, 'normal')
  q.want(90, 'urgent')
  q.want(80, 'urgent')
  const taken = new Set<number>()
  const pick = (max: number): number[] => { const out = q.pick(max, i => taken.has(i), any); out.forEach(i => taken.add(i)); return out }
  assert.equal(pick(1), [90], 'urgent ones first, in the order they were asked')
  assert.equal(pick(1), [80])
  assert.equal(pick(4), [50, 51], 'then normal; a batch never reaches down to background')
  assert.equal(pick(4), [0, 1, 2, 3])
})

test('a priority only rises: wanting a chunk again at a lower one leaves it where it was', () => {
  const q = new ChunkQueue(10, false)
  assert.is(q.want(3, 'urgent'), true)
  assert.is(q.want(3, 'background'), false)
  q.want(1, 'normal')
  assert.equal(q.pick(1, none, any), [3])
})

test('a seek moves its range to the front and the download goes on from there', () => {
  const q = new ChunkQueue(20, true)
  const done = (i: number): boolean => i === 16
  q.prioritize(15, 16, done)
  assert.equal(q.pick(4, done, any), [15], 'only what is not done yet')
  const taken = new Set([15, 16])
  assert.equal(q.pick(3, i => taken.has(i), any), [17, 18, 19], 'sequentially from the seek')
  taken.add(17).add(18).add(19)
  assert.equal(q.pick(3, i => taken.has(i), any), [0, 1, 2], 'then around from the start')
})

test('a chunk a source may not be asked for is left for another', () => {
  const q = new ChunkQueue(6, true)
  assert.equal(q.pick(4, none, i => i % 2 === 1), [1], 'contiguous: stops at the first gap')
  q.want(4, 'urgent')
  assert.equal(q.hasFreshUrgent(none, i => i !== 4), false)
  assert.equal(q.hasFreshUrgent(none, any), true)
})

test.run()
