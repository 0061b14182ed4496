import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loginSourceOf } from './login-limiter.ts'
import { memoryLimiter } from './storage/level.ts'

test('a source is the IPv4 address, or the /64 of an IPv6 one', () => {
  assert.is(loginSourceOf('203.0.113.9'), '203.0.113.9')
  assert.is(loginSourceOf('::ffff:203.0.113.9'), '203.0.113.9')
  assert.is(loginSourceOf('2001:db8:1:2::1'), '2001:db8:1:2::/64')
  assert.is(loginSourceOf('2001:0db8:0001:0002:ffff:0:0:9'), '2001:db8:1:2::/64')
  assert.is(loginSourceOf('2001:db8::'), '2001:db8:0:0::/64')
  assert.is(loginSourceOf('::1'), '0:0:0:0::/64')
  assert.is(loginSourceOf('local'), 'local')
})

test('failures count within the window and reset after it', async () => {
  const l = memoryLimiter()
  await l.fail('s', 'k', 0, 1000)
  assert.equal(await l.get('s', 'k', 10, 1000), { failures: 1, windowStart: 0 })
  assert.equal(await l.fail('s', 'k', 20, 1000), { failures: 2, windowStart: 0 })
  assert.is(await l.get('s', 'k', 1000, 1000), undefined)
  assert.equal(await l.fail('s', 'k', 1000, 1000), { failures: 1, windowStart: 1000 })
})

test.run()
