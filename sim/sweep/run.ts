/**
 * Running a sweep's grid on every core: each run in a child process of its
 * own (sim/sweep/worker.ts), at most `jobs` at once, each writing its folder
 * (scenario.json, metrics.json, series.csv, manifest.json, report.html).
 * The runs share nothing, so each folder is what running its scenario.json
 * alone writes.
 */
import { fork } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Metrics } from '../run.ts'
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
  onDone?: (r: SweepRunResult, done: number, total: number) => void
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
  let next = 0; let done = 0; let failed = false
  const worker = async (): Promise<void> => {
    while (next < runs.length && !failed) {
      const i = next++
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
