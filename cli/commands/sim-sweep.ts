/**
 * `reelnet sim sweep SCENARIO.json --vary FIELD=A,B,... --out DIR [--jobs N]`:
 * the grid of every combination of the varied values, run in parallel (one
 * child process per run, `--jobs` at once), one folder per run and a
 * comparative sweep.csv and report.html. See `reelnet sim --help`.
 */
import { availableParallelism } from 'node:os'
import { writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { withAbsoluteTrace } from '../../sim/trace/workload.ts'
import { CommandError, intFlag, parseFlags, UsageError } from '../command.ts'
import { parseVary, SweepError, sweepGrid, type SweepRun, type Vary } from '../../sim/sweep/grid.ts'
import { runSweep } from '../../sim/sweep/run.ts'
import { sweepCsv, sweepHtml } from '../../sim/sweep/report.ts'
import { ensureWritable, readScenarioFile } from './sim.ts'

/** More runs at once than this only queue for the same cores and memory. */
const MAX_JOBS = 64

export async function runSweepCommand (argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    vary: { type: 'string', multiple: true },
    out: { type: 'string', short: 'o' },
    jobs: { type: 'string', short: 'j' },
    seed: { type: 'string', short: 's' },
    quiet: { type: 'boolean', short: 'q' }
  }, true)
  if (positionals.length !== 1) throw new UsageError('give exactly one scenario file: reelnet sim sweep SCENARIO.json --vary FIELD=A,B (see reelnet sim --help)')
  if (values.out === undefined) throw new UsageError('--out DIR is required (see reelnet sim --help)')
  if (values.vary === undefined || values.vary.length === 0) throw new UsageError('give at least one --vary FIELD=A,B,... (see reelnet sim --help)')
  const file = positionals[0]!
  const read = readScenarioFile(file)
  const scenario = read.scenario
  // each run's scenario.json lives in its own folder: a trace path relative to the scenario file must survive the move
  const raw = withAbsoluteTrace(read.raw, dirname(resolve(file)))
  const seed = intFlag('seed', values.seed, scenario.seed, 0, 2 ** 32 - 1)
  const jobs = intFlag('jobs', values.jobs, Math.min(availableParallelism(), MAX_JOBS), 1, MAX_JOBS)
  let varies: Vary[]
  let runs: SweepRun[]
  try {
    varies = values.vary.map(parseVary)
    runs = sweepGrid(raw, varies)
  } catch (err) {
    if (err instanceof SweepError) throw new UsageError(err.message)
    throw err
  }
  const out = ensureWritable(values.out, values.out)
  const quiet = values.quiet === true
  if (!quiet) console.log(`${scenario.name}: ${runs.length} runs, ${Math.min(jobs, runs.length)} at once`)
  const started = performance.now()
  let results
  try {
    results = await runSweep(runs, {
      out,
      seed,
      jobs,
      onDone: (r, done, total) => {
        if (!quiet) console.log(`  [${done}/${total}] ${r.run.name} ${r.run.point.map(([k, v]) => `${k}=${v}`).join(' ')}: edge hit ${(r.metrics.edge.hitRatioByRequests * 100).toFixed(1)}%, peer offload ${(r.metrics.peerOffload * 100).toFixed(1)}%, download p50 ${r.metrics.downloadSeconds.p50.toFixed(1)} s (${r.report.wallSeconds.toFixed(1)} s)`)
      }
    })
  } catch (err) {
    throw new CommandError((err as Error).message)
  }
  const wall = (performance.now() - started) / 1000
  const serial = results.reduce((a, r) => a + r.report.wallSeconds, 0)
  try {
    writeFileSync(join(out, 'sweep.csv'), sweepCsv(varies, results))
    writeFileSync(join(out, 'report.html'), sweepHtml(scenario.name, varies, results, wall, Math.min(jobs, runs.length)))
  } catch (err) {
    throw new CommandError(`cannot write results to ${values.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  console.log(`${runs.length} runs in ${wall.toFixed(1)} s wall (the runs took ${serial.toFixed(1)} s together: ${(serial / wall).toFixed(2)}× on ${Math.min(jobs, runs.length)} at once); wrote sweep.csv, report.html and ${runs[0]!.name}..${runs[runs.length - 1]!.name} to ${values.out}`)
  return 0
}
