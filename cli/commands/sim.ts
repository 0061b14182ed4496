/**
 * `reelnet sim SCENARIO.json --out DIR [--seed N]`: run a discrete-event
 * simulation of a whole deployment and write metrics.json, series.csv,
 * manifest.json and report.html into DIR. A progress bar on stderr shows
 * simulated time, events per second and the time left (only on a terminal).
 * `reelnet sim cache` (sim-cache.ts) replays a trace through the eviction
 * policies; `reelnet sim sweep` (sim-sweep.ts) runs a grid of scenarios.
 */
import { readFileSync, mkdirSync, writeFileSync, rmSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import cliProgress from 'cli-progress'
import { CommandError, intFlag, parseFlags, UsageError, type Command } from '../command.ts'
import { parseScenarioText, MAX_SCENARIO_BYTES, type Scenario } from '../../sim/scenario.ts'
import { runScenario } from '../../sim/run.ts'
import { writeOutputs } from '../../sim/output.ts'
import { SimulationError } from '../../sim/model/simulation.ts'
import { TraceError, type TraceReader } from '../../sim/trace/read.ts'
import { traceOf } from '../../sim/trace/workload.ts'

const usage = `usage: reelnet sim SCENARIO.json --out DIR [--seed N]
       reelnet sim cache TRACE [--policy lru,sieve,s3fifo] [--size 0.1%,1%,10%] [--out DIR]
       reelnet sim sweep SCENARIO.json --vary FIELD=A,B,... [--vary ...] --out DIR [--jobs N]

reelnet sim SCENARIO.json: simulate a whole reelnet deployment (regions of
parents, edges and clients) driven by a scenario file, running the same
policies the real nodes run (eviction, peer ranking, prepositioning from
protocol/). Writes into DIR:
  metrics.json   totals: edge hit ratio, peer offload, bytes from parents and
                 origin, download-time and startup-delay distributions
                 (the same bytes for the same scenario and seed)
  series.csv     the time series, one row per sample interval
  manifest.json  scenario hash, seed, version, wall time
  report.html    a self-contained report with charts
The scenario format is documented in sim/README.md; examples are in
sim/scenarios/ (small.json, release-day.json, million.json).

  -o, --out DIR   output folder (created if missing; required)
  -s, --seed N    random seed (default: the scenario's seed)
  -q, --quiet     no progress bar

reelnet sim cache TRACE: replay a request trace, streamed, through the
eviction code the edges run, one cache per (policy, size), and print the
miss ratio and byte miss ratio of each. TRACE is libCacheSim's
oracleGeneral binary (24-byte records), libCacheSim's CSV, or a plain CSV
time,item,size[,region][,client] (a header line optional).

  -p, --policy LIST      lru, sieve, s3fifo, comma-separated (default: all three)
  -z, --size LIST        cache sizes, comma-separated: bytes (409600, 64MiB,
                         2GB) or percentages of the trace's working set (the
                         bytes of its distinct objects): default 0.1%,1%,10%
  -f, --format F         oracle, libcsv or csv (default: oracle for names
                         containing oracleGeneral or ending .bin, csv for .csv)
  -t, --trace-params P   libcsv columns, libCacheSim's syntax:
                         time-col=N,obj-id-col=N,obj-size-col=N,delimiter=C,has-header=BOOL
                         (columns from 1; without it a header line names them)
  -o, --out DIR          also write mrc.csv and mrc.html (miss-ratio curves) there
  -q, --quiet            no progress line

reelnet sim sweep SCENARIO.json: run the scenario once per point of the
grid of --vary values (every combination), in parallel, and write one
folder per run (the same four files as a single run, plus its scenario.json,
byte-identical to running that scenario alone) and a comparative
sweep.csv and report.html into DIR.

  --vary FIELD=A,B,...   a scenario field by its dotted path (edge.eviction,
                         edge.capacityBytes, catalog.zipfAlpha, ...) and its
                         values: JSON (1e9, true, "x", [5,30]) or a bare word;
                         sizes like 4GiB for fields ending in Bytes. Repeatable.
  -o, --out DIR          output folder (required)
  -j, --jobs N           runs at once (default: the number of cores)
  -s, --seed N           random seed for every run (default: the scenario's)

  -h, --help   show this help`

function fmtTime (s: number): string {
  const h = Math.floor(s / 3600); const m = Math.floor(s / 60) % 60; const sec = Math.floor(s % 60)
  return `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`
}

/** Read and validate a scenario file: its parsed JSON (for sweeps to vary) and the validated scenario. */
export function readScenarioFile (file: string): { raw: unknown, scenario: Scenario } {
  let text: string
  try {
    const st = statSync(file)
    if (st.size > MAX_SCENARIO_BYTES) throw new CommandError(`${file} is larger than ${MAX_SCENARIO_BYTES} bytes; a scenario is settings, not data`)
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if (err instanceof CommandError) throw err
    throw new CommandError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  try {
    const scenario = parseScenarioText(text)
    return { raw: JSON.parse(text) as unknown, scenario }
  } catch (err) {
    throw new CommandError(`${file}: ${(err as Error).message}`)
  }
}

/** Find out now, not after an hour of simulation, that the folder is unusable. */
export function ensureWritable (dir: string, shown: string): string {
  const out = resolve(dir)
  try {
    mkdirSync(out, { recursive: true })
    const probe = join(out, `.reelnet-sim-probe-${process.pid}`)
    writeFileSync(probe, '')
    rmSync(probe)
  } catch (err) {
    throw new CommandError(`cannot write to ${shown}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  return out
}

async function runOne (argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    out: { type: 'string', short: 'o' },
    seed: { type: 'string', short: 's' },
    quiet: { type: 'boolean', short: 'q' }
  }, true)
  if (positionals.length !== 1) throw new UsageError('give exactly one scenario file (see reelnet sim --help)')
  if (values.out === undefined) throw new UsageError('--out DIR is required (see reelnet sim --help)')
  const file = positionals[0]!
  const { scenario } = readScenarioFile(file)
  const seed = intFlag('seed', values.seed, scenario.seed, 0, 2 ** 32 - 1)
  const out = ensureWritable(values.out, values.out)

  const end = scenario.durationHours * 3600
  const showBar = values.quiet !== true && process.stderr.isTTY === true
  const bar = showBar
    ? new cliProgress.SingleBar({
      stream: process.stderr,
      format: 'sim [{bar}] {percentage}% | {simtime} of {simend} simulated | {rate} events/s | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 20,
      fps: 5
    }, cliProgress.Presets.shades_classic)
    : null
  const started = performance.now()
  bar?.start(end, 0, { simtime: fmtTime(0), simend: fmtTime(end), rate: '0' })
  let result
  let trace: TraceReader | undefined
  try {
    trace = traceOf(scenario, dirname(resolve(file)))
    result = runScenario(scenario, seed, {
      requests: trace,
      onProgress: (t, events) => {
        if (bar === null) return
        const wall = (performance.now() - started) / 1000
        bar.update(Math.min(t, end), { simtime: fmtTime(t), simend: fmtTime(end), rate: wall > 0 ? Math.round(events / wall).toLocaleString('en') : '0' })
      }
    })
  } catch (err) {
    if (err instanceof TraceError || err instanceof SimulationError) throw new CommandError(`${file}: ${err.message}`)
    throw err
  } finally {
    trace?.close()
    bar?.stop()
  }
  const wall = (performance.now() - started) / 1000
  let manifest
  try {
    manifest = writeOutputs(out, scenario, seed, result, wall)
  } catch (err) {
    throw new CommandError(`cannot write results to ${values.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  const m = result.metrics
  console.log(`${scenario.name}: ${m.events.toLocaleString('en')} events in ${wall.toFixed(1)} s (${manifest.run.eventsPerSecond.toLocaleString('en')} events/s, peak RSS ${manifest.run.peakRssMiB} MiB)`)
  console.log(`edge hit ratio ${(m.edge.hitRatioByRequests * 100).toFixed(1)}% of requests, ${(m.edge.hitRatioByBytes * 100).toFixed(1)}% of bytes; peer offload ${(m.peerOffload * 100).toFixed(1)}%; download p50 ${m.downloadSeconds.p50.toFixed(1)} s`)
  console.log(`wrote ${manifest.files.join(', ')} to ${values.out}`)
  return 0
}

export const command: Command = {
  name: 'sim',
  summary: 'simulate a deployment from a scenario, replay a trace through the eviction policies, or sweep a scenario',
  usage,
  async run (argv) {
    if (argv[0] === 'cache') return await (await import('./sim-cache.ts')).runCache(argv.slice(1))
    if (argv[0] === 'sweep') return await (await import('./sim-sweep.ts')).runSweepCommand(argv.slice(1))
    return await runOne(argv)
  }
}
