/**
 * Bad sources reported to main, end to end: a real main and parent, and an edge registered with main that
 * flips a bit in every chunk it serves. Two customers of two accounts download with `reelnet get`; each gets
 * its bytes right from the parent, penalises the edge and reports it; main quarantines the edge once both
 * agree, and the next directive no longer names it. The honest parent is never quarantined. In a second
 * region, a corrupt parent is reported by the two edges that fill from it (nodes report too).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createHost, bareAddrs, type ReelnetHost } from '../../node/net/host.ts'
import { serveChunks } from '../../node/net/chunk-server.ts'
import { fetchChunks } from '../../node/net/chunk-client.ts'
import { Bitfield } from '../../protocol/wire/have.ts'
import { REELNET_BIN } from '../bin.ts'
import { fetchRetrying } from '../http.ts'
import { NODE_BIN, OPERATOR, cleanup, customer, ingest, startMain, startNode, tempDir, waitFor, type NodeProc, type Proc } from './node-kit.ts'

const MiB = 1024 * 1024
const SIZE = 4 * MiB
/** The second case's item: long enough that the two edges' fill batches (16 chunks from where a miss starts) never overlap. */
const LONG_CHUNKS = 40
const REGION = 'eu'
/** A download of 4 MiB on loopback takes a second; a loaded machine and a cold start take far longer. */
const GET_TIMEOUT_MS = 180_000

let dir: string
let main: { url: string, proc: Proc }
let parent: NodeProc
let evil: ReelnetHost
let itemId: string
let data: Buffer

function reelnet (args: string[], configDir: string): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', REELNET_CONFIG_DIR: configDir, REELNET_LOG_LEVEL: 'info' }
    const child = spawn(NODE_BIN, [REELNET_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, timeout: GET_TIMEOUT_MS })
    let stdout = ''; let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('close', code => { resolve({ code, stdout, stderr }) })
  })
}

async function quarantined (): Promise<string[]> {
  const res = await fetchRetrying(`${main.url}/v1/quarantine`, { headers: { authorization: `Bearer ${OPERATOR}` } })
  return ((await res.json()) as { quarantined: Array<{ peerId: string }> }).quarantined.map(q => q.peerId)
}

test.before(async () => {
  dir = await tempDir('bad-source')
  // the evil edge sends no heartbeats: main counts it up for the whole test
  main = await startMain(dir, ['--heartbeat-timeout-ms', '10m'])
  parent = await startNode(main.url, 'parent', REGION, join(dir, 'parent'))
  data = randomBytes(SIZE)
  itemId = await ingest(main.url, data, 'Bad source film')
  evil = await createHost({ privateKey: await generateKeyPair('Ed25519'), region: REGION, dht: false })
  await serveChunks(evil, {
    source: {
      async getChunk (_id, index) {
        const chunk = Buffer.from(data.subarray(index * MiB, (index + 1) * MiB))
        chunk[7] = (chunk[7] ?? 0) ^ 0x01
        return chunk
      },
      async have () { const b = new Bitfield(SIZE / MiB); for (let i = 0; i < SIZE / MiB; i++) b.set(i); return b }
    },
    authorize: async () => {},
    mayAskHave: () => true
  })
  const reg = await fetchRetrying(`${main.url}/v1/nodes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
    body: JSON.stringify({ peerId: evil.peerId.toString(), role: 'edge', region: REGION, addrs: bareAddrs(evil), capacityBytes: 1e9 })
  })
  assert.is(reg.status, 201, await reg.text())
  await waitFor('the parent to hold the item', async () => {
    const res = await fetchRetrying(`${main.url}/v1/operator/overview`, { headers: { authorization: `Bearer ${OPERATOR}` } })
    return ((await res.json()) as { items: Array<{ itemId: string, parentsHolding: number }> }).items.some(i => i.itemId === itemId && i.parentsHolding === 1)
  }, 120_000)
})

const extra: Proc[] = []
const hosts: ReelnetHost[] = []

test.after(async () => {
  for (const h of [evil, ...hosts]) await Promise.resolve(h?.stop()).catch(() => {})
  await cleanup(dir, [...extra, parent?.proc, main?.proc])
})

/** A host that answers every chunk request with wrong bytes. */
async function corruptHost (region: string): Promise<ReelnetHost> {
  const h = await createHost({ privateKey: await generateKeyPair('Ed25519'), region, dht: false })
  hosts.push(h)
  await serveChunks(h, {
    source: {
      async getChunk (_id, index) { return Buffer.alloc(MiB, index + 1) },
      async have () { const b = new Bitfield(SIZE / MiB); for (let i = 0; i < SIZE / MiB; i++) b.set(i); return b }
    },
    authorize: async () => {},
    mayAskHave: () => true
  })
  return h
}

test('two licensed customers report a corrupt edge: it is quarantined and directives stop naming it; the honest parent is not', async () => {
  const edgeId = evil.peerId.toString()
  for (const [i, name] of ['ada', 'ben'].entries()) {
    const config = join(dir, name)
    for (const args of [
      ['account', 'create', '--main', main.url, '--user', name, '--password', 'a long enough password', '--region', REGION],
      ['login', '--main', main.url, '--user', name, '--password', 'a long enough password']
    ]) {
      const r = await reelnet(args, config)
      assert.is(r.code, 0, `${args[0]}: ${r.stderr}`)
    }
    const out = join(config, 'film.bin')
    const got = await reelnet(['get', itemId, '--rent', '--json', '-o', out], config)
    assert.is(got.code, 0, got.stderr.slice(-3000))
    assert.ok((await readFile(out)).equals(data), `${name}: byte-exact despite the corrupt edge`)
    const badChunks = got.stdout.split('\n').filter(l => l.includes('"bad-chunk"') && l.includes(edgeId))
    if (i === 0) {
      assert.ok(badChunks.length >= 1, `${name} was sent a bad chunk by the edge: ${got.stdout.slice(-2000)}`)
      await waitFor('the first report to arrive', async () => {
        const res = await fetchRetrying(`${main.url}/v1/quarantine`, { headers: { authorization: `Bearer ${OPERATOR}` } })
        return ((await res.json()) as { open: Array<{ peerId: string, reporters: number }> }).open.some(o => o.peerId === edgeId && o.reporters === 1)
      }, 30_000)
      assert.equal(await quarantined(), [], 'one reporter is not enough')
    } else if (badChunks.length === 0) {
      // the second download may have been served by the parent alone only if the edge was already quarantined
      assert.equal(await quarantined(), [edgeId])
    }
  }
  await waitFor('main to quarantine the edge', async () => (await quarantined()).includes(edgeId), 30_000)
  assert.equal(await quarantined(), [edgeId], 'only the corrupt edge, never the parent')
  const c = await customer(main.url, REGION, itemId, 'cid')
  try {
    const { directive } = await c.directive()
    assert.equal(directive.peers.filter(p => p.role !== 'peer').map(p => p.peerId), [parent.peerId], 'the next directive names the parent only')
  } finally {
    await c.host.stop()
  }
})

test('two edges that fill from a corrupt parent report it: main quarantines it on the word of two nodes', async () => {
  const bad = await corruptHost('b')
  const reg = await fetchRetrying(`${main.url}/v1/nodes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
    body: JSON.stringify({ peerId: bad.peerId.toString(), role: 'parent', region: 'b', addrs: bareAddrs(bad), capacityBytes: 1e9 })
  })
  assert.is(reg.status, 201, await reg.text())
  const edges = await Promise.all(['e1', 'e2'].map(async n => await startNode(main.url, 'edge', 'b', join(dir, n))))
  extra.push(...edges.map(e => e.proc))
  // An item of LONG_CHUNKS chunks, and one customer asking each edge for a chunk at either end: an edge's miss
  // fills a batch of FILL_BATCH_CHUNKS from there, so neither edge holds what the other is asked for, and each
  // must go past the other edge (found in the DHT, lacking the chunk) to the region's parent. (Both told to
  // preposition at once, the second edge found the first in the DHT and never asked the parent.)
  const item2 = await ingest(main.url, randomBytes(LONG_CHUNKS * MiB), 'Second film')
  await waitFor('main to name both edges up', async () => {
    const res = await fetchRetrying(`${main.url}/v1/nodes`, { headers: { authorization: `Bearer ${OPERATOR}` } })
    const { nodes } = await res.json() as { nodes: Array<{ peerId: string, status: string }> }
    return edges.every(e => nodes.some(n => n.peerId === e.peerId && n.status === 'up'))
  }, 60_000)
  const c = await customer(main.url, 'b', item2, 'cust-b')
  try {
    for (const [edge, index] of [[edges[0]!, 0], [edges[1]!, LONG_CHUNKS - 1]] as const) {
      const { bytes } = await c.directive()
      let got = 0
      await fetchChunks(c.host, { peerId: edge.peerId, addrs: edge.addrs }, { itemId: item2, indexes: [index], credential: bytes }, {
        signal: AbortSignal.timeout(GET_TIMEOUT_MS),
        onChunk: () => { got++ }
      })
      assert.is(got, 1, `edge ${edge.peerId.slice(-6)} served chunk ${index}`)
    }
  } finally {
    await c.host.stop()
  }
  await waitFor('main to quarantine the corrupt parent', async () => (await quarantined()).includes(bad.peerId.toString()), 120_000)
  const res = await fetchRetrying(`${main.url}/v1/quarantine`, { headers: { authorization: `Bearer ${OPERATOR}` } })
  const entry = ((await res.json()) as { quarantined: Array<{ peerId: string, role: string, reporters: string[] }> }).quarantined.find(q => q.peerId === bad.peerId.toString())!
  assert.is(entry.role, 'parent')
  assert.equal(entry.reporters.sort(), edges.map(e => `node:${e.peerId}`).sort(), 'the two edges reported it')
  for (const e of edges) assert.match(e.proc.output(), /reported a bad source to main/)
})

test.run()
