import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { announceable, addrKind, isLoopbackHost, CUSTOMER_DEFAULT_LISTEN } from './announce.ts'

const ADDRS = [
  '/ip4/127.0.0.1/tcp/4001',
  '/ip4/192.168.1.20/tcp/4001',
  '/ip4/10.0.0.5/tcp/4001',
  '/ip4/203.0.113.7/tcp/4001',
  '/ip4/169.254.10.1/tcp/4001',
  '/ip4/0.0.0.0/tcp/4001',
  '/ip6/::1/tcp/4001',
  '/ip6/fe80::1/tcp/4001',
  '/ip6/2001:db8::7/tcp/4001',
  '/dns4/peer.example/tcp/4001'
]

test('with main on another host, a customer announces no loopback, link-local or unspecified address', () => {
  assert.equal(announceable(ADDRS, 'https://main.example:8640'), [
    '/ip4/192.168.1.20/tcp/4001', '/ip4/10.0.0.5/tcp/4001', '/ip4/203.0.113.7/tcp/4001', '/ip6/2001:db8::7/tcp/4001', '/dns4/peer.example/tcp/4001'
  ])
  assert.equal(announceable(ADDRS, 'http://192.168.1.2:8640'), announceable(ADDRS, 'https://main.example'), 'main on a LAN address is not loopback')
})

test('with main on loopback, only loopback addresses are announced (every peer is on this machine)', () => {
  const loop = ['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4001']
  assert.equal(announceable(ADDRS, 'http://127.0.0.1:8640'), loop)
  assert.equal(announceable(ADDRS, 'http://localhost:8640'), loop)
  assert.equal(announceable(ADDRS, 'http://[::1]:8640'), loop)
})

test('address kinds and loopback host names', () => {
  assert.is(addrKind('/ip4/127.8.9.10/tcp/1'), 'loopback')
  assert.is(addrKind('/ip6/::ffff:127.0.0.1/tcp/1'), 'loopback')
  assert.is(addrKind('/ip6/febf::1/tcp/1'), 'link-local')
  assert.is(addrKind('/ip6/fc00::1/tcp/1'), 'other')
  assert.is(addrKind('garbage'), 'other')
  for (const h of ['localhost', 'a.localhost', '127.0.0.1', '127.1.2.3', '[::1]', '::1']) assert.ok(isLoopbackHost(h), h)
  for (const h of ['main.example', '10.0.0.1', '::2', '128.0.0.1', 'localhost.example']) assert.not.ok(isLoopbackHost(h), h)
  assert.equal(CUSTOMER_DEFAULT_LISTEN, ['/ip4/0.0.0.0/tcp/0'])
})

test.run()
