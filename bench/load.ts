/**
 * A bounded load test (not CI): many concurrent customer clients download
 * through 4 edges (plus one parent) on 127.0.0.1. Main and the nodes are
 * `reelnet` processes (test/e2e/client-net.ts); the clients are the real
 * download engine (node/client/customer.ts), 25 per worker process, each
 * looping "download an item, compare it byte for byte with what was
 * ingested, start over" until the time is up (or, with
 * REELNET_LOAD_DOWNLOADS=N, until it has made N attempts).
 *
 * Every item is prepositioned to every edge first, so both phases measure
 * serving, not the edges' first fills. Then, in the same run:
 * 1. one customer alone for REELNET_LOAD_SINGLE_SECONDS: the baseline of an
 *    edge's CPU per MiB;
 * 2. every client at once for REELNET_LOAD_SECONDS.
 *
 * Prints, per phase: completed downloads, aggregate MiB/s of verified
 * bytes, corrupt bytes (must be 0), client failures, CPU per MiB for the
 * edges (per MiB they served) and for the client workers (per MiB they
 * verified), peak RSS, crashed processes; at the end one `load:` line.
 * A client that neither completed a download nor failed with an error in
 * the run is counted as starved.
 *
 * Tunable for slow or shared machines: REELNET_LOAD_CLIENTS (100),
 * REELNET_LOAD_SECONDS (60), REELNET_LOAD_SINGLE_SECONDS (15; 0 skips the
 * baseline), REELNET_LOAD_DOWNLOADS (0: loop until the time is up),
 * REELNET_LOAD_SIZE (16MiB per item), REELNET_LOAD_ITEMS (4),
 * REELNET_LOAD_WORKERS (clients / 25, at least 1), REELNET_LOAD_ACCOUNTS (5), REELNET_LOAD_SHARE (1: keep a
 * client's libp2p host and fast-lane connections across its downloads, customer.ts ClientShare; default off);
 * REELNET_LOAD_TRACE=1 prints every client's scheduler events but chunks.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Network, nodeStatus, OPERATOR_TOKEN, type NodeInfo } from '../test/e2e/client-net.ts'
import { bytesFlag } from '../cli/command.ts'

const MIB = 1024 * 1024
const CLIENTS = Number(process.env.REELNET_LOAD_CLIENTS ?? 100)
const SECONDS = Number(process.env.REELNET_LOAD_SECONDS ?? 60)
const SINGLE_SECONDS = Number(process.env.REELNET_LOAD_SINGLE_SECONDS ?? 15)
const DOWNLOADS = Number(process.env.REELNET_LOAD_DOWNLOADS ?? 0)
/**
 * REELNET_LOAD_SHARE=1: a client keeps its libp2p host and fast-lane connections for its next download
 * (customer.ts ClientShare, one per worker process). Off by default, so each download pays what `reelnet get`
 * pays: measured back to back in one lock slot (2026-12-02 00:00-00:04, others working) it made no difference
 * beyond the noise (53.7 MiB/s without, 49.9 with; edges 7.6 and 7.8 ms/MiB; workers 21.9 and 21.1).
 */
const SHARE = process.env.REELNET_LOAD_SHARE === '1'
/** Clients listen (libp2p and their seeding fast lane) on loopback only: the bench's traffic stays on 127.0.0.1. */
const LOOPBACK_LISTEN = ['/ip4/127.0.0.1/tcp/0']
const SIZE = bytesFlag('REELNET_LOAD_SIZE', process.env.REELNET_LOAD_SIZE, 16 * MIB)
const ITEMS = Number(process.env.REELNET_LOAD_ITEMS ?? 4)
/** Clients per worker process by default: 25, as the bench has always run them. */
const CLIENTS_PER_WORKER = 25
const WORKERS = Number(process.env.REELNET_LOAD_WORKERS ?? Math.max(1, Math.ceil(CLIENTS / CLIENTS_PER_WORKER)))
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
/** Workers start their clients together this long after they are spawned: their own start-up (tsx, imports) is not measured. */
const WORKER_START_MS = 6_000
/** The issue's reference: verified MiB/s of this bench with 100 clients, measured 2026-11-27. */
const REFERENCE_MIB_S = 27.4
/** Linux reports process CPU in clock ticks of 1/USER_HZ s; USER_HZ is 100 on every Linux build these machines run. */
const CLOCK_TICKS_PER_S = 100

interface ClientPlan { name: string, token: string, itemId: string, licenseId: string, licenseExpiresAt: number, keyDir: string, outPath: string, itemFile: string }
interface WorkerPlan { mainUrl: string, mainKey: string, region: string, startAt: number, deadline: number, downloads: number, share: boolean, clients: ClientPlan[] }
/** What became of one client in the run: downloads completed, failed (with the first errors), or one still going at the end. */
interface ClientOutcome { completed: number, failures: number, unfinishedBytes: number }
interface WorkerReport {
  completed: number
  verifiedBytes: number
  corruptBytes: number
  failures: number
  errors: string[]
  maxRssBytes: number
  phases: Phases
  /** CPU (user + system) this worker spent from its clients' start to their stop, ms. */
  cpuMs: number
  /** When its clients were stopped (ms since the epoch). */
  endedAt: number
  clients: ClientOutcome[]
  /** Of completed downloads: bytes received but not used (endgame duplicates, bad chunks), and verified bytes by source kind. */
  wastedBytes: number
  byKind: Record<string, number>
}
/** Milliseconds of each completed download spent in Customer.start (manifest, directive, hosts), download, and stop. */
interface Phases { start: number[], download: number[], stop: number[] }

// ---- worker: up to 25 clients in one process -----------------------------------------

async function worker (planFile: string): Promise<void> {
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as WorkerPlan
  const { Customer, ClientShare } = await import('../node/client/customer.ts')
  const share = plan.share ? new ClientShare() : undefined
  const { fromBase64url } = await import('../protocol/encoding.ts')
  const mainKey = fromBase64url(plan.mainKey)
  const report: WorkerReport = { completed: 0, verifiedBytes: 0, corruptBytes: 0, failures: 0, errors: [], maxRssBytes: 0, phases: { start: [], download: [], stop: [] }, cpuMs: 0, endedAt: 0, clients: [], wastedBytes: 0, byKind: {} }
  const expected = new Map<string, Buffer>()
  for (const c of plan.clients) if (!expected.has(c.itemFile)) expected.set(c.itemFile, readFileSync(c.itemFile))
  await new Promise(resolve => setTimeout(resolve, Math.max(0, plan.startAt - Date.now())))
  const stop = new AbortController()
  setTimeout(() => { stop.abort(new Error('time is up')) }, Math.max(0, plan.deadline - Date.now())).unref()
  const cpu0 = process.cpuUsage()

  await Promise.all(plan.clients.map(async (c) => {
    const outcome: ClientOutcome = { completed: 0, failures: 0, unfinishedBytes: 0 }
    report.clients.push(outcome)
    for (let attempt = 0; !stop.signal.aborted && (plan.downloads === 0 || attempt < plan.downloads); attempt++) {
      let customer: Awaited<ReturnType<typeof Customer.start>> | undefined
      let got = 0
      try {
        const t0 = performance.now()
        customer = await Customer.start({
          mainUrl: plan.mainUrl, token: c.token, mainKey, itemId: c.itemId, licenseId: c.licenseId, licenseExpiresAt: c.licenseExpiresAt,
          outPath: c.outPath, keyDir: c.keyDir, region: plan.region, signal: stop.signal, share, listen: LOOPBACK_LISTEN,
          onEvent: e => {
            if (e.type === 'chunk') { report.verifiedBytes += e.bytes; got += e.bytes } else if (TRACE) console.error(`[${c.name}] ${JSON.stringify(e)}`)
          },
          log: TRACE ? line => { console.error(`[${c.name}] ${line}`) } : undefined
        })
        const t1 = performance.now()
        if (TRACE) console.error(`[${c.name}] started in ${(t1 - t0).toFixed(0)} ms`)
        const stats = await customer.download()
        const t2 = performance.now()
        report.wastedBytes += stats.wastedBytes
        for (const [k, b] of Object.entries(stats.byKind)) report.byKind[k] = (report.byKind[k] ?? 0) + b
        await customer.stop()
        customer = undefined
        report.phases.start.push(t1 - t0)
        report.phases.download.push(t2 - t1)
        report.phases.stop.push(performance.now() - t2)
        const bytes = await readFile(c.outPath)
        const want = expected.get(c.itemFile)!
        // a memcmp first: a byte loop over every 16 MiB output cost the worker ~80 ms of CPU per download
        if (!bytes.equals(want)) {
          let corrupt = Math.abs(bytes.length - want.length)
          for (let i = 0; i < Math.min(bytes.length, want.length); i++) if (bytes[i] !== want[i]) corrupt++
          report.corruptBytes += corrupt
        }
        report.completed++
        outcome.completed++
        await rm(c.outPath, { force: true })
      } catch (err) {
        if (!stop.signal.aborted) {
          report.failures++
          outcome.failures++
          if (report.errors.length < 5) report.errors.push(`${c.name}: ${(err as Error).name}: ${(err as Error).message}`)
          await new Promise(resolve => setTimeout(resolve, 500))
        } else {
          outcome.unfinishedBytes = got
        }
      } finally {
        await customer?.stop().catch(() => {})
        // a fresh start next round: not a resume of this one
        await rm(`${c.outPath}.part`, { force: true })
        await rm(`${c.outPath}.part.journal`, { force: true })
      }
    }
  }))
  await share?.close()
  const cpu = process.cpuUsage(cpu0)
  report.cpuMs = (cpu.user + cpu.system) / 1000
  report.endedAt = Date.now()
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

/** CPU seconds (user + system) a live child has used so far, from /proc/PID/stat; NaN if it is gone. */
function cpuSeconds (pid: number | undefined): number {
  if (pid === undefined) return NaN
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // the command name (field 2) may hold spaces: count fields after its closing parenthesis
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S
  } catch { return NaN }
}

/** Bytes a node has served so far, to anyone (its /status). */
async function servedBytes (n: NodeInfo): Promise<number> {
  const s = await nodeStatus(n) as { served: Record<string, number> }
  return Object.values(s.served).reduce((a, b) => a + b, 0)
}

interface PhaseResult {
  clients: number
  seconds: number
  reports: WorkerReport[]
  /** CPU seconds of each node and main in the phase, and the bytes each node served. */
  nodeCpu: Map<string, number>
  nodeServed: Map<string, number>
  completed: number
  verified: number
  corrupt: number
  failures: number
  starved: number
  edgeMsPerMiB: number
  workerMsPerMiB: number
  verifiedMiBs: number
}

async function runPhase (net: Network, dir: string, label: string, clients: ClientPlan[], workers: number, seconds: number, downloads: number): Promise<PhaseResult> {
  const startAt = Date.now() + WORKER_START_MS
  const deadline = startAt + seconds * 1000
  const procs = [{ name: 'main', pid: net.main.child.pid, node: undefined as NodeInfo | undefined }, ...net.nodes.map(n => ({ name: nodeName(n), pid: n.proc.child.pid, node: n as NodeInfo | undefined }))]
  const cpu0 = new Map<string, number>()
  const served0 = new Map<string, number>()
  const baseline = new Promise<void>(resolve => setTimeout(() => {
    for (const p of procs) cpu0.set(p.name, cpuSeconds(p.pid))
    void Promise.all(procs.map(async p => { if (p.node !== undefined) served0.set(p.name, await servedBytes(p.node)) })).then(() => { resolve() }, () => { resolve() })
  }, Math.max(0, startAt - Date.now())))
  const reports: WorkerReport[] = []
  const self = fileURLToPath(import.meta.url)
  const children: Array<ReturnType<typeof spawn>> = []
  try {
    await Promise.all(Array.from({ length: workers }, async (_, w) => {
      const plan: WorkerPlan = { mainUrl: net.mainUrl, mainKey: net.mainKeyText, region: REGION, startAt, deadline, downloads, share: SHARE, clients: clients.filter((_, i) => i % workers === w) }
      const planFile = join(dir, `${label}-worker-${w}.json`)
      writeFileSync(planFile, JSON.stringify(plan))
      const child = spawn(process.execPath, ['--import', 'tsx', self, '--worker', planFile], { stdio: ['ignore', 'pipe', 'inherit'] })
      children.push(child)
      let out = ''
      child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
      const killer = setTimeout(() => { child.kill('SIGKILL') }, deadline - Date.now() + STOP_GRACE_MS)
      await new Promise<void>(resolve => child.on('exit', () => { resolve() }))
      clearTimeout(killer)
      const line = out.split('\n').find(l => l.startsWith('{"type":"report"'))
      if (line === undefined) {
        reports.push({ completed: 0, verifiedBytes: 0, corruptBytes: 0, failures: 1, errors: [`${label} worker ${w} gave no report (crashed or killed)`], maxRssBytes: 0, phases: { start: [], download: [], stop: [] }, cpuMs: NaN, endedAt: Date.now(), clients: plan.clients.map(() => ({ completed: 0, failures: 0, unfinishedBytes: 0 })), wastedBytes: 0, byKind: {} })
      } else reports.push(JSON.parse(line) as WorkerReport)
    }))
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  }
  await baseline
  const nodeCpu = new Map<string, number>()
  const nodeServed = new Map<string, number>()
  for (const p of procs) {
    nodeCpu.set(p.name, cpuSeconds(p.pid) - (cpu0.get(p.name) ?? NaN))
    if (p.node !== undefined) nodeServed.set(p.name, (await servedBytes(p.node).catch(() => NaN)) - (served0.get(p.name) ?? NaN))
  }
  const elapsed = (Math.max(...reports.map(r => r.endedAt)) - startAt) / 1000
  const edges = net.nodesOf(REGION, 'edge').map(nodeName)
  const edgeCpu = edges.reduce((s, e) => s + (nodeCpu.get(e) ?? NaN), 0)
  const edgeServed = edges.reduce((s, e) => s + (nodeServed.get(e) ?? NaN), 0)
  const verified = reports.reduce((n, r) => n + r.verifiedBytes, 0)
  const workerCpuMs = reports.reduce((n, r) => n + r.cpuMs, 0)
  const outcomes = reports.flatMap(r => r.clients)
  return {
    clients: clients.length,
    seconds: elapsed,
    reports,
    nodeCpu,
    nodeServed,
    completed: reports.reduce((n, r) => n + r.completed, 0),
    verified,
    corrupt: reports.reduce((n, r) => n + r.corruptBytes, 0),
    failures: reports.reduce((n, r) => n + r.failures, 0),
    starved: outcomes.filter(o => o.completed === 0 && o.failures === 0).length,
    edgeMsPerMiB: edgeCpu * 1000 / (edgeServed / MIB),
    workerMsPerMiB: workerCpuMs / (verified / MIB),
    verifiedMiBs: verified / MIB / elapsed
  }
}

function nodeName (n: NodeInfo): string { return `${n.role} ${n.peerId.slice(-6)}` }

function printPhase (title: string, r: PhaseResult, net: Network): void {
  console.log(`-- ${title}: ${r.clients} client${r.clients === 1 ? '' : 's'} in ${r.reports.length} process${r.reports.length === 1 ? '' : 'es'} for ${r.seconds.toFixed(0)} s`)
  console.log(`${r.completed} completed downloads (${(r.completed * SIZE / MIB).toFixed(0)} MiB), every one compared byte for byte`)
  console.log(`aggregate: ${r.verifiedMiBs.toFixed(1)} MiB/s of verified chunks (completed downloads alone: ${(r.completed * SIZE / MIB / r.seconds).toFixed(1)} MiB/s)`)
  const errors = r.reports.flatMap(w => w.errors).slice(0, 3)
  console.log(`corrupt bytes in outputs: ${r.corrupt}; client failures: ${r.failures}${errors.length > 0 ? ` (${errors.join(' | ')})` : ''}`)
  const outcomes = r.reports.flatMap(w => w.clients)
  const unfinished = outcomes.filter(o => o.completed === 0 && o.failures === 0)
  const least = outcomes.length === 0 ? 0 : Math.min(...outcomes.map(o => o.completed))
  console.log(`clients: fewest completed downloads by one client ${least}; starved (no download completed, no error) ${r.starved}${unfinished.length > 0 ? ` (they had ${unfinished.map(o => (o.unfinishedBytes / MIB).toFixed(0)).join(', ')} MiB of a download when stopped)` : ''}`)
  const median = (xs: number[]): string => xs.length === 0 ? '-' : `${(([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number) / 1000).toFixed(1)} s`
  const all = (k: keyof Phases): number[] => r.reports.flatMap(w => w.phases[k])
  console.log(`median per completed download: start ${median(all('start'))} (manifest, directive, hosts), download ${median(all('download'))}, stop ${median(all('stop'))}`)
  const served = (name: string): string => { const b = r.nodeServed.get(name); return b === undefined ? '' : `, served ${(b / MIB).toFixed(0)} MiB` }
  const byKind: Record<string, number> = {}
  for (const w of r.reports) for (const [k, b] of Object.entries(w.byKind)) byKind[k] = (byKind[k] ?? 0) + b
  const wasted = r.reports.reduce((n, w) => n + w.wastedBytes, 0)
  console.log(`completed downloads' bytes by source: ${Object.entries(byKind).filter(([, b]) => b > 0).map(([k, b]) => `${k} ${(b / MIB).toFixed(0)} MiB`).join(', ')}; received but unused (endgame duplicates) ${(wasted / MIB).toFixed(0)} MiB`)
  console.log(`CPU per MiB: edges ${r.edgeMsPerMiB.toFixed(1)} ms per MiB they served; client workers ${r.workerMsPerMiB.toFixed(1)} ms per MiB they verified`)
  console.log('CPU in the phase:')
  for (const [name, s] of r.nodeCpu) console.log(`  ${name.padEnd(14)} ${s.toFixed(1)} s${served(name)}`)
  r.reports.forEach((w, i) => { console.log(`  worker ${i} (${w.clients.length} clients) ${(w.cpuMs / 1000).toFixed(1)} s, verified ${(w.verifiedBytes / MIB).toFixed(0)} MiB`) })
  void net
}

export async function run (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'reelnet-bench-load-'))
  const net = new Network({ dir, regions: [{ name: REGION, parents: 1, edges: EDGES }], heartbeatMs: 1000 })
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
    // every edge holds every item before anyone downloads: the phases measure delivery, not ingest or first fills
    await net.api('PUT', `/v1/regions/${REGION}/preposition`, { itemIds }, OPERATOR_TOKEN)
    for (const n of net.nodesOf(REGION)) {
      for (let t = 0; ; t++) {
        try {
          const s = await nodeStatus(n) as { heldItems: string[] }
          if (itemIds.every(id => s.heldItems.includes(id))) break
        } catch { /* not up yet */ }
        if (t > 600) throw new Error(`${nodeName(n)} did not hold every item within 2 min`)
        await new Promise(resolve => setTimeout(resolve, 200))
      }
    }
    const accounts: Array<{ token: string }> = []
    for (let a = 0; a < ACCOUNTS; a++) {
      const username = `load${a}`
      const password = `pw-${username}-0123456789`
      await net.api('POST', '/v1/accounts', { username, password, region: REGION })
      accounts.push(await net.api('POST', '/v1/sessions', { username, password }) as { token: string })
    }
    const plan = async (name: string, i: number): Promise<ClientPlan> => {
      const acct = accounts[i % ACCOUNTS]!
      const k = i % ITEMS
      const rental = await net.api('POST', '/v1/rentals', { itemId: itemIds[k] }, acct.token) as { licenseId: string, expiresAt: number }
      const cdir = join(dir, name)
      mkdirSync(cdir, { recursive: true })
      return { name, token: acct.token, itemId: itemIds[k]!, licenseId: rental.licenseId, licenseExpiresAt: rental.expiresAt, keyDir: cdir, outPath: join(cdir, 'item.bin'), itemFile: itemFiles[k]! }
    }
    const clients: ClientPlan[] = []
    for (let i = 0; i < CLIENTS; i++) clients.push(await plan(`client-${i}`, i))
    console.log(`setup: main, 1 parent, ${EDGES} edges (every item prepositioned), ${ITEMS} items of ${(SIZE / MIB).toFixed(0)} MiB, ${CLIENTS} clients on ${ACCOUNTS} accounts in ${WORKERS} processes${DOWNLOADS > 0 ? `, at most ${DOWNLOADS} download${DOWNLOADS === 1 ? '' : 's'} each` : ''}, libp2p host and fast-lane connections ${SHARE ? 'kept across a client\'s downloads' : 'made per download'} (${((performance.now() - t0) / 1000).toFixed(0)} s)`)

    let single: PhaseResult | undefined
    if (SINGLE_SECONDS > 0) {
      single = await runPhase(net, dir, 'single', [await plan('single', 0)], 1, SINGLE_SECONDS, 0)
      printPhase('one customer alone', single, net)
    }
    const load = await runPhase(net, dir, 'load', clients, WORKERS, SECONDS, DOWNLOADS)
    printPhase(`${CLIENTS} clients`, load, net)

    const procs = [{ name: 'main', proc: net.main }, ...net.nodes.map(n => ({ name: nodeName(n), proc: n.proc }))]
    const crashed = procs.filter(p => p.proc.child.exitCode !== null || p.proc.child.signalCode !== null).map(p => p.name)
    const lostWorkers = load.reports.filter(r => r.errors.some(e => e.includes('gave no report'))).length + (single?.reports.filter(r => r.errors.some(e => e.includes('gave no report'))).length ?? 0)
    console.log(`crashed processes: ${crashed.length === 0 && lostWorkers === 0 ? 'none' : [...crashed, ...(lostWorkers > 0 ? [`${lostWorkers} client workers`] : [])].join(', ')}`)
    console.log('peak RSS:')
    for (const p of procs) console.log(`  ${p.name.padEnd(14)} ${((await peakRss(p.proc.child.pid)) / MIB).toFixed(0)} MiB`)
    load.reports.forEach((r, w) => { console.log(`  worker ${w} (${r.clients.length} clients) ${(r.maxRssBytes / MIB).toFixed(0)} MiB`) })
    const ratio = single === undefined ? '' : ` (${(load.edgeMsPerMiB / single.edgeMsPerMiB).toFixed(2)}× one customer's ${single.edgeMsPerMiB.toFixed(1)})`
    console.log(`load: ${CLIENTS} clients ${load.verifiedMiBs.toFixed(1)} MiB/s verified (${(load.verifiedMiBs / REFERENCE_MIB_S).toFixed(2)}× ${REFERENCE_MIB_S}), ${load.completed} downloads, edge ${load.edgeMsPerMiB.toFixed(1)} ms/MiB${ratio}, client workers ${load.workerMsPerMiB.toFixed(1)} ms/MiB, ${load.corrupt + (single?.corrupt ?? 0)} corrupt bytes, ${load.failures} failures, ${load.starved} starved, crashed ${crashed.length + lostWorkers}`)
    if (load.corrupt > 0 || (single?.corrupt ?? 0) > 0 || crashed.length > 0 || lostWorkers > 0) process.exitCode = 1
  } finally {
    await net.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[2] === '--worker') {
  await worker(process.argv[3]!)
} else if (import.meta.url === `file://${process.argv[1]}`) {
  await run()
}
