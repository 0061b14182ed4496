/**
 * Throughput and CPU of the data plane between processes on loopback, each
 * path moving the same bytes in the same run (issue 17, Must show 1):
 *
 *   warm   requester ← edge (chunks in its store)            fast lane (TLS 1.3) and libp2p (Noise + yamux)
 *   hot    the same chunks read again (the store does not re-hash within REHASH_AFTER_MS)
 *   cold   requester ← edge (empty) ← parent (store)         fast lane and libp2p, each its own cold edge
 *   plain TCP one hop, plain TCP through a relay
 *   nginx over HTTPS (TLS 1.3, AES-GCM) from the page cache to a Node client that hashes what it reads
 *   (when Debian's nginx is installed)
 *
 * The requester verifies every chunk (as a real client does). CPU ms per MiB
 * for every process. Size: 1 GiB, or REELNET_BENCH_MIB. REELNET_BENCH_LEGS=a,b runs only those legs
 * (tcp, nginx, warm-lane, warm-p2p, hot-lane, cold-lane, cold-p2p, relay: for profiling one path);
 * REELNET_BENCH_CPU_PROF=mode,… starts those workers (serve, edge-lane, edge-p2p) with --cpu-prof, their profiles
 * written to REELNET_BENCH_CPU_PROF_DIR (default the working directory). Ends with the line
 * `dataplane: warm W MiB/s (R× nginx-tls), cold C MiB/s, edge E ms/MiB, requester Q ms/MiB`
 * (fast-lane figures). Run: npm run bench -- node-throughput
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:https'
import { createConnection, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { Filler } from '../node/server/fill.ts'
import { createHost, listenAddrs } from '../node/net/host.ts'
import { serveChunks } from '../node/net/chunk-server.ts'
import { fetchChunks } from '../node/net/chunk-client.ts'
import { ChunkStore, sha256 } from '../node/server/store/chunk-store.ts'
import { fastLaneCredentials } from '../node/net/fast-lane/certificate.ts'
import { FastLaneClient } from '../node/net/fast-lane/client.ts'
import { startFastLaneServer } from '../node/net/fast-lane/server.ts'
import { createChunkTransport } from '../node/net/fast-lane/transport.ts'
import { formatFastLaneAddr } from '../node/net/fast-lane/address.ts'
import { verifyChunk } from '../protocol/chunking.ts'
import type { Manifest } from '../protocol/types.ts'
import type { MainClient } from '../node/control/main-client.ts'

const MiB = 1024 * 1024
const CHUNK = MiB
const SELF = new URL(import.meta.url).pathname
/** The fast-lane requester's requests: 16 chunks each, 4 in flight (64 MiB), like the scheduler's windows on one source. */
const LANE_REQUEST_CHUNKS = 16
const LANE_REQUESTS_IN_FLIGHT = 4
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find(p => existsSync(p))
/** The legs REELNET_BENCH_LEGS may name, in the order they run. */
const LEG_KEYS = ['tcp', 'nginx', 'warm-lane', 'warm-p2p', 'hot-lane', 'cold-lane', 'cold-p2p', 'relay']
/** Clock ticks per second of /proc/PID/stat (Linux's USER_HZ). */
const USER_HZ = 100

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

/** What a chunk-serving worker prints when ready: its PeerId, libp2p addresses and fast lane. */
interface Endpoint { peerId: string, addrs: string[], fastLane: string }

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
    server.listen(0, '127.0.0.1', () => { console.log(`READY ${JSON.stringify(`127.0.0.1:${(server.address() as { port: number }).port}`)}`) })
    return
  }
  const store = await ChunkStore.open(join(dir, mode), { capacityBytes: 4 * mib * CHUNK, policy: null })
  if (mode === 'serve') for (let i = 0; i < mib; i++) await store.put(manifest.chunkHashes[i]!, chunk(i))
  const privateKey: PrivateKey = await generateKeyPair('Ed25519')
  const credentials = await fastLaneCredentials(privateKey)
  const host = await createHost({ privateKey, region: 'bench', dht: mode !== 'serve' })
  let getChunk: (itemId: string, index: number, o: { signal: AbortSignal }) => Promise<Uint8Array | null>
  if (mode === 'edge-lane' || mode === 'edge-p2p') {
    const up = JSON.parse(upstream!) as Endpoint
    const parent = { peerId: up.peerId, addrs: up.addrs, role: 'parent' as const, capacityBytes: 0, ...(mode === 'edge-lane' ? { fastLane: up.fastLane } : {}) }
    const transport = createChunkTransport({ host, lanes: mode === 'edge-lane' ? new FastLaneClient({ credentials }) : undefined })
    const filler = new Filler({
      host, store, main: {} as MainClient, selfPeerId: host.peerId.toString(), role: 'edge', transport,
      regionMembers: () => ({ parents: [parent], edges: [] }), signal: new AbortController().signal
    })
    getChunk = async (_id, i, o) => await filler.get(manifest, i, o.signal)
  } else {
    getChunk = async (_id, i) => await store.get(manifest.chunkHashes[i]!)
  }
  const source = { getChunk, have: async () => null }
  await serveChunks(host, { source, authorize: async () => {}, mayAskHave: () => true, log: m => { console.error(`[${mode}] ${m}`) } })
  const lane = await startFastLaneServer({ credentials, host: '127.0.0.1', port: 0, source, authorize: async () => {}, log: m => { console.error(`[${mode}] ${m}`) } })
  const ep: Endpoint = { peerId: host.peerId.toString(), addrs: listenAddrs(host), fastLane: formatFastLaneAddr('127.0.0.1', lane.port) }
  console.log(`READY ${JSON.stringify(ep)}`)
}

// ---- the run -------------------------------------------------------------------------------

/** Worker modes REELNET_BENCH_CPU_PROF may name. */
const PROFILED_MODES = ['serve', 'edge-lane', 'edge-p2p']
const profiled = (process.env.REELNET_BENCH_CPU_PROF ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
for (const m of profiled) if (!PROFILED_MODES.includes(m)) throw new RangeError(`REELNET_BENCH_CPU_PROF: no worker ${m} (have ${PROFILED_MODES.join(', ')})`)

function start (args: string[]): Promise<{ child: ChildProcess, addr: string }> {
  const prof = profiled.includes(args[0]!) ? ['--cpu-prof', `--cpu-prof-dir=${process.env.REELNET_BENCH_CPU_PROF_DIR ?? process.cwd()}`, `--cpu-prof-name=${args[0]}-${Date.now()}.cpuprofile`] : []
  const child = spawn(process.execPath, [...process.execArgv, ...prof, SELF, '--worker', ...args], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /READY (.+)\n/.exec(out)
      if (m !== null) resolve({ child, addr: JSON.parse(m[1]!) as string })
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

/** CPU ms of a process that is not ours to ask (nginx): utime + stime of /proc/PID/stat. */
function procCpu (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * 1000 / USER_HZ
}

/**
 * SIGTERM, and wait: a worker exits on it through process.exit, so `--cpu-prof` can write its profile (a second
 * SIGTERM during that write would kill it before the profile is out).
 */
async function stop (c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return
  const gone = new Promise(resolve => c.once('exit', resolve))
  c.kill('SIGTERM')
  const t = setTimeout(() => c.kill('SIGKILL'), 10_000)
  await gone
  clearTimeout(t)
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

async function viaLibp2p (ep: Endpoint, manifest: Manifest): Promise<number> {
  const host = await createHost({ privateKey: await generateKeyPair('Ed25519'), region: 'bench', dht: false })
  try {
    const t = performance.now()
    let n = 0
    const indexes = Array.from({ length: manifest.chunkCount }, (_, i) => i)
    await fetchChunks(host, { peerId: ep.peerId, addrs: ep.addrs }, { itemId: 'bench', indexes }, {
      signal: AbortSignal.timeout(30 * 60_000),
      onChunk: (i, b) => { verifyChunk(manifest, i, b); n++ }
    })
    if (n !== manifest.chunkCount) throw new Error(`got ${n} chunks`)
    return performance.now() - t
  } finally { await host.stop() }
}

async function viaLane (ep: Endpoint, manifest: Manifest): Promise<number> {
  const client = new FastLaneClient({ credentials: await fastLaneCredentials(await generateKeyPair('Ed25519')) })
  try {
    const t = performance.now()
    let n = 0
    let next = 0
    const signal = AbortSignal.timeout(30 * 60_000)
    await Promise.all(Array.from({ length: LANE_REQUESTS_IN_FLIGHT }, async () => {
      while (next < manifest.chunkCount) {
        const from = next
        next = Math.min(manifest.chunkCount, next + LANE_REQUEST_CHUNKS)
        const indexes = Array.from({ length: next - from }, (_, k) => from + k)
        // verified and dropped, as a customer's engine does after its part file's write: the frame buffer goes back
        await client.fetch({ peerId: ep.peerId, fastLane: ep.fastLane }, { itemId: 'bench', indexes }, {
          signal, onChunk: (i, b) => { verifyChunk(manifest, i, b); n++; client.recycle(b) }
        })
      }
    }))
    if (n !== manifest.chunkCount) throw new Error(`got ${n} chunks`)
    return performance.now() - t
  } finally { client.close() }
}

// ---- nginx over HTTPS ----------------------------------------------------------------------

interface Nginx { proc: ChildProcess, port: number }

async function startNginx (dir: string, mib: number, chunk: (i: number) => Uint8Array): Promise<Nginx | undefined> {
  if (NGINX === undefined) return undefined
  const root = join(dir, 'nginx')
  await mkdir(join(root, 'www'), { recursive: true })
  const f = await open(join(root, 'www', 'item.bin'), 'w')
  for (let i = 0; i < mib; i++) await f.write(chunk(i))
  await f.close()
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(root, 'key.pem'),
    '-out', join(root, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
  // a free port: bind 0, read it, close (nginx cannot report a port it picked)
  const port = await new Promise<number>(resolve => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => { resolve(p) }) }) })
  await writeFile(join(root, 'nginx.conf'), `
master_process off;
worker_processes 1;
pid ${root}/nginx.pid;
error_log ${root}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${root}/body; proxy_temp_path ${root}/proxy; fastcgi_temp_path ${root}/fastcgi; uwsgi_temp_path ${root}/uwsgi; scgi_temp_path ${root}/scgi;
  sendfile on;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${root}/cert.pem;
    ssl_certificate_key ${root}/key.pem;
    ssl_protocols TLSv1.3;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384;
    root ${root}/www;
  }
}
`)
  const proc = spawn(NGINX, ['-p', root, '-c', join(root, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] })
  for (let k = 0; k < 100; k++) {
    const up = await new Promise<boolean>(resolve => { const s = createConnection({ host: '127.0.0.1', port }); s.on('connect', () => { s.destroy(); resolve(true) }); s.on('error', () => { resolve(false) }) })
    if (up) return { proc, port }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  proc.kill('SIGKILL')
  throw new Error('nginx did not start')
}

/** GET the file over HTTPS (TLS 1.3), hashing every byte as it arrives (the client's share of a verified download). */
async function viaNginx (n: Nginx, bytes: number): Promise<{ ms: number, cipher: string }> {
  const t = performance.now()
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: n.port, path: '/item.bin', rejectUnauthorized: false, minVersion: 'TLSv1.3', agent: false }, res => {
      const h = createHash('sha256')
      let got = 0
      res.on('data', (d: Buffer) => { got += d.length; h.update(d) })
      res.on('end', () => {
        h.digest()
        if (got !== bytes) { reject(new Error(`nginx sent ${got} of ${bytes}`)); return }
        resolve({ ms: performance.now() - t, cipher: (res.socket as import('node:tls').TLSSocket).getCipher?.()?.name ?? '?' })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

const rate = (bytes: number, ms: number): number => bytes / MiB / (ms / 1000)

interface Leg { name: string, ms: number, cpu: Record<string, number> }

export async function run (): Promise<void> {
  const mib = Number(process.env.REELNET_BENCH_MIB ?? 1024)
  if (!Number.isInteger(mib) || mib < 16 || mib > 16384) throw new RangeError('REELNET_BENCH_MIB must be 16..16384')
  const bytes = mib * MiB
  const dir = await mkdtemp(join(tmpdir(), 'reelnet-bench-'))
  const { manifest, chunk } = makeItem(mib)
  const children: ChildProcess[] = []
  let nginx: Nginx | undefined
  const legs: Leg[] = []
  const only = process.env.REELNET_BENCH_LEGS?.split(',').map(s => s.trim()).filter(s => s !== '')
  if (only !== undefined) for (const k of only) if (!LEG_KEYS.includes(k)) throw new RangeError(`REELNET_BENCH_LEGS: no leg ${k} (have ${LEG_KEYS.join(', ')})`)
  const wants = (key: string): boolean => only === undefined || only.includes(key)
  /** Run one transfer and take the CPU each named process used during it. */
  async function leg (name: string, procs: Record<string, ChildProcess | number>, fn: () => Promise<number>): Promise<Leg> {
    const cpu = async (): Promise<Record<string, number>> => {
      const out: Record<string, number> = { requester: ownCpu() }
      for (const [k, p] of Object.entries(procs)) out[k] = typeof p === 'number' ? procCpu(p) : await cpuOf(p)
      return out
    }
    const before = await cpu()
    const ms = await fn()
    const after = await cpu()
    const l: Leg = { name, ms, cpu: Object.fromEntries(Object.keys(after).map(k => [k, (after[k]! - before[k]!) / mib])) }
    legs.push(l)
    return l
  }
  try {
    const serve = await start(['serve', dir, String(mib)]); children.push(serve.child)
    const serveEp = serve.addr as unknown as Endpoint
    const tcp = await start(['tcp', dir, String(mib)]); children.push(tcp.child)
    const relay = await start(['relay', dir, String(mib), tcp.addr]); children.push(relay.child)
    nginx = await startNginx(dir, mib, chunk)

    const tcpWarm = wants('tcp') ? await leg('plain TCP one hop', { sender: tcp.child }, async () => await viaTcp(tcp.addr, bytes)) : undefined
    const nginxLeg = nginx === undefined || !wants('nginx')
      ? undefined
      : await leg('nginx HTTPS (TLS 1.3)', { nginx: nginx.proc.pid! }, async () => { const r = await viaNginx(nginx!, bytes); console.log(`  (nginx cipher ${r.cipher})`); return r.ms })
    const warmLane = wants('warm-lane') ? await leg('warm edge → requester, fast lane', { edge: serve.child }, async () => await viaLane(serveEp, manifest)) : undefined
    const warmP2p = wants('warm-p2p') ? await leg('warm edge → requester, libp2p', { edge: serve.child }, async () => await viaLibp2p(serveEp, manifest)) : undefined
    // read again within the store's REHASH_AFTER_MS: what a popular item costs the edge (no re-hash of its chunks)
    if (wants('hot-lane')) await leg('hot (read again) edge → requester, fast lane', { edge: serve.child }, async () => await viaLane(serveEp, manifest))

    let coldLane: Leg | undefined
    if (wants('cold-lane')) {
      const edgeLane = await start(['edge-lane', dir, String(mib), JSON.stringify(serveEp)]); children.push(edgeLane.child)
      coldLane = await leg('cold parent → edge → requester, fast lane', { edge: edgeLane.child, parent: serve.child }, async () => await viaLane(edgeLane.addr as unknown as Endpoint, manifest))
      await stop(edgeLane.child)
    }
    let coldP2p: Leg | undefined
    if (wants('cold-p2p')) {
      const edgeP2p = await start(['edge-p2p', dir, String(mib), JSON.stringify(serveEp)]); children.push(edgeP2p.child)
      coldP2p = await leg('cold parent → edge → requester, libp2p', { edge: edgeP2p.child, parent: serve.child }, async () => await viaLibp2p(edgeP2p.addr as unknown as Endpoint, manifest))
    }
    if (wants('relay')) await leg('plain TCP through a relay', { relay: relay.child, sender: tcp.child }, async () => await viaTcp(relay.addr, bytes))

    console.log(`node-throughput: ${mib} MiB item, 1 MiB chunks, the requester verifies every chunk (the nginx client hashes every byte)`)
    for (const l of legs) {
      const cpu = Object.entries(l.cpu).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')
      console.log(`  ${l.name.padEnd(44)} ${rate(bytes, l.ms).toFixed(0).padStart(6)} MiB/s   CPU ms/MiB: ${cpu}`)
    }
    if (warmP2p !== undefined && coldP2p !== undefined && tcpWarm !== undefined) {
      console.log(`  libp2p for comparison: warm ${rate(bytes, warmP2p.ms).toFixed(0)} MiB/s, cold ${rate(bytes, coldP2p.ms).toFixed(0)} MiB/s, edge ${warmP2p.cpu.edge!.toFixed(2)} ms/MiB, requester ${warmP2p.cpu.requester!.toFixed(2)} ms/MiB; plain TCP ${rate(bytes, tcpWarm.ms).toFixed(0)} MiB/s`)
    }
    if (warmLane !== undefined && coldLane !== undefined) {
      const warm = rate(bytes, warmLane.ms)
      const cold = rate(bytes, coldLane.ms)
      const vsNginx = nginxLeg !== undefined ? `${(warm / rate(bytes, nginxLeg.ms)).toFixed(2)}× nginx-tls` : (NGINX === undefined ? 'no nginx installed' : 'nginx leg not run')
      console.log(`dataplane: warm ${warm.toFixed(0)} MiB/s (${vsNginx}), cold ${cold.toFixed(0)} MiB/s, edge ${warmLane.cpu.edge!.toFixed(2)} ms/MiB, requester ${warmLane.cpu.requester!.toFixed(2)} ms/MiB`)
    }
  } finally {
    await Promise.all(children.map(stop))
    if (nginx !== undefined && nginx.proc.exitCode === null) {
      const gone = new Promise(resolve => nginx!.proc.once('exit', resolve))
      nginx.proc.kill('SIGTERM')
      await gone
    }
    await rm(dir, { recursive: true, force: true })
  }
}

const wi = process.argv.indexOf('--worker')
if (wi >= 0) {
  const [mode, dir, mib, upstream] = process.argv.slice(wi + 1)
  process.on('SIGTERM', () => process.exit(0))
  process.on('message', m => { if (m === 'cpu') { const c = process.cpuUsage(); process.send!(String((c.user + c.system) / 1000)) } })
  await worker(mode!, dir!, Number(mib), upstream)
} else if (process.argv[1] === SELF) {
  await run()
}
