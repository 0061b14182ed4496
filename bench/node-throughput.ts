/**
 * Throughput of the chunk protocol between processes on loopback, each
 * beside plain TCP moving the same bytes in the same run:
 *
 *   warm   requester ← edge (chunks in its store)            vs  TCP one hop
 *   cold   requester ← edge (empty) ← parent (store)         vs  TCP through a relay
 *
 * The requester verifies every chunk (as a real client does). Size: 1 GiB,
 * or REELNET_BENCH_MIB. Run: node_modules/.bin/node --import tsx bench/node-throughput.ts
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createConnection, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Filler } from '../node/fill.ts'
import { createHost, listenAddrs } from '../node/host.ts'
import { serveChunks } from '../node/chunk-server.ts'
import { fetchChunks } from '../node/chunk-client.ts'
import { ChunkStore, sha256 } from '../node/store/chunk-store.ts'
import { verifyChunk } from '../protocol/chunking.ts'
import type { Manifest } from '../protocol/types.ts'
import type { MainClient } from '../node/main-client.ts'

const MiB = 1024 * 1024
const CHUNK = MiB
const SELF = new URL(import.meta.url).pathname

/** A synthetic manifest over deterministic chunks (no Merkle root needed: the bench skips the DHT). */
function makeItem (mib: number): { manifest: Manifest, chunk: (i: number) => Uint8Array } {
  // the same bytes in every process: a fixed xorshift stream, not randomBytes
  const seed = Buffer.alloc(CHUNK)
  let x = 0x9e3779b9
  for (let o = 0; o < CHUNK; o += 4) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; seed.writeInt32LE(x | 0, o) }
  const chunk = (i: number): Uint8Array => { const b = Buffer.from(seed); b.writeUInt32BE(i, 0); return b }
  const chunkHashes = Array.from({ length: mib }, (_, i) => sha256(chunk(i)))
  return { manifest: { itemId: 'bench', title: 'bench', size: mib * CHUNK, chunkSize: CHUNK, chunkCount: mib, chunkHashes, merkleRoot: new Uint8Array(32), version: 1 }, chunk }
}

// ---- worker processes ---------------------------------------------------------------------

async function worker (mode: string, dir: string, mib: number, upstream?: string): Promise<void> {
  const { manifest, chunk } = makeItem(mib)
  if (mode === 'tcp' || mode === 'relay') {
    const server = createServer(sock => {
      if (mode === 'tcp') {
        let i = 0
        const pump = (): void => { while (i < mib) { if (!sock.write(chunk(i++))) { sock.once('drain', pump); return } } sock.end() }
        pump()
      } else {
        const [host, port] = upstream!.split(':')
        const up = createConnection({ host, port: Number(port) })
        up.pipe(sock)
      }
    })
    server.listen(0, '127.0.0.1', () => { console.log(`READY tcp 127.0.0.1:${(server.address() as { port: number }).port}`) })
    return
  }
  const store = await ChunkStore.open(join(dir, mode), { capacityBytes: 4 * mib * CHUNK, policy: null })
  if (mode === 'serve') for (let i = 0; i < mib; i++) await store.put(manifest.chunkHashes[i]!, chunk(i))
  const host = await createHost({ privateKey: await generateKeyPair('Ed25519'), region: 'bench', dht: mode === 'edge' })
  let getChunk: (itemId: string, index: number, o: { signal: AbortSignal }) => Promise<Uint8Array | null>
  if (mode === 'edge') {
    const [peerId, ...addrs] = upstream!.split(',')
    const parent = { peerId: peerId!, addrs, role: 'parent' as const, capacityBytes: 0 }
    const filler = new Filler({
      host, store, main: {} as MainClient, selfPeerId: host.peerId.toString(), role: 'edge',
      regionMembers: () => ({ parents: [parent], edges: [] }), signal: new AbortController().signal
    })
    getChunk = async (_id, i, o) => await filler.get(manifest, i, o.signal)
  } else {
    getChunk = async (_id, i) => await store.get(manifest.chunkHashes[i]!)
  }
  await serveChunks(host, { source: { getChunk, have: async () => null }, authorize: async () => {}, mayAskHave: () => true, log: m => { console.error(`[${mode}] ${m}`) } })
  console.log(`READY p2p ${host.peerId.toString()},${listenAddrs(host).join(',')}`)
}

// ---- the run -------------------------------------------------------------------------------

function start (args: string[]): Promise<{ child: ChildProcess, addr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--worker', ...args], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /READY \w+ (\S+)/.exec(out)
      if (m !== null) resolve({ child, addr: m[1]! })
    })
    child.once('exit', code => { reject(new Error(`worker ${args[0]} exited ${code}`)) })
  })
}

/** CPU milliseconds (user + system) a worker has used so far: a figure that shared-machine noise moves less than wall time. */
async function cpuOf (child: ChildProcess): Promise<number> {
  return await new Promise(resolve => {
    child.once('message', m => { resolve(Number(m)) })
    child.send('cpu')
  })
}

const ownCpu = (): number => { const c = process.cpuUsage(); return (c.user + c.system) / 1000 }

async function viaTcp (addr: string, bytes: number): Promise<number> {
  const [host, port] = addr.split(':')
  const t = performance.now()
  await new Promise<void>((resolve, reject) => {
    let got = 0
    const s: Socket = createConnection({ host, port: Number(port) })
    s.on('data', d => { got += d.length })
    s.on('end', () => { got === bytes ? resolve() : reject(new Error(`tcp got ${got} of ${bytes}`)) })
    s.on('error', reject)
  })
  return performance.now() - t
}

async function viaChunks (addr: string, manifest: Manifest): Promise<number> {
  const [peerId, ...addrs] = addr.split(',')
  const host = await createHost({ privateKey: await generateKeyPair('Ed25519'), region: 'bench', dht: false })
  try {
    const t = performance.now()
    let n = 0
    const indexes = Array.from({ length: manifest.chunkCount }, (_, i) => i)
    await fetchChunks(host, { peerId: peerId!, addrs }, { itemId: 'bench', indexes }, {
      signal: AbortSignal.timeout(30 * 60_000),
      onChunk: (i, b) => { verifyChunk(manifest, i, b); n++ }
    })
    if (n !== manifest.chunkCount) throw new Error(`got ${n} chunks`)
    return performance.now() - t
  } finally { await host.stop() }
}

const rate = (bytes: number, ms: number): number => bytes / MiB / (ms / 1000)

export async function run (): Promise<void> {
  const mib = Number(process.env.REELNET_BENCH_MIB ?? 1024)
  const bytes = mib * MiB
  const dir = await mkdtemp(join(tmpdir(), 'reelnet-bench-'))
  const { manifest } = makeItem(mib)
  const children: ChildProcess[] = []
  try {
    const serve = await start(['serve', dir, String(mib)]); children.push(serve.child)
    const tcp = await start(['tcp', dir, String(mib)]); children.push(tcp.child)
    const relay = await start(['relay', dir, String(mib), tcp.addr]); children.push(relay.child)

    const tcpWarm = await viaTcp(tcp.addr, bytes)
    let c = [ownCpu(), await cpuOf(serve.child)]
    const warm = await viaChunks(serve.addr, manifest)
    const warmCpu = [ownCpu() - c[0]!, await cpuOf(serve.child) - c[1]!]
    const edge = await start(['edge', dir, String(mib), serve.addr]); children.push(edge.child)
    const tcpCold = await viaTcp(relay.addr, bytes)
    c = [ownCpu(), await cpuOf(edge.child), await cpuOf(serve.child)]
    const cold = await viaChunks(edge.addr, manifest)
    const coldCpu = [ownCpu() - c[0]!, await cpuOf(edge.child) - c[1]!, await cpuOf(serve.child) - c[2]!]
    const perMiB = (ms: number): string => (ms / mib).toFixed(2)

    console.log(`node-throughput: ${mib} MiB item, chunk protocol (TCP + Noise + Yamux), requester verifies every chunk`)
    console.log(`  warm edge → requester      ${rate(bytes, warm).toFixed(0).padStart(6)} MiB/s   plain TCP one hop ${rate(bytes, tcpWarm).toFixed(0).padStart(6)} MiB/s   ratio ${(tcpWarm / warm).toFixed(2)}`)
    console.log(`  cold parent → edge → req.  ${rate(bytes, cold).toFixed(0).padStart(6)} MiB/s   plain TCP relayed ${rate(bytes, tcpCold).toFixed(0).padStart(6)} MiB/s   ratio ${(tcpCold / cold).toFixed(2)}`)
    console.log(`  CPU ms per MiB: warm requester ${perMiB(warmCpu[0]!)} edge ${perMiB(warmCpu[1]!)}; cold requester ${perMiB(coldCpu[0]!)} edge ${perMiB(coldCpu[1]!)} parent ${perMiB(coldCpu[2]!)}`)
  } finally {
    // SIGTERM, and wait: a worker exits on it through process.exit, so `--cpu-prof` can write its profile
    await Promise.all(children.map(async c => {
      if (c.exitCode !== null || c.signalCode !== null) return
      const gone = new Promise(resolve => c.once('exit', resolve))
      c.kill('SIGTERM')
      const t = setTimeout(() => c.kill('SIGKILL'), 5_000)
      await gone
      clearTimeout(t)
    }))
    await rm(dir, { recursive: true, force: true })
  }
}

const wi = process.argv.indexOf('--worker')
if (wi >= 0) {
  const [mode, dir, mib, upstream] = process.argv.slice(wi + 1)
  process.once('SIGTERM', () => process.exit(0))
  process.on('message', m => { if (m === 'cpu') { const c = process.cpuUsage(); process.send!(String((c.user + c.system) / 1000)) } })
  await worker(mode!, dir!, Number(mib), upstream)
} else if (process.argv[1] === SELF) {
  await run()
}
