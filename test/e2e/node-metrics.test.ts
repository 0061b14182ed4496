/**
 * A node's /metrics after a real download: main, a parent and an edge with
 * `--metrics-port 0`, a customer running `reelnet get --json`. Each node's
 * served-bytes counter for clients equals the bytes the client says it
 * received from that node, and the edge's fill from the parent shows on
 * both sides (fetched from a parent at the edge, served to an edge at the parent).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Network, OPERATOR_TOKEN, createCustomer, runClient, spawnReelnet, waitFor, waitJson, type Proc } from './client-net.ts'

const MiB = 1024 * 1024
const ITEM_BYTES = 6 * MiB
const REGION = 'metrics'

let dir: string
let net: Network
const nodes: Array<{ proc: Proc, role: 'parent' | 'edge', peerId: string, metricsUrl: string, dataDir: string }> = []

/** Start a node with a metrics port (client-net's nodes have none). */
async function startNode (role: 'parent' | 'edge'): Promise<void> {
  const dataDir = join(dir, role)
  const proc = spawnReelnet(['node', '--role', role, '--region', REGION, '--main', net.mainUrl, '--data', dataDir,
    '--operator-token', OPERATOR_TOKEN, `--main-key=${net.mainKeyText}`, '--heartbeat-ms', '500', '--rules-poll-ms', '300', '--metrics-port', '0'], { name: role })
  const ready = await waitFor(proc, /reelnet node \w+ \S+ (\S+) listening on/)
  const metrics = await waitFor(proc, /reelnet node metrics at (http:\/\/\S+)/)
  nodes.push({ proc, role, peerId: ready[1] as string, metricsUrl: metrics[1] as string, dataDir })
}

/** The value of one sample (`name{labels}`) in Prometheus text, or undefined. */
function sample (text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(`${name}${labels} `))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

async function until (what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    try { if (await check()) return } catch { /* not yet */ }
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reelnet-node-metrics-'))
  net = new Network({ dir, regions: [] })
  await net.start()
  await Promise.all([startNode('parent'), startNode('edge')])
})

test.after(async () => {
  for (const n of nodes) n.proc.kill('SIGTERM')
  await net?.stop()
  await Promise.race([Promise.all(nodes.map(n => n.proc.exited)), new Promise(resolve => setTimeout(resolve, 5_000))])
  for (const n of nodes) n.proc.kill('SIGKILL')
  await rm(dir, { recursive: true, force: true })
})

test('a node\'s served-bytes counter equals what the client received from it', async () => {
  const itemId = await net.ingest(randomBytes(ITEM_BYTES), 'metrics item')
  const parent = nodes.find(n => n.role === 'parent')!
  const edge = nodes.find(n => n.role === 'edge')!
  await until('the parent to hold the item', async () => {
    const status = await (await fetch(parent.metricsUrl.replace(/\/metrics$/, '/status'))).json() as { heldItems: string[] }
    return status.heldItems.includes(itemId)
  }, 60_000)
  await until('main to list both nodes up', async () => {
    const { nodes: listed } = await net.api('GET', '/v1/nodes', undefined, OPERATOR_TOKEN) as { nodes: Array<{ region: string, status: string }> }
    return listed.filter(n => n.region === REGION && n.status === 'up').length === 2
  }, 20_000)
  const before = await (await fetch(parent.metricsUrl)).text()
  assert.match(before, /^libp2p_/m, 'libp2p\'s own metrics are served too')

  const alice = await createCustomer(net, 'metrics-alice', REGION)
  const get = runClient(alice, ['get', itemId, '--rent', '--json', '-o', join(alice.configDir, 'out.bin')])
  const done = await waitJson(get, o => o.type === 'done' || o.type === 'error', 120_000)
  assert.is(done.type, 'done', JSON.stringify(done))
  assert.is(await get.exited, 0, get.output().slice(-2000))
  const received = new Map<string, number>((done.sources as Array<{ id: string, bytes: number }>).map(s => [s.id, s.bytes]))
  assert.is([...received.values()].reduce((a, b) => a + b, 0), ITEM_BYTES, `the client received the whole item: ${JSON.stringify(done.sources)}`)

  const text = new Map<string, string>()
  for (const n of nodes) text.set(n.role, await (await fetch(n.metricsUrl)).text())
  for (const n of nodes) {
    const servedToClients = sample(text.get(n.role)!, 'reelnet_node_served_bytes_total', '{to="client"}')
    assert.is(servedToClients, received.get(n.peerId) ?? 0, `${n.role}: served to clients vs received by the client`)
  }
  assert.ok((received.get(edge.peerId) ?? 0) > 0, 'the edge served the client')
  const edgeText = text.get('edge')!
  const parentText = text.get('parent')!
  const edgeFetched = sample(edgeText, 'reelnet_node_fetched_bytes_total', '{source="parent"}') ?? 0
  const edgeFromOrigin = sample(edgeText, 'reelnet_node_fetched_bytes_total', '{source="origin"}') ?? 0
  // the parent first; on a starved machine a fill that stalls there falls back to the origin, which is counted too
  assert.ok(edgeFetched + edgeFromOrigin > 0, `the edge filled from the parent or the origin: ${edgeFetched} + ${edgeFromOrigin}`)
  assert.is(sample(parentText, 'reelnet_node_served_bytes_total', '{to="edge"}') ?? 0, edgeFetched, 'what the edge fetched from the parent is what the parent served to edges')
  assert.ok((sample(edgeText, 'reelnet_node_cache_misses_total') ?? 0) > 0, 'the edge counted misses')
  assert.is(sample(edgeText, 'reelnet_node_store_used_bytes'), edgeFetched + edgeFromOrigin, 'the edge stores what it fetched')
  assert.is(sample(edgeText, 'reelnet_node_verification_failures_total', '{source="parent"}'), 0)
})

test('a node\'s metrics port answers only /metrics', async () => {
  const url = new URL(nodes[0]!.metricsUrl)
  assert.is((await fetch(new URL('/', url))).status, 404)
  assert.is((await fetch(url, { method: 'POST' })).status, 405)
})

test.run()
