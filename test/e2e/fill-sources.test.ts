/**
 * An edge's cold fill draws on every region source at once (issue 17, Must
 * show 4): two parents and another edge that holds part of the item, all
 * real processes on 127.0.0.1 with a real main, the parents' uplinks capped
 * so one parent alone is the bottleneck. The edge's /status shows bytes from
 * each of the three, and the fill is faster than a second cold edge's from
 * one parent alone (the other parent and both edges taken out of the region)
 * in the same run.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { Manifest } from '../../protocol/types.ts'
import {
  cleanup, customer, fetchItem, ingest, manifestOf, OPERATOR, startMain, startNode, status, tempDir, waitFor, type NodeProc, type Proc
} from './node-kit.ts'
import { fetchChunks } from '../../node/net/chunk-client.ts'
import { fetchRetrying } from '../http.ts'

/** 24 chunks of 1 MiB: at the parents' cap, one parent alone needs about 6 s. */
const SIZE = 24 * 1024 * 1024
/** Each parent's upload cap: low enough that a parent's uplink, not the machine, bounds a fill. */
const PARENT_CAP = '4MiB'
let dir: string
let main: { url: string, proc: Proc }
let p1: NodeProc, p2: NodeProc, helper: NodeProc, edge: NodeProc, lone: NodeProc | undefined
let item: Buffer
let itemId: string
let manifest: Manifest

test.before(async () => {
  dir = await tempDir('fill-sources')
  main = await startMain(dir)
  ;[p1, p2, helper, edge] = await Promise.all([
    startNode(main.url, 'parent', 'r', join(dir, 'p1'), ['--max-upload', PARENT_CAP]),
    startNode(main.url, 'parent', 'r', join(dir, 'p2'), ['--max-upload', PARENT_CAP]),
    startNode(main.url, 'edge', 'r', join(dir, 'helper')),
    startNode(main.url, 'edge', 'r', join(dir, 'edge'))
  ])
  item = randomBytes(SIZE)
  itemId = await ingest(main.url, item, 'several-sources')
  manifest = await manifestOf(main.url, itemId)
  await waitFor('both parents to hold the item', async () => (await status(p1)).heldItems.includes(itemId) && (await status(p2)).heldItems.includes(itemId), 120_000)
})

test.after(async () => { await cleanup(dir, [p1?.proc, p2?.proc, helper?.proc, edge?.proc, lone?.proc, main?.proc]) })

test('a cold edge fills from two parents and an edge holding part of the item at once, faster than from one parent', async () => {
  const c = await customer(main.url, 'r', itemId, 'several')
  try {
    let d = await c.directive()
    await waitFor('a directive naming both edges', async () => {
      d = await c.directive()
      return [helper, edge].every(e => d.directive.peers.some(p => p.peerId === e.peerId))
    }, 30_000, 300)
    // the helper edge fills the first 8 chunks (and its readahead) and announces the item in the region DHT
    await fetchChunks(c.host, { peerId: helper.peerId, addrs: helper.addrs }, { itemId, indexes: [0, 1, 2, 3, 4, 5, 6, 7], credential: d.bytes }, { signal: AbortSignal.timeout(60_000), onChunk: () => {} })
    const held = (await status(helper)).store.chunks
    assert.ok(held >= 8 && held < manifest.chunkCount, `the helper holds part of the item: ${held} chunks`)

    const t0 = performance.now()
    const got = await fetchItem(c.host, { peerId: edge.peerId, addrs: edge.addrs }, manifest, d.bytes)
    const several = performance.now() - t0
    assert.ok(got.equals(item), 'byte-exact through the edge')
    const s = await status(edge)
    const by = s.fetched.bySource
    const seen = JSON.stringify(s.fetched)
    assert.ok((by[p1.peerId] ?? 0) > 0, `bytes from parent 1: ${seen}`)
    assert.ok((by[p2.peerId] ?? 0) > 0, `bytes from parent 2: ${seen}`)
    assert.ok((by[helper.peerId] ?? 0) > 0, `bytes from the helper edge: ${seen}`)
    assert.ok(s.transport.fastLane > 0, `over the fast lane: ${JSON.stringify(s.transport)}`)

    // the same fill from one parent: parent 2 and both edges (which now hold the item) leave the region, a new cold edge fills
    for (const n of [helper, p2, edge]) await n.proc.kill()
    for (const n of [helper, p2, edge]) {
      const res = await fetchRetrying(`${main.url}/v1/nodes/${n.peerId}`, { method: 'DELETE', headers: { authorization: `Bearer ${OPERATOR}` } })
      assert.ok(res.ok, `removed ${n.peerId}: ${res.status}`)
    }
    const rulesNow = ((await (await fetchRetrying(`${main.url}/v1/rules`)).json()) as { version: number }).version
    // "from one parent alone" is checked, not assumed: a fill in which the parent was judged stalled behind its cap
    // and main's origin stepped in (CI once: 24 MiB in 1.7 s from a 4 MiB/s parent) is no one-parent fill, and is
    // measured again on a fresh cold edge (at most three)
    let one = Infinity
    const tries: string[] = []
    for (let attempt = 0; attempt < 3 && one === Infinity; attempt++) {
      if (lone !== undefined) await lone.proc.kill()
      lone = await startNode(main.url, 'edge', 'r', join(dir, `lone-${attempt}`))
      const l = lone
      await waitFor('the new edge to hold the rules without parent 2', async () => ((await status(l)).rulesVersion ?? 0) >= rulesNow, 30_000)
      await waitFor('a directive naming the new edge', async () => {
        d = await c.directive()
        return d.directive.peers.some(p => p.peerId === l.peerId)
      }, 30_000, 300)
      const t1 = performance.now()
      const again = await fetchItem(c.host, { peerId: l.peerId, addrs: l.addrs }, manifest, d.bytes)
      const ms = performance.now() - t1
      assert.ok(again.equals(item), 'byte-exact through the lone edge')
      const { fetched } = await status(l)
      tries.push(`${ms.toFixed(0)} ms ${JSON.stringify(fetched.bytes)}`)
      if ((fetched.bySource[p1.peerId] ?? 0) === SIZE) one = ms
    }
    assert.ok(one !== Infinity, `a fill from parent 1 alone (tries: ${tries.join('; ')})`)
    console.log(`fill-sources: ${SIZE / 1024 / 1024} MiB cold through an edge: ${several.toFixed(0)} ms from 2 parents + 1 edge (${JSON.stringify(Object.fromEntries(Object.entries(by).map(([k, v]) => [k.slice(-6), v])))}), ${one.toFixed(0)} ms from 1 parent (tries: ${tries.join('; ')})`)
    assert.ok(several < one, `several sources (${several.toFixed(0)} ms) faster than one parent (${one.toFixed(0)} ms)`)
  } finally { await c.host.stop() }
})

test.run()
