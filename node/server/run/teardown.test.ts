import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Teardown } from './teardown.ts'

test('closers run last pushed first, each once, however often run() is called', async () => {
  const order: string[] = []
  const t = new Teardown()
  t.push('state', () => { order.push('state') })
  t.push('store', async () => { await new Promise(resolve => setTimeout(resolve, 5)); order.push('store') })
  t.push('host', () => { order.push('host') })
  await Promise.all([t.run(), t.run()])
  await t.run()
  assert.equal(order, ['host', 'store', 'state'])
  assert.ok(t.started)
})

test('a closer that fails is logged and the ones pushed before it still run', async () => {
  const order: string[] = []
  const logged: string[] = []
  const t = new Teardown(line => { logged.push(line) })
  t.push('state', () => { order.push('state') })
  t.push('host', async () => { throw new Error('already stopped') })
  t.push('metrics', () => { order.push('metrics') })
  await t.run()
  assert.equal(order, ['metrics', 'state'])
  assert.equal(logged, ['stopping host: already stopped'])
})

test('nothing can be pushed once teardown has begun', async () => {
  const t = new Teardown()
  await t.run()
  assert.throws(() => { t.push('late', () => {}) }, /teardown already running/)
})

test.run()
