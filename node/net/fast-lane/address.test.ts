import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { formatFastLaneAddr, parseFastLaneAddr } from './address.ts'
import { announceHostFor, tcpHostOf } from './node-lane.ts'

test('a fast-lane address is /ip4/A/tcp/P or /ip6/A/tcp/P, and round-trips', () => {
  assert.is(formatFastLaneAddr('127.0.0.1', 4443), '/ip4/127.0.0.1/tcp/4443')
  assert.is(formatFastLaneAddr('::1', 1), '/ip6/::1/tcp/1')
  assert.equal(parseFastLaneAddr('/ip4/10.0.0.2/tcp/65535'), { host: '10.0.0.2', port: 65535 })
  assert.equal(parseFastLaneAddr('/ip6/::1/tcp/9'), { host: '::1', port: 9 })
})

test('anything else is a RangeError', () => {
  for (const bad of ['', '/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/70000', '/ip4/localhost/tcp/1', '/ip6/127.0.0.1/tcp/1',
    '/ip4/127.0.0.1/tcp/1/tls', '/dns4/x/tcp/1', 'tls://127.0.0.1:1', '/ip4/999.0.0.1/tcp/1']) {
    assert.throws(() => parseFastLaneAddr(bad), (e: Error) => e instanceof RangeError, bad)
  }
  assert.throws(() => formatFastLaneAddr('example.org', 1), (e: Error) => e instanceof RangeError)
})

test('the lane listens on the first plain TCP listen host and registers a host others can reach', () => {
  assert.is(tcpHostOf(['/ip4/0.0.0.0/tcp/4002/ws', '/ip4/10.1.2.3/tcp/4001']), '10.1.2.3')
  assert.is(tcpHostOf(['/ip4/1.2.3.4/tcp/1/ws']), undefined)
  assert.is(announceHostFor('127.0.0.1', ['/ip4/10.0.0.1/tcp/1']), '127.0.0.1')
  assert.is(announceHostFor('0.0.0.0', ['/ip4/127.0.0.1/tcp/1', '/ip4/192.168.1.5/tcp/1']), '192.168.1.5')
  assert.is(announceHostFor('0.0.0.0', ['/ip4/127.0.0.1/tcp/1']), '127.0.0.1')
  assert.is(announceHostFor('0.0.0.0', []), '127.0.0.1')
})

test.run()
