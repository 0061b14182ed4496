/**
 * Running a sweep's grid on every core: each run in a child process of its
 * own (sim/sweep/worker.ts), at most `jobs` at once, each writing its folder
 * (scenario.json, metrics.json, series.csv, manifest.json, report.html).
 * The runs share nothing, so each folder is what running its scenario.json
 * alone writes. They start longest first (by a rough event count from the
 * scenario), so a long run is not the one left running alone at the end
 * while the other cores idle.
 */
import { fork } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Metrics } from '../run.ts'
import type { Scenario } from '../scenario.ts'
import type { SweepRun } from './grid.ts'
import type { WorkerReport } from './worker.ts'

/**
 * The worker's source file: beside this module in the checkout, but found by walking up to the folder that holds
 * sim/sweep/worker.ts, because the test runner runs this code from a one-file bundle in .build/, where
 * `new URL('./worker.ts', import.meta.url)` names a file that is not there.
 */
const WORKER = ((): string => {
  const start = dirname(fileURLToPath(import.meta.url))
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'sim', 'sweep', 'worker.ts')
    if (existsSync(candidate)) return candidate
    if (dirname(dir) === dir) return join(start, 'worker.ts')
  }
})()
/** tsx's loader by absolute URL, so the child finds it whatever the working directory. */
const TSX = import.meta.resolve('tsx')

export interface SweepRunResult {
  run: SweepRun
  dir: string
  metrics: Metrics
  report: WorkerReport
  /** series.csv's columns and rows, for the comparative charts. */
  seriesColumns: string[]
  series: number[][]
}

export interface SweepOptions {
  out: string
  seed: number
  jobs: number
  /** 'longest' (default): start the largest estimated runs first; 'grid': in grid order (for the bench's comparison). */
  order?: 'longest' | 'grid'
  onDone?: (r: SweepRunResult, done: number, total: number) => void
}

/**
 * A rough count of a scenario's events, only to order a sweep's runs (the
 * largest first): chunk arrivals (requests × chunks per item) and churn
 * sessions. A trace workload's requests are not known before reading it,
 * so runs over one trace tie (and keep their grid order).
 */
export function estimatedEvents (s: Scenario): number {
  const clients = s.regions.count * s.regions.clientsPerRegion
  const size = typeof s.catalog.sizeBytes === 'number' ? s.catalog.sizeBytes : (s.catalog.sizeBytes[0] + s.catalog.sizeBytes[1]) / 2
  const chunks = Math.ceil(size / s.chunkSizeBytes)
  const w = s.workload
  let requests = 0
  if (w.type === 'poisson') requests = w.requestsPerHour * s.durationHours + (w.spike === undefined ? 0 : w.spike.requestsPerHour * Math.min(w.spike.decayHours, s.durationHours))
  else if (w.type === 'flash') requests = clients
  const churn = s.churn === undefined ? 0 : clients * s.durationHours * 60 * 2 / (s.churn.meanOnlineMinutes + s.churn.meanOfflineMinutes)
  return requests * chunks + churn
}

/** Indices of runs, largest estimated first (a stable sort: equal estimates keep grid order). */
export function longestFirst (runs: readonly SweepRun[]): number[] {
  const cost = runs.map(r => estimatedEvents(r.scenario))
  return runs.map((_, i) => i).sort((a, b) => cost[b]! - cost[a]! || a - b)
}

function runOne (run: SweepRun, dir: string, seed: number): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const child = fork(WORKER, [join(dir, 'scenario.json'), String(seed), dir], { execArgv: ['--import', TSX], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
    let report: WorkerReport | undefined
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => { if (stderr.length < 4000) stderr += d.toString() })
    child.on('message', m => { report = m as WorkerReport })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (code === 0 && report !== undefined) resolve(report)
      else reject(new Error(`${run.name} failed (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`))
    })
  })
}

export async function runSweep (runs: readonly SweepRun[], opts: SweepOptions): Promise<SweepRunResult[]> {
  const results = new Array<SweepRunResult>(runs.length)
  const order = opts.order === 'grid' ? runs.map((_, i) => i) : longestFirst(runs)
  let next = 0; let done = 0; let failed = false
  const worker = async (): Promise<void> => {
    while (next < runs.length && !failed) {
      const i = order[next++]!
      const run = runs[i]!
      const dir = join(opts.out, run.name)
      mkdirSync(dir, { recursive: true })
      writeFileSync(join(dir, 'scenario.json'), JSON.stringify(run.raw, null, 2) + '\n')
      let report: WorkerReport
      try {
        report = await runOne(run, dir, opts.seed)
      } catch (err) {
        failed = true // start no more runs; those under way finish
        throw err
      }
      const metrics = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as Metrics
      const [head, ...rows] = readFileSync(join(dir, 'series.csv'), 'utf8').trimEnd().split('\n')
      const r: SweepRunResult = { run, dir, metrics, report, seriesColumns: head!.split(','), series: rows.map(l => l.split(',').map(Number)) }
      results[i] = r
      opts.onDone?.(r, ++done, runs.length)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.jobs, runs.length)) }, worker))
  return results
}
