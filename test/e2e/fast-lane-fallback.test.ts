/**
 * The libp2p fallback with the fast lane closed (issue 17, Must show 5): a
 * real main, parent and edge on 127.0.0.1; the parent's fast lane, as the
 * rules name it, is a port where nothing listens (re-registered by the
 * operator, as after a firewall change). The edge's fill cannot reach it,
 * falls back to libp2p and serves byte-exact chunks; a customer that asks
 * the edge over libp2p is not affected.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { Manifest } from '../../protocol/types.ts'
import {
  cleanup, customer, fetchItem, ingest, manifestOf, OPERATOR, startMain, startNode, status, tempDir, waitFor, type NodeProc, type Proc
} from './node-kit.ts'
import { fetchRetrying } from '../http.ts'

const SIZE = 8 * 1024 * 1024
let dir: string
let main: { url: string, proc: Proc }
let parent: NodeProc, edge: NodeProc
let item: Buffer
let itemId: string
let manifest: Manifest

test.before(async () => {
  dir = await tempDir('lane-fallback')
  main = await startMain(dir)
  ;[parent, edge] = await Promise.all([startNode(main.url, 'parent', 'f', join(dir, 'p')), startNode(main.url, 'edge', 'f', join(dir, 'e'))])
  item = randomBytes(SIZE)
  itemId = await ingest(main.url, item, 'fallback')
  manifest = await manifestOf(main.url, itemId)
  await waitFor('the parent to hold the item', async () => (await status(parent)).heldItems.includes(itemId), 120_000)
})

test.after(async () => { await cleanup(dir, [parent?.proc, edge?.proc, main?.proc]) })

test('the parent\'s fast lane closed: the edge fills over libp2p and serves correct bytes', async () => {
  // a port that was free a moment ago: nothing listens there
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const dead = `/ip4/127.0.0.1/tcp/${(s.address() as AddressInfo).port}`
  await new Promise<void>(resolve => s.close(() => { resolve() }))
  const laneWas = (await status(parent)).fastLane?.addr
  assert.ok(laneWas !== undefined && laneWas !== dead, `the parent runs a fast lane (${laneWas})`)
  const res = await fetchRetrying(`${main.url}/v1/nodes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR}` },
    body: JSON.stringify({ peerId: parent.peerId, role: 'parent', region: 'f', addrs: parent.addrs.map(a => a.replace(/\/p2p\/.*$/, '')), capacityBytes: 1024 ** 4, fastLane: dead })
  })
  assert.ok(res.ok, `re-registered: ${res.status} ${await res.text()}`)
  const version = ((await (await fetchRetrying(`${main.url}/v1/rules`)).json()) as { version: number }).version
  await waitFor('the edge to hold the new rules', async () => ((await status(edge)).rulesVersion ?? 0) >= version, 30_000)

  const c = await customer(main.url, 'f', itemId, 'fallback')
  try {
    let d = await c.directive()
    await waitFor('a directive naming the edge', async () => { d = await c.directive(); return d.directive.peers.some(p => p.peerId === edge.peerId) }, 30_000, 300)
    const got = await fetchItem(c.host, { peerId: edge.peerId, addrs: edge.addrs }, manifest, d.bytes)
    assert.ok(got.equals(item), 'byte-exact')
    const st = await status(edge)
    assert.ok(st.transport.fallbacks >= 1 && st.transport.libp2p >= 1 && st.transport.fastLane === 0, `fill paths: ${JSON.stringify(st.transport)}`)
    assert.is(st.fetched.bySource[parent.peerId], SIZE, `every byte from the parent: ${JSON.stringify(st.fetched)}`)
  } finally { await c.host.stop() }
})

test.run()
