/**
 * A bounded load test (not CI): 100 concurrent customer clients download
 * through 4 edges (plus one parent) on 127.0.0.1 for 60 s. Main and the
 * nodes are `reelnet` processes (test/e2e/client-net.ts); the clients are
 * the real download engine (node/client/customer.ts), 25 per worker
 * process, each looping "download an item, compare it byte for byte with
 * what was ingested, start over" until the time is up.
 *
 * Prints: completed downloads, aggregate MiB/s of verified bytes, corrupt
 * bytes (must be 0), client failures, peak RSS of every process, and
 * whether any process crashed.
 *
 * Tunable for slow or shared machines: REELNET_LOAD_CLIENTS (100),
 * REELNET_LOAD_SECONDS (60), REELNET_LOAD_SIZE (16MiB per item),
 * REELNET_LOAD_ITEMS (4), REELNET_LOAD_WORKERS (4), REELNET_LOAD_ACCOUNTS (5);
 * REELNET_LOAD_TRACE=1 prints every client's scheduler events but chunks.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Network, nodeStatus } from '../test/e2e/client-net.ts'
import { bytesFlag } from '../cli/command.ts'

const MIB = 1024 * 1024
const CLIENTS = Number(process.env.REELNET_LOAD_CLIENTS ?? 100)
const SECONDS = Number(process.env.REELNET_LOAD_SECONDS ?? 60)
const SIZE = bytesFlag('REELNET_LOAD_SIZE', process.env.REELNET_LOAD_SIZE, 16 * MIB)
const ITEMS = Number(process.env.REELNET_LOAD_ITEMS ?? 4)
const WORKERS = Number(process.env.REELNET_LOAD_WORKERS ?? 4)
const EDGES = 4
/** REELNET_LOAD_TRACE=1: every client's scheduler events other than chunks, on stderr. */
const TRACE = process.env.REELNET_LOAD_TRACE === '1'
const REGION = 'load'
/**
 * Clients share accounts (each client still has its own license and key): a sign-up and a log-in cost a full
 * scrypt hash each (2.5 s here), and main allows 20 sign-ups per address per hour. REELNET_LOAD_ACCOUNTS (5).
 */
const ACCOUNTS = Math.min(20, CLIENTS, Number(process.env.REELNET_LOAD_ACCOUNTS ?? 5))
/** After the deadline, a worker gets this long to stop its clients and report before it is killed. */
const STOP_GRACE_MS = 30_000

interface ClientPlan { name: string, token: string, itemId: string, licenseId: string, licenseExpiresAt: number, keyDir: string, outPath: string, itemFile: string }
interface WorkerPlan { mainUrl: string, mainKey: string, region: string, deadline: number, clients: ClientPlan[] }
interface WorkerReport { completed: number, verifiedBytes: number, corruptBytes: number, failures: number, errors: string[], maxRssBytes: number, phases: Phases }
/** Milliseconds of each completed download spent in Customer.start (manifest, directive, libp2p host), download, and stop. */
interface Phases { start: number[], download: number[], stop: number[] }

// ---- worker: 25 clients in one process ------------------------------------------------

async function worker (planFile: string): Promise<void> {
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as WorkerPlan
  const { Customer } = await import('../node/client/customer.ts')
  const { fromBase64url } = await import('../protocol/encoding.ts')
  const mainKey = fromBase64url(plan.mainKey)
  const report: WorkerReport = { completed: 0, verifiedBytes: 0, corruptBytes: 0, failures: 0, errors: [], maxRssBytes: 0, phases: { start: [], download: [], stop: [] } }
  const stop = new AbortController()
  setTimeout(() => { stop.abort(new Error('time is up')) }, Math.max(0, plan.deadline - Date.now())).unref()
  const expected = new Map<string, Buffer>()
  for (const c of plan.clients) if (!expected.has(c.itemFile)) expected.set(c.itemFile, readFileSync(c.itemFile))

  await Promise.all(plan.clients.map(async (c) => {
    while (!stop.signal.aborted) {
      let customer: Awaited<ReturnType<typeof Customer.start>> | undefined
      try {
        const t0 = performance.now()
        customer = await Customer.start({
          mainUrl: plan.mainUrl, token: c.token, mainKey, itemId: c.itemId, licenseId: c.licenseId, licenseExpiresAt: c.licenseExpiresAt,
          outPath: c.outPath, keyDir: c.keyDir, region: plan.region, signal: stop.signal,
          onEvent: e => {
            if (e.type === 'chunk') report.verifiedBytes += e.bytes
            else if (TRACE) console.error(`[${c.name}] ${JSON.stringify(e)}`)
          },
          log: TRACE ? line => { console.error(`[${c.name}] ${line}`) } : undefined
        })
        const t1 = performance.now()
        if (TRACE) console.error(`[${c.name}] started in ${(t1 - t0).toFixed(0)} ms`)
        await customer.download()
        const t2 = performance.now()
        await customer.stop()
        customer = undefined
        report.phases.start.push(t1 - t0)
        report.phases.download.push(t2 - t1)
        report.phases.stop.push(performance.now() - t2)
        const got = await readFile(c.outPath)
        const want = expected.get(c.itemFile)!
        let corrupt = Math.abs(got.length - want.length)
        for (let i = 0; i < Math.min(got.length, want.length); i++) if (got[i] !== want[i]) corrupt++
        report.corruptBytes += corrupt
        report.completed++
        await rm(c.outPath, { force: true })
      } catch (err) {
        if (!stop.signal.aborted) {
          report.failures++
          if (report.errors.length < 5) report.errors.push(`${c.name}: ${(err as Error).name}: ${(err as Error).message}`)
          await new Promise(resolve => setTimeout(resolve, 500))
        }
      } finally {
        await customer?.stop().catch(() => {})
        // a fresh start next round: not a resume of this one
        await rm(`${c.outPath}.part`, { force: true })
        await rm(`${c.outPath}.part.journal`, { force: true })
      }
    }
  }))
  report.maxRssBytes = process.resourceUsage().maxRSS * 1024
  process.stdout.write(JSON.stringify({ type: 'report', ...report }) + '\n')
  process.exit(0)
}

// ---- coordinator ----------------------------------------------------------------------

async function peakRss (pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0
  try {
    const s = await readFile(`/proc/${pid}/status`, 'utf8')
    return Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0) * 1024
  } catch { return 0 }
}

export async function run (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'reelnet-bench-load-'))
  const net = new Network({ dir, regions: [{ name: REGION, parents: 1, edges: EDGES }], heartbeatMs: 1000 })
  const workers: Array<ReturnType<typeof spawn>> = []
  try {
    const t0 = performance.now()
    await net.start()
    const itemIds: string[] = []
    const itemFiles: string[] = []
    for (let k = 0; k < ITEMS; k++) {
      const bytes = randomBytes(SIZE)
      const file = join(dir, `item-${k}.bin`)
      writeFileSync(file, bytes)
      itemFiles.push(file)
      itemIds.push(await net.ingest(bytes, `load-${k}.bin`))
    }
    // wait for the parent to hold every item, so the run measures delivery, not ingest
    const parent = net.nodesOf(REGION, 'parent')[0]!
    for (let t = 0; t < 600; t++) {
      try {
        const s = await nodeStatus(parent) as { heldItems: string[] }
        if (itemIds.every(id => s.heldItems.includes(id))) break
      } catch { /* not up yet */ }
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    const accounts: Array<{ token: string }> = []
    for (let a = 0; a < ACCOUNTS; a++) {
      const username = `load${a}`
      const password = `pw-${username}-0123456789`
      await net.api('POST', '/v1/accounts', { username, password, region: REGION })
      accounts.push(await net.api('POST', '/v1/sessions', { username, password }) as { token: string })
    }
    const clients: ClientPlan[] = []
    for (let i = 0; i < CLIENTS; i++) {
      const acct = accounts[i % ACCOUNTS]!
      const k = i % ITEMS
      const rental = await net.api('POST', '/v1/rentals', { itemId: itemIds[k] }, acct.token) as { licenseId: string, expiresAt: number }
      const cdir = join(dir, `client-${i}`)
      mkdirSync(cdir, { recursive: true })
      clients.push({ name: `client-${i}`, token: acct.token, itemId: itemIds[k]!, licenseId: rental.licenseId, licenseExpiresAt: rental.expiresAt, keyDir: cdir, outPath: join(cdir, 'item.bin'), itemFile: itemFiles[k]! })
    }
    console.log(`setup: main, 1 parent, ${EDGES} edges, ${ITEMS} items of ${(SIZE / MIB).toFixed(0)} MiB, ${CLIENTS} clients on ${ACCOUNTS} accounts in ${WORKERS} processes (${((performance.now() - t0) / 1000).toFixed(0)} s)`)

    const deadline = Date.now() + SECONDS * 1000 + 5_000 // the workers' own start-up is not measured
    const started = Date.now() + 5_000
    const reports: WorkerReport[] = []
    const self = fileURLToPath(import.meta.url)
    await Promise.all(Array.from({ length: WORKERS }, async (_, w) => {
      const plan: WorkerPlan = { mainUrl: net.mainUrl, mainKey: net.mainKeyText, region: REGION, deadline, clients: clients.filter((_, i) => i % WORKERS === w) }
      const planFile = join(dir, `worker-${w}.json`)
      writeFileSync(planFile, JSON.stringify(plan))
      const child = spawn(process.execPath, ['--import', 'tsx', self, '--worker', planFile], { stdio: ['ignore', 'pipe', 'inherit'] })
      workers.push(child)
      let out = ''
      child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
      const killer = setTimeout(() => { child.kill('SIGKILL') }, deadline - Date.now() + STOP_GRACE_MS)
      await new Promise<void>(resolve => child.on('exit', () => { resolve() }))
      clearTimeout(killer)
      const line = out.split('\n').find(l => l.startsWith('{"type":"report"'))
      if (line === undefined) reports.push({ completed: 0, verifiedBytes: 0, corruptBytes: 0, failures: 1, errors: [`worker ${w} gave no report (crashed or killed)`], maxRssBytes: 0, phases: { start: [], download: [], stop: [] } })
      else reports.push(JSON.parse(line) as WorkerReport)
    }))
    const elapsed = (Date.now() - started) / 1000

    const procs = [{ name: 'main', proc: net.main }, ...net.nodes.map(n => ({ name: `${n.role} ${n.peerId.slice(-6)}`, proc: n.proc }))]
    const crashed = procs.filter(p => p.proc.child.exitCode !== null || p.proc.child.signalCode !== null).map(p => p.name)
    const completed = reports.reduce((n, r) => n + r.completed, 0)
    const verified = reports.reduce((n, r) => n + r.verifiedBytes, 0)
    const corrupt = reports.reduce((n, r) => n + r.corruptBytes, 0)
    const failures = reports.reduce((n, r) => n + r.failures, 0)
    console.log(`${CLIENTS} clients for ${elapsed.toFixed(0)} s: ${completed} completed downloads (${(completed * SIZE / MIB).toFixed(0)} MiB), every one compared byte for byte`)
    console.log(`aggregate: ${(verified / MIB / elapsed).toFixed(1)} MiB/s of verified chunks (completed downloads alone: ${(completed * SIZE / MIB / elapsed).toFixed(1)} MiB/s)`)
    console.log(`corrupt bytes in outputs: ${corrupt}; client failures: ${failures}${failures > 0 ? ` (${reports.flatMap(r => r.errors).slice(0, 3).join(' | ')})` : ''}`)
    const median = (xs: number[]): string => xs.length === 0 ? '-' : `${(([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number) / 1000).toFixed(1)} s`
    const all = (k: keyof Phases): number[] => reports.flatMap(r => r.phases[k])
    console.log(`median per completed download: start ${median(all('start'))} (manifest, directive, libp2p host), download ${median(all('download'))}, stop ${median(all('stop'))}`)
    console.log(`crashed processes: ${crashed.length === 0 ? 'none' : crashed.join(', ')}`)
    console.log('peak RSS:')
    for (const p of procs) console.log(`  ${p.name.padEnd(14)} ${((await peakRss(p.proc.child.pid)) / MIB).toFixed(0)} MiB`)
    reports.forEach((r, w) => { console.log(`  worker ${w} (${CLIENTS / WORKERS} clients) ${(r.maxRssBytes / MIB).toFixed(0)} MiB`) })
    if (corrupt > 0 || crashed.length > 0) process.exitCode = 1
  } finally {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL')
    await net.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[2] === '--worker') {
  await worker(process.argv[3]!)
} else if (import.meta.url === `file://${process.argv[1]}`) {
  await run()
}
