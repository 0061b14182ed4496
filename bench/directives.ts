/**
 * Directives issued per second over HTTP, in one run, against three set-ups
 * of main (each its own process or processes) holding 1,000 licenses:
 *
 *   level      one main on its embedded level database (the default)
 *   pg         one main on PostgreSQL (a throwaway server with fsync on)
 *   pg×2+nginx two mains on that PostgreSQL behind nginx (the load goes to nginx)
 *
 * measured with autocannon: every request presents another license with its
 * owner's session and another client PeerId, so no answer is a cached copy.
 * Reported per set-up: directives/s, p50/p99 latency, and directives per
 * CPU-second of the main processes (and of PostgreSQL and nginx, apart).
 * Goals: ≥ 5,000/s with p99 ≤ 10 ms at 8 connections; PostgreSQL within 2× of
 * level per main CPU-second. autocannon, nginx and PostgreSQL share the same
 * 2 cores, so per-CPU-second figures are the ones to compare.
 *
 * Each set-up is measured at `connections` (default 32: throughput, where
 * latency is mostly queueing), then at `fewConnections` (default 8), each for
 * `seconds`; the whole run is bounded by BENCH_DEADLINE_MS. A set-up that
 * needs PostgreSQL or nginx where they are not installed is skipped with one
 * line. A device that holds its slot costs no store round trip (main/devices.ts),
 * so after the first pass over the licences nearly every directive here is
 * issued on a remembered slot; the claim that does reach the store (a new
 * device, a renewal) is measured apart, on each store alone, in this process.
 * The last line is a one-line summary.
 *
 *   node_modules/.bin/node --import tsx bench/directives.ts [seconds] [connections] [fewConnections]
 */
import { pathToFileURL } from 'node:url'
import { createRequire } from 'node:module'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir, loadavg } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startMainProcess, treeCpuSeconds, type MainProcess } from './main-process.ts'
import { openLevelStore } from '../main/storage/level.ts'
import { openPostgresStore } from '../main/storage/postgres.ts'
import type { MainStore } from '../main/storage/types.ts'
import { startPostgres, freshDatabase, type Postgres } from '../test/postgres.ts'
import { NGINX, startNginx, type Nginx } from '../test/nginx.ts'
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
/** Rentals made at once while setting up (each is a signed licence and a durable write). */
const RENTAL_CONCURRENCY = 16
/** A main sees nodes registered through another within SHARED_SYNC_MS (1 s); a loaded machine is given far longer. */
const SYNC_WAIT_MS = 30_000
/** The whole bench stops (and fails) past this, whatever the arguments: bounded in time. */
const BENCH_DEADLINE_MS = 15 * 60_000
/** Device claims measured per kind (new devices, renewals) on each store, CLAIM_CONCURRENCY at once. */
const CLAIMS = 4000
const CLAIM_CONCURRENCY = 8
/** Devices a licence admits in the claims measurement: high enough that every new device is let in. */
const CLAIM_MAX_DEVICES = 64
/** nginx keeps this many idle connections to each main: more than the benchmark's connections, so none is re-opened per request. */
const NGINX_KEEPALIVE = 64

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
    body: json === undefined ? undefined : JSON.stringify(json),
    signal: AbortSignal.timeout(60_000)
  })
  const body = await res.json() as T
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(body)}`)
  return body
}

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

/** One way of running main: where the load goes, its mains, and the other processes whose CPU is counted apart. */
interface Setup {
  name: string
  loadUrl: string
  mains: MainProcess[]
  others: Array<{ label: string, cpuSeconds: () => Promise<number> }>
}

interface RunFigures { connections: number, rate: number, total: number, non2xx: number, errors: number, p50: number, p99: number, max: number, perMainCpuS: number, mainUsPer: number, other: Record<string, number> }

interface Request { token: string, body: string }

/** One item, a region of edges and parents, accounts and LICENSES rentals, made through `url`. */
async function seed (url: string): Promise<Request[]> {
  const item = await fetch(`${url}/v1/items?title=bench&chunkSize=65536`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: new Uint8Array(randomBytes(1_000_000)) })
  if (!item.ok) throw new Error(`ingest: ${item.status} ${await item.text()}`)
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
  const requests: Request[] = []
  for (let i = 0; i < LICENSES; i += RENTAL_CONCURRENCY) {
    const batch = Array.from({ length: Math.min(RENTAL_CONCURRENCY, LICENSES - i) }, async (_, j) => {
      const token = tokens[(i + j) % ACCOUNTS]!
      const { licenseId } = await call<{ licenseId: string }>(url, 'POST', '/v1/rentals', { itemId }, token)
      const clientPeerId = peerIdOf(createSigner(new Uint8Array(randomBytes(32))).publicKey)
      return { token, body: JSON.stringify({ licenseId, clientPeerId }) }
    })
    requests.push(...await Promise.all(batch))
  }
  return requests
}

/** Each main answers a sample directive that verifies and lists every node (waiting for mains that learn of them by sync). */
async function checkSample (mains: MainProcess[], requests: Request[]): Promise<void> {
  const sample = JSON.parse(requests[0]!.body) as { licenseId: string, clientPeerId: string }
  for (const m of mains) {
    const { keys } = await call<{ keys: Array<{ publicKey: string }> }>(m.url, 'GET', '/v1/keys', undefined)
    const end = Date.now() + SYNC_WAIT_MS
    for (;;) {
      const d = await call<{ directive: string }>(m.url, 'POST', '/v1/directives', sample, requests[0]!.token)
      const directive = verifyDirective(fromText(d.directive), { publicKey: fromBase64url(keys[0]!.publicKey), now: Date.now(), clientPeerId: sample.clientPeerId })
      if (directive.peers.length === EDGES + PARENTS) break
      if (Date.now() > end) throw new Error(`${m.url}: expected ${EDGES + PARENTS} peers, got ${directive.peers.length}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
}

async function measure (setup: Setup, requests: Request[], seconds: number, counts: number[]): Promise<RunFigures[]> {
  let next = 0
  const setupRequest = (req: { headers: Record<string, string>, body?: string }): typeof req => {
    const r = requests[next++ % requests.length]!
    req.headers = { 'content-type': 'application/json', authorization: `Bearer ${r.token}` }
    req.body = r.body
    return req
  }
  const url = `${setup.loadUrl}/v1/directives`
  const mainCpu = async (): Promise<number> => (await Promise.all(setup.mains.map(async m => await m.cpuSeconds()))).reduce((a, b) => a + b, 0)
  // warm-up (JIT, caches of sessions and licences on every main)
  await autocannon({ url, connections: counts[0], duration: 2, requests: [{ method: 'POST', setupRequest }] })
  const out: RunFigures[] = []
  for (const n of counts) {
    const mainBefore = await mainCpu()
    const otherBefore = await Promise.all(setup.others.map(async o => await o.cpuSeconds()))
    const r = await autocannon({ url, connections: n, duration: seconds, requests: [{ method: 'POST', setupRequest }] })
    const mainUsed = await mainCpu() - mainBefore
    const otherAfter = await Promise.all(setup.others.map(async o => await o.cpuSeconds()))
    const ok = Math.max(1, r.requests.total - r.non2xx)
    const other: Record<string, number> = {}
    setup.others.forEach((o, i) => { other[o.label] = (otherAfter[i]! - otherBefore[i]!) / ok * 1e6 })
    out.push({
      connections: n, rate: r.requests.average, total: r.requests.total, non2xx: r.non2xx, errors: r.errors,
      p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max,
      perMainCpuS: ok / Math.max(0.01, mainUsed), mainUsPer: mainUsed / ok * 1e6, other
    })
    const f = out.at(-1)!
    const others = Object.entries(f.other).map(([k, v]) => `, ${k} ${v.toFixed(0)} µs`).join('')
    console.log(`  ${setup.name.padEnd(10)} ${String(n).padStart(3)} conns: ${Math.round(f.rate)} directives/s (${f.total} total, non-2xx ${f.non2xx}, errors ${f.errors}); p50 ${f.p50} ms, p99 ${f.p99} ms, max ${f.max} ms; ${Math.round(f.perMainCpuS)} per main CPU-second (main ${f.mainUsPer.toFixed(0)} µs per directive${others})`)
  }
  return out
}

async function level (dir: string): Promise<{ setup: Setup, stop: () => Promise<void> }> {
  const main = await startMainProcess(join(dir, 'level'), ['--admin-token', ADMIN, '--operator-token', OPERATOR, '--heartbeat-timeout-ms', String(3600_000)])
  return { setup: { name: 'level', loadUrl: main.url, mains: [main], others: [] }, stop: async () => { await main.stop() } }
}

async function postgres (dir: string, pg: Postgres, mains: number, nginxDir?: string): Promise<{ setup: Setup, stop: () => Promise<void> }> {
  const db = await freshDatabase(pg, `bench_${mains}`)
  const started: MainProcess[] = []
  let nginx: Nginx | undefined
  const stop = async (): Promise<void> => {
    await nginx?.stop()
    for (const m of started) await m.stop()
  }
  try {
    // one data folder: the mains share the signing key and the origin's chunks (README, "Running main on PostgreSQL")
    for (let i = 0; i < mains; i++) started.push(await startMainProcess(join(dir, `pg${mains}`), ['--db', db, '--admin-token', ADMIN, '--operator-token', OPERATOR, '--heartbeat-timeout-ms', String(3600_000)]))
    const pgPid = await pg.pid()
    const others: Setup['others'] = [{ label: 'PostgreSQL', cpuSeconds: async () => await treeCpuSeconds(pgPid) }]
    let loadUrl = started[0]!.url
    if (nginxDir !== undefined) {
      nginx = await startNginx(nginxDir, started.map(m => Number(new URL(m.url).port)), NGINX_KEEPALIVE)
      const nginxPid = nginx.child.pid!
      others.push({ label: 'nginx', cpuSeconds: async () => await treeCpuSeconds(nginxPid) })
      loadUrl = nginx.url
    }
    return { setup: { name: mains === 1 ? 'pg' : `pg×${mains}+nginx`, loadUrl, mains: started, others }, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

interface ClaimFigures { kind: string, rate: number, callerUs: number, pgUs?: number }

/**
 * The device claim a directive makes when its device holds no slot this main remembers (main/devices.ts): the
 * store's own cost, in this process, over LICENSES licences with CLAIMS / LICENSES devices each: new devices, then
 * their renewals.
 */
async function claims (store: MainStore, pgCpu?: () => Promise<number>): Promise<ClaimFigures[]> {
  const T = Date.now()
  const out: ClaimFigures[] = []
  for (const [kind, client] of [['new device', (i: number) => `n-${i}`], ['renewal', (i: number) => `n-${i}`]] as const) {
    const pg0 = await pgCpu?.()
    const c0 = process.cpuUsage()
    const start = performance.now()
    let next = 0
    await Promise.all(Array.from({ length: CLAIM_CONCURRENCY }, async () => {
      for (let i = next++; i < CLAIMS; i = next++) {
        const r = await store.claimDevice(`bench-lic-${i % LICENSES}`, client(i), T + 600_000 + (kind === 'renewal' ? 1 : 0), CLAIM_MAX_DEVICES, T)
        if (!r.ok) throw new Error(`claim ${kind} ${i} refused`)
      }
    }))
    const wallS = (performance.now() - start) / 1000
    const c = process.cpuUsage(c0)
    const f: ClaimFigures = { kind, rate: CLAIMS / wallS, callerUs: (c.user + c.system) / CLAIMS }
    if (pgCpu !== undefined && pg0 !== undefined) f.pgUs = (await pgCpu() - pg0) * 1e6 / CLAIMS
    out.push(f)
  }
  return out
}

export async function run (seconds = 10, connections = 32, fewConnections = 8): Promise<void> {
  const deadline = setTimeout(() => { console.error(`bench/directives: over ${BENCH_DEADLINE_MS / 60_000} min, stopped`); process.exit(1) }, BENCH_DEADLINE_MS)
  deadline.unref()
  const dir = await mkdtemp(join(tmpdir(), 'reelnet-bench-directives-'))
  const counts = connections === fewConnections ? [connections] : [connections, fewConnections]
  const results = new Map<string, RunFigures[]>()
  const skipped: string[] = []
  const claimResults = new Map<string, ClaimFigures[]>()
  console.log(`directives over HTTP, ${LICENSES} licenses, ${EDGES + PARENTS} nodes, ${seconds} s per run; autocannon, nginx and PostgreSQL share the same 2 cores; load average ${loadavg().map(x => x.toFixed(1)).join(' ')}`)
  let pg: Postgres | undefined
  try {
    const server = await startPostgres({ durable: true })
    if (typeof server === 'string') skipped.push(`SKIP pg, pg×2+nginx: ${server}`)
    else pg = server
    const setups: Array<() => Promise<{ setup: Setup, stop: () => Promise<void> }>> = [async () => await level(dir)]
    if (pg !== undefined) {
      const p = pg
      setups.push(async () => await postgres(dir, p, 1))
      if (NGINX === undefined) skipped.push('SKIP pg×2+nginx: nginx is not installed (.ci/run installs Debian\'s nginx)')
      else setups.push(async () => await postgres(dir, p, 2, join(dir, 'nginx')))
    }
    for (const s of skipped) console.log(s)
    for (const make of setups) {
      const { setup, stop } = await make()
      try {
        const requests = await seed(setup.loadUrl)
        await checkSample(setup.mains, requests)
        results.set(setup.name, await measure(setup, requests, seconds, counts))
        const peak = Math.max(...await Promise.all(setup.mains.map(async m => await m.peakRssBytes())))
        console.log(`  ${setup.name.padEnd(10)} main peak RSS ${(peak / 1e6).toFixed(0)} MB`)
      } finally {
        await stop()
      }
    }
    // the claim a directive makes when no remembered slot covers it, on each store alone
    const lv = await openLevelStore(join(dir, 'claims-level'))
    try { claimResults.set('level', await claims(lv)) } finally { await lv.close() }
    if (pg !== undefined) {
      const p = pg
      const store = await openPostgresStore(await freshDatabase(p, 'bench_claims'))
      const pgPid = await p.pid()
      try { claimResults.set('pg', await claims(store, async () => await treeCpuSeconds(pgPid))) } finally { await store.close() }
    }
    for (const [name, figs] of claimResults) {
      for (const f of figs) console.log(`  claims     ${name.padEnd(5)} ${f.kind.padEnd(10)}: ${Math.round(f.rate)}/s, ${CLAIM_CONCURRENCY} at once; ${f.callerUs.toFixed(0)} µs of main's CPU per claim${f.pgUs !== undefined ? `, PostgreSQL ${f.pgUs.toFixed(0)} µs` : ''}`)
    }
  } finally {
    await pg?.stop()
    await rm(dir, { recursive: true, force: true })
  }
  const signsPerS = calibrate()
  const lv = results.get('level')?.[0]
  if (lv !== undefined) {
    const signEquivalents = lv.mainUsPer / (1e6 / signsPerS)
    console.log(`  calibration: node:crypto ed25519 signs ${Math.round(signsPerS)}/s in this run (idle machine: ~47,700/s); level main's CPU per directive = ${signEquivalents.toFixed(1)} signs, ~${Math.round(IDLE_SIGNS_PER_S / signEquivalents)} directives/s per core at the idle rate`)
  }
  const pgOne = results.get('pg')?.[0]
  const ratio = lv !== undefined && pgOne !== undefined ? pgOne.perMainCpuS / lv.perMainCpuS : undefined
  if (ratio !== undefined) console.log(`  goal: PostgreSQL within 2× of level per main CPU-second: pg/level = ${ratio.toFixed(2)} (${ratio >= 0.5 ? 'met' : 'not met'})`)
  const few = counts.at(-1)!
  const parts = [...results].map(([name, runs]) => {
    const a = runs[0]!
    const b = runs.at(-1)!
    return `${name} ${Math.round(a.rate)}/s ${Math.round(a.perMainCpuS)}/main-CPU-s p99 ${a.p99} ms@${a.connections}, ${b.p99} ms@${b.connections}`
  })
  const claimPart = [...claimResults].map(([name, figs]) => `${name} ${figs.map(f => `${f.callerUs.toFixed(0)}${f.pgUs !== undefined ? `+${f.pgUs.toFixed(0)}` : ''}`).join('/')} µs`).join(', ')
  console.log(`summary directives: ${parts.join(' | ')}${ratio !== undefined ? ` | pg/level per main CPU-s ${ratio.toFixed(2)}` : ''}${claimPart !== '' ? ` | claim new/renew ${claimPart}` : ''} | goal p99 <= 10 ms @${few}${skipped.length > 0 ? ` | ${skipped.length} skipped` : ''} | load ${loadavg()[0]!.toFixed(1)}`)
}

/** A whole number argument within bounds, or exit with a clear line. */
function arg (i: number, name: string, fallback: number, max: number): number {
  const text = process.argv[i]
  if (text === undefined) return fallback
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > max) {
    console.error(`bench/directives: ${name} must be a whole number from 1 to ${max}, not ${JSON.stringify(text)}`)
    process.exit(2)
  }
  return n
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run(arg(2, 'seconds', 10, 120), arg(3, 'connections', 32, 512), arg(4, 'fewConnections', 8, 512))
}
