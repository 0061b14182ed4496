/**
 * ClientShare (customer.ts): what a process keeps across its downloads, per identity. Stand-in hosts count their
 * stops; fast-lane clients are made without dialling anyone.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ClientShare } from './customer.ts'
import type { ReelnetHost } from '../net/host.ts'

const credentials = { cert: 'not used before a connect', key: 'not used before a connect' }

function fakeHost (): ReelnetHost & { stops: number } {
  const h = { stops: 0, stop: async () => { h.stops++ } }
  return h as unknown as ReelnetHost & { stops: number }
}

test('one fast-lane client per identity, kept until the share closes', async () => {
  const share = new ClientShare()
  const a = share.laneClientFor('peer-a', credentials)
  assert.is(share.laneClientFor('peer-a', credentials), a, 'the same identity gets the same client back')
  assert.is.not(share.laneClientFor('peer-b', credentials), a, 'another identity gets its own')
  await share.close()
  assert.throws(() => share.laneClientFor('peer-a', credentials), /closed/)
})

test('a host given back is handed to the next download of the same key; extras and late returns are stopped', async () => {
  const share = new ClientShare()
  assert.is(share.takeHost('k1'), undefined, 'nothing kept yet')
  const h1 = fakeHost()
  await share.returnHost('k1', h1)
  assert.is(h1.stops, 0)
  assert.is(share.takeHost('k2'), undefined, 'another key does not get it')
  assert.is(share.takeHost('k1'), h1)
  assert.is(share.takeHost('k1'), undefined, 'taken: in use by one download at a time')
  const h2 = fakeHost()
  await share.returnHost('k1', h1)
  await share.returnHost('k1', h2)
  assert.is(h2.stops, 1, 'one idle host per key: the second is stopped')
  await share.close()
  assert.is(h1.stops, 1, 'close stops the idle hosts')
  const h3 = fakeHost()
  await share.returnHost('k1', h3)
  assert.is(h3.stops, 1, 'a host returned after close is stopped')
})

test.run()
