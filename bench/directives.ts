/**
 * Directives issued per second over HTTP against a local main (its own
 * process) holding 1,000 licenses, measured with autocannon: every request
 * presents another license with its owner's session and another client
 * PeerId, so no answer is a cached copy. Goal: ≥ 5,000/s with p99 ≤ 10 ms on
 * two cores (autocannon shares them).
 *
 * Each run measures at `connections` (default 32: throughput, where latency
 * is mostly queueing), then again at `fewConnections` (default 8: latency
 * nearer the cost of one request), against the same main.
 *
 *   node_modules/.bin/node --import tsx bench/directives.ts [seconds] [connections] [fewConnections]
 */
import { pathToFileURL } from 'node:url'
import { createRequire } from 'node:module'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startMainProcess } from './main-process.ts'
import { createSigner, peerIdOf } from '../protocol/keys.ts'
import { verifyDirective } from '../protocol/documents.ts'
import { fromText } from '../protocol/signing.ts'
import { fromBase64url } from '../protocol/encoding.ts'

const ADMIN = 'bench-admin-token-0123456789'
const OPERATOR = 'bench-operator-token-0123456789'
const LICENSES = 1000
/** Accounts sharing the licenses: each costs a real scrypt hash to create and log in. */
const ACCOUNTS = 4
const EDGES = 8
const PARENTS = 2

interface AutocannonResult {
  requests: { average: number, total: number }
  latency: { p50: number, p90: number, p99: number, max: number }
  non2xx: number
  errors: number
  duration: number
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

async function call<T> (url: string, method: string, path: string, json: unknown, token?: string): Promise<T> {
  const res = await fetch(url + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: json === undefined ? undefined : JSON.stringify(json)
  })
  const body = await res.json() as T
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(body)}`)
  return body
}

/** Ed25519 signs per second in this process right now: the machines are shared, so figures are read against this (FACTS.md: ~47,700/s idle). */
/** FACTS.md: node:crypto ed25519 signs per second on these machines when idle. */
const IDLE_SIGNS_PER_S = 47_700

function calibrate (): number {
  const signer = createSigner(new Uint8Array(32).fill(7))
  const msg = new Uint8Array(1500)
  const start = performance.now()
  let n = 0
  while (performance.now() - start < 500) { for (let i = 0; i < 50; i++) signer.sign(msg); n += 50 }
  return n / ((performance.now() - start) / 1000)
}

export async function run (seconds = 10, connections = 32, fewConnections = 8): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'reelnet-bench-directives-'))
  const main = await startMainProcess(join(dir, 'main'), ['--admin-token', ADMIN, '--operator-token', OPERATOR, '--heartbeat-timeout-ms', String(3600_000)])
  try {
    const url = main.url
    // one item, a region with edges and parents
    const item = await fetch(`${url}/v1/items?title=bench&chunkSize=65536`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: new Uint8Array(randomBytes(1_000_000)) })
    const { itemId } = await item.json() as { itemId: string }
    for (let i = 0; i < EDGES + PARENTS; i++) {
      const peerId = peerIdOf(createSigner(new Uint8Array(randomBytes(32))).publicKey)
      await call(url, 'POST', '/v1/nodes', { peerId, role: i < EDGES ? 'edge' : 'parent', region: 'eu', addrs: [`/ip4/127.0.0.1/tcp/${5000 + i}`], capacityBytes: 1e12 }, OPERATOR)
    }
    const tokens: string[] = []
    for (let a = 0; a < ACCOUNTS; a++) {
      const username = `bench${a}`
      await call(url, 'POST', '/v1/accounts', { username, password: 'bench-password', region: 'eu' })
      tokens.push((await call<{ token: string }>(url, 'POST', '/v1/sessions', { username, password: 'bench-password' })).token)
    }
    const requests: Array<{ token: string, body: string }> = []
    for (let i = 0; i < LICENSES; i++) {
      const token = tokens[i % ACCOUNTS]!
      const { licenseId } = await call<{ licenseId: string }>(url, 'POST', '/v1/rentals', { itemId }, token)
      const clientPeerId = peerIdOf(createSigner(new Uint8Array(randomBytes(32))).publicKey)
      requests.push({ token, body: JSON.stringify({ licenseId, clientPeerId }) })
    }

    // a sample answer verifies
    const sample = JSON.parse(requests[0]!.body) as { licenseId: string, clientPeerId: string }
    const { keys } = await call<{ keys: Array<{ publicKey: string }> }>(url, 'GET', '/v1/keys', undefined)
    const d = await call<{ directive: string }>(url, 'POST', '/v1/directives', sample, requests[0]!.token)
    const directive = verifyDirective(fromText(d.directive), { publicKey: fromBase64url(keys[0]!.publicKey), now: Date.now(), clientPeerId: sample.clientPeerId })
    if (directive.peers.length !== EDGES + PARENTS) throw new Error(`expected ${EDGES + PARENTS} peers, got ${directive.peers.length}`)

    let next = 0
    const setup = (req: { headers: Record<string, string>, body?: string }): typeof req => {
      const r = requests[next++ % requests.length]!
      req.headers = { 'content-type': 'application/json', authorization: `Bearer ${r.token}` }
      req.body = r.body
      return req
    }
    // warm-up, then the measured runs: at `connections` (throughput; latency there is mostly queueing), then at `fewConnections`
    await autocannon({ url: `${url}/v1/directives`, connections, duration: 2, requests: [{ method: 'POST', setupRequest: setup }] })
    console.log(`directives over HTTP, ${LICENSES} licenses, ${seconds} s per run (autocannon in the same 2 cores):`)
    let cpuPerRequestUs = 0
    for (const n of connections === fewConnections ? [connections] : [connections, fewConnections]) {
      const cpuBefore = await main.cpuSeconds()
      const result = await autocannon({ url: `${url}/v1/directives`, connections: n, duration: seconds, requests: [{ method: 'POST', setupRequest: setup }] })
      const us = (await main.cpuSeconds() - cpuBefore) / Math.max(1, result.requests.total) * 1e6
      if (n === connections) cpuPerRequestUs = us
      console.log(`  ${String(n).padStart(3)} connections: ${Math.round(result.requests.average)} directives/s (${result.requests.total} total, non-2xx ${result.non2xx}, errors ${result.errors}); latency p50 ${result.latency.p50} ms, p90 ${result.latency.p90} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms; main CPU ${us.toFixed(0)} µs per directive`)
    }
    const peak = await main.peakRssBytes()
    console.log(`  main CPU per directive at ${connections} connections: ${cpuPerRequestUs.toFixed(0)} µs (so one core of main sustains ~${Math.round(1e6 / cpuPerRequestUs)}/s at this machine's current speed)`)
    console.log(`  goal: >= 5000/s with p99 <= 10 ms; main peak RSS ${(peak / 1e6).toFixed(0)} MB`)
    const signsPerS = calibrate()
    const signEquivalents = cpuPerRequestUs / (1e6 / signsPerS)
    console.log(`  calibration: node:crypto ed25519 signs ${Math.round(signsPerS)}/s in this run (idle machine: ~47,700/s); load average ${(await import('node:os')).loadavg().map(x => x.toFixed(1)).join(' ')}`)
    console.log(`  main's CPU per directive = ${signEquivalents.toFixed(1)} ed25519 signs; at the idle rate that is ~${Math.round(IDLE_SIGNS_PER_S / signEquivalents)} directives/s per core of main`)
  } finally {
    await main.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run(Number(process.argv[2] ?? 10), Number(process.argv[3] ?? 32), Number(process.argv[4] ?? 8))
}
