import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LoginLimiter, loginSourceOf } from './login-limiter.ts'

test('a source is the IPv4 address, or the /64 of an IPv6 one', () => {
  assert.is(loginSourceOf('203.0.113.9'), '203.0.113.9')
  assert.is(loginSourceOf('::ffff:203.0.113.9'), '203.0.113.9')
  assert.is(loginSourceOf('2001:db8:1:2::1'), '2001:db8:1:2::/64')
  assert.is(loginSourceOf('2001:0db8:0001:0002:ffff:0:0:9'), '2001:db8:1:2::/64')
  assert.is(loginSourceOf('2001:db8::'), '2001:db8:0:0::/64')
  assert.is(loginSourceOf('::1'), '0:0:0:0::/64')
  assert.is(loginSourceOf('local'), 'local')
})

test('failures count within the window and reset after it', () => {
  const l = new LoginLimiter(2, 1000)
  l.fail('k', 0)
  assert.is(l.failures('k', 10), 1)
  assert.is(l.retryAfterMs('k', 10), 0)
  l.fail('k', 20)
  assert.is(l.retryAfterMs('k', 30), 970)
  assert.is(l.failures('k', 1000), 0)
  assert.is(l.retryAfterMs('k', 1000), 0)
})

test.run()
