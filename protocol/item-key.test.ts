import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { contentKeyOf, parseContentKey } from './item-key.ts'

const id = '0123456789abcdef0123456789abcdef'

test('version 1 is the bare itemId, later versions carry @N, and both parse back', () => {
  assert.is(contentKeyOf(id), id)
  assert.is(contentKeyOf(id, 1), id)
  assert.is(contentKeyOf(id, 2), `${id}@2`)
  assert.equal(parseContentKey(id), { itemId: id, version: 1 })
  assert.equal(parseContentKey(`${id}@17`), { itemId: id, version: 17 })
})

test('keys no version could make are refused', () => {
  for (const bad of [`${id}@`, `${id}@1`, `${id}@0`, `${id}@02`, `${id}@x`, `@3`, `${id}@2@3`, `${id}@99999999`]) {
    assert.throws(() => parseContentKey(bad), RangeError, bad)
  }
  assert.throws(() => contentKeyOf(id, 0), RangeError)
  assert.throws(() => contentKeyOf(id, 1.5), RangeError)
})

test.run()
