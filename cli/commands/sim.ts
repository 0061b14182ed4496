/**
 * `reelnet sim SCENARIO.json --out DIR [--seed N]`: run a discrete-event
 * simulation of a whole deployment and write metrics.json, series.csv,
 * manifest.json and report.html into DIR. A progress bar on stderr shows
 * simulated time, events per second and the time left (only on a terminal).
 */
import { readFileSync, mkdirSync, writeFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import cliProgress from 'cli-progress'
import { CommandError, intFlag, parseFlags, UsageError, type Command } from '../command.ts'
import { parseScenarioText, MAX_SCENARIO_BYTES } from '../../sim/scenario.ts'
import { runScenario } from '../../sim/run.ts'
import { writeOutputs } from '../../sim/output.ts'

const usage = `usage: reelnet sim SCENARIO.json --out DIR [--seed N]

Simulate a whole reelnet deployment (regions of parents, edges and clients)
driven by a scenario file, running the same policies the real nodes run
(eviction, peer ranking, prepositioning from protocol/).

Writes into DIR:
  metrics.json   totals: edge hit ratio, peer offload, bytes from parents and
                 origin, download-time and startup-delay distributions
                 (the same bytes for the same scenario and seed)
  series.csv     the time series, one row per sample interval
  manifest.json  scenario hash, seed, version, wall time
  report.html    a self-contained report with charts

The scenario format is documented in sim/README.md; examples are in
sim/scenarios/ (small.json, release-day.json, million.json).

flags:
  -o, --out DIR   output folder (created if missing; required)
  -s, --seed N    random seed (default: the scenario's seed)
  -q, --quiet     no progress bar
  -h, --help      show this help`

function fmtTime (s: number): string {
  const h = Math.floor(s / 3600); const m = Math.floor(s / 60) % 60; const sec = Math.floor(s % 60)
  return `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`
}

export const command: Command = {
  name: 'sim',
  summary: 'simulate a whole deployment from a scenario file',
  usage,
  async run (argv) {
    const { values, positionals } = parseFlags(argv, {
      out: { type: 'string', short: 'o' },
      seed: { type: 'string', short: 's' },
      quiet: { type: 'boolean', short: 'q' }
    }, true)
    if (positionals.length !== 1) throw new UsageError('give exactly one scenario file (see reelnet sim --help)')
    if (values.out === undefined) throw new UsageError('--out DIR is required (see reelnet sim --help)')
    const file = positionals[0]!
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      throw new CommandError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    if (text.length > MAX_SCENARIO_BYTES) throw new CommandError(`${file} is larger than ${MAX_SCENARIO_BYTES} bytes; a scenario is settings, not data`)
    let scenario
    try {
      scenario = parseScenarioText(text)
    } catch (err) {
      throw new CommandError(`${file}: ${(err as Error).message}`)
    }
    const seed = intFlag('seed', values.seed, scenario.seed, 0, 2 ** 32 - 1)
    const out = resolve(values.out)
    // find out now, not after an hour of simulation, that the folder is unusable
    try {
      mkdirSync(out, { recursive: true })
      const probe = join(out, `.reelnet-sim-probe-${process.pid}`)
      writeFileSync(probe, '')
      rmSync(probe)
    } catch (err) {
      throw new CommandError(`cannot write to ${values.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }

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
    const result = runScenario(scenario, seed, {
      onProgress: (t, events) => {
        if (bar === null) return
        const wall = (performance.now() - started) / 1000
        bar.update(Math.min(t, end), { simtime: fmtTime(t), simend: fmtTime(end), rate: wall > 0 ? Math.round(events / wall).toLocaleString('en') : '0' })
      }
    })
    bar?.stop()
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
}
