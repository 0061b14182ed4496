/**
 * The customer client's figures, on a real network of processes on
 * 127.0.0.1 (the e2e kit):
 *  1. one client from one warm edge (default 1 GiB);
 *  2. one client from 4 warm edges each capped at R MiB/s (goal ≥ 0.9 × 4R);
 *  3. time to first byte of `reelnet play` (from the command's start, and
 *     from its URL being printed);
 *  4. peer offload in the demo's second wave.
 * Sizes are environment-tunable for slow or shared machines:
 * REELNET_BENCH_SIZE (1GiB), REELNET_BENCH_CAPPED_SIZE (256MiB),
 * REELNET_BENCH_EDGE_CAP (16, MiB/s), REELNET_BENCH_DEMO_SIZE (256MiB).
 * Run alone (not through `npm run bench`), set REELNET_E2E_WATCHDOG_MS: the
 * e2e kit otherwise stops everything after 11 minutes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Network, createCustomer, runClient, waitJson, spawnReelnet, nodeStatus, OPERATOR_TOKEN, type Proc } from '../test/e2e/client-net.ts'
import { bytesFlag } from '../cli/command.ts'
import { Scheduler } from '../node/download/engine.ts'
import type { DownloadSource } from '../node/download/source.ts'
import { TokenBucket } from '../node/net/token-bucket.ts'
import { sha256 } from '../protocol/chunking.ts'

const MIB = 1024 * 1024
const SIZE = bytesFlag('REELNET_BENCH_SIZE', process.env.REELNET_BENCH_SIZE, 1024 * MIB)
const CAPPED_SIZE = bytesFlag('REELNET_BENCH_CAPPED_SIZE', process.env.REELNET_BENCH_CAPPED_SIZE, 256 * MIB)
const CAP_MIBPS = Number(process.env.REELNET_BENCH_EDGE_CAP ?? 16)
const DEMO_SIZE = process.env.REELNET_BENCH_DEMO_SIZE ?? '256MiB'

function item (size: number): Buffer {
  const b = Buffer.allocUnsafe(size)
  for (let off = 0; off < size; off += MIB) randomBytes(Math.min(MIB, size - off)).copy(b, off)
  return b
}

interface Done { seconds: number, doneBytes: number, resumedBytes: number, byKind: Record<string, number>, sources: Array<{ id: string, kind: string, bytes: number }> }

async function download (net: Network, name: string, itemId: string, region: string): Promise<Done> {
  const c = await createCustomer(net, name, region)
  const p = runClient(c, ['get', itemId, '--rent', '--json', '-o', join(c.configDir, 'item.bin')])
  const done = await waitJson(p, o => o.type === 'done', 30 * 60_000) as unknown as Done
  await p.exited
  return done
}

/** Whether a node's GET /status lists the item as complete. */
async function heldBy (node: { statusUrl: string }, itemId: string): Promise<boolean> {
  try { return ((await nodeStatus(node)) as { heldItems: string[] }).heldItems.includes(itemId) } catch { return false }
}

function rate (d: Done): number { return (d.doneBytes - d.resumedBytes) / MIB / d.seconds }

async function oneWarmEdge (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'reelnet-bench-edge-'))
  const net = new Network({ dir, regions: [{ name: 'b1', parents: 1, edges: 1 }] })
  try {
    await net.start()
    const itemId = await net.ingest(item(SIZE), 'bench.bin')
    const cold = await download(net, 'warmer', itemId, 'b1')
    const warm = await download(net, 'measured', itemId, 'b1')
    console.log(`one edge, ${(SIZE / MIB).toFixed(0)} MiB: cold (edge fills from parent) ${rate(cold).toFixed(1)} MiB/s in ${cold.seconds.toFixed(1)} s; warm ${rate(warm).toFixed(1)} MiB/s in ${warm.seconds.toFixed(1)} s (edge ${(warm.byKind.edge! / MIB).toFixed(0)} MiB, peer ${(warm.byKind.peer! / MIB).toFixed(0)} MiB)`)
  } finally {
    await net.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function fourCappedEdges (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'reelnet-bench-capped-'))
  const net = new Network({ dir, regions: [{ name: 'b4', parents: 1, edges: 4, edgeMaxUpload: `${CAP_MIBPS}MiB` }] })
  try {
    await net.start()
    const itemId = await net.ingest(item(CAPPED_SIZE), 'bench.bin')
    // warm means every edge holds the whole item: a customer's download before would leave each edge with only
    // the quarter of the chunks it served, and the measured run would fill the rest from the parent
    await net.api('PUT', '/v1/regions/b4/preposition', { itemIds: [itemId] }, OPERATOR_TOKEN)
    const edges = net.nodesOf('b4', 'edge')
    const deadline = Date.now() + 10 * 60_000
    while (!(await Promise.all(edges.map(async e => await heldBy(e, itemId)))).every(Boolean)) {
      if (Date.now() > deadline) throw new Error('the edges did not preposition the item within 10 minutes')
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    const warm = await download(net, 'measured', itemId, 'b4')
    const goal = 0.9 * 4 * CAP_MIBPS
    const fromEdges = warm.byKind.edge! / MIB / warm.seconds
    console.log(`4 warm edges capped at ${CAP_MIBPS} MiB/s, ${(CAPPED_SIZE / MIB).toFixed(0)} MiB: ${rate(warm).toFixed(1)} MiB/s overall, ${fromEdges.toFixed(1)} MiB/s from edges (goal ≥ ${goal.toFixed(1)}: ${rate(warm) >= goal ? 'met' : 'NOT met'}); per source: ${warm.sources.map(s => `${s.kind} ${(s.bytes / MIB).toFixed(0)} MiB`).join(', ')}`)
  } finally {
    await net.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function playFirstByte (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'reelnet-bench-play-'))
  const net = new Network({ dir, regions: [{ name: 'bp', parents: 1, edges: 2 }] })
  let p: Proc | undefined
  try {
    await net.start()
    const size = 64 * MIB
    const itemId = await net.ingest(item(size), 'movie.mp4')
    await download(net, 'warmer', itemId, 'bp')
    const c = await createCustomer(net, 'viewer', 'bp')
    const t0 = performance.now()
    p = runClient(c, ['play', itemId, '--rent', '--json', '-o', join(c.configDir, 'movie.mp4')])
    const { url } = await waitJson(p, o => o.type === 'listening')
    const t1 = performance.now()
    const res = await fetch(url, { headers: { range: 'bytes=0-65535' } })
    const reader = res.body!.getReader()
    await reader.read()
    const t2 = performance.now()
    await reader.cancel()
    const seek = performance.now()
    const r2 = await fetch(url, { headers: { range: `bytes=${size - 65536}-` } })
    await r2.arrayBuffer()
    const t3 = performance.now()
    console.log(`reelnet play, warm edges: first byte ${(t2 - t0).toFixed(0)} ms after the command started (${(t2 - t1).toFixed(0)} ms after the URL was printed); a seek to the end answered in ${(t3 - seek).toFixed(0)} ms`)
  } finally {
    p?.kill('SIGTERM')
    await net.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function demoOffload (): Promise<void> {
  const p = spawnReelnet(['demo', '--size', DEMO_SIZE, '--timeout', '1800'], { name: 'demo' })
  const code = await p.exited
  const out = p.output()
  const offload = /peer offload in wave 2: (\S+)%/.exec(out)?.[1]
  const table = out.split('\n').filter(l => /^(customer|-{4}|customer \d)/.test(l)).join('\n')
  console.log(`demo (${DEMO_SIZE}), exit ${code}: peer offload in wave 2 ${offload ?? '?'}%\n${table}`)
}

/**
 * The engine alone, in one process: 4 in-memory sources each capped at R
 * MiB/s by a token bucket (as `--max-upload` caps an edge), verifying every
 * chunk. Shows whether the scheduler keeps capped sources busy (goal ≥ 0.9 × 4R)
 * without the noise of processes and encryption.
 */
async function schedulerCapped (): Promise<void> {
  const chunk = randomBytes(MIB)
  const hash = sha256(chunk)
  const count = Math.round(CAPPED_SIZE / MIB / 4)
  const source = (id: string, bucket: TokenBucket | undefined): DownloadSource => ({
    id,
    kind: 'edge',
    async fetch (indexes, { signal, onChunk }) {
      for (const i of indexes) {
        await bucket?.take(MIB, { signal })
        signal.throwIfAborted()
        onChunk(i, chunk)
      }
    }
  })
  for (const capped of [true, false]) {
    const sched = new Scheduler({
      chunkCount: count,
      chunkLength: () => MIB,
      verify: (_i, b) => Buffer.from(sha256(b)).equals(hash),
      store: async () => {}
    })
    sched.addSources([0, 1, 2, 3].map(i => source(`e${i}`, capped ? new TokenBucket(CAP_MIBPS * MIB) : undefined)))
    const t0 = performance.now()
    await sched.run()
    const secs = (performance.now() - t0) / 1000
    const r = count / secs
    if (capped) console.log(`engine, 4 in-memory sources capped at ${CAP_MIBPS} MiB/s, ${count} MiB verified: ${r.toFixed(1)} MiB/s = ${(r / (4 * CAP_MIBPS)).toFixed(2)} × 4R (goal ≥ 0.90)`)
    else console.log(`engine, 4 uncapped in-memory sources, ${count} MiB verified (SHA-256 each): ${r.toFixed(0)} MiB/s`)
  }
}

export async function run (): Promise<void> {
  const which = (process.env.REELNET_BENCH_ONLY ?? 'engine,edge,capped,play,demo').split(',')
  if (which.includes('engine')) await schedulerCapped()
  if (which.includes('edge')) await oneWarmEdge()
  if (which.includes('capped')) await fourCappedEdges()
  if (which.includes('play')) await playFirstByte()
  if (which.includes('demo')) await demoOffload()
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await run()
}
