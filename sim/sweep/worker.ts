/**
 * One sweep run in its own process: `node --import tsx worker.ts SCENARIO.json SEED OUTDIR`
 * runs the scenario exactly as `reelnet sim` does and writes the same four
 * files, then reports its wall and CPU seconds and peak RSS to the parent
 * over the IPC channel. A process per run (not a thread) gives each run its
 * own heap and a peak RSS of its own.
 */
import { readFileSync } from 'node:fs'
import { parseScenarioText } from '../scenario.ts'
import { runScenario } from '../run.ts'
import { writeOutputs } from '../output.ts'
import { traceOf } from '../trace/workload.ts'
import { dirname, resolve } from 'node:path'

export interface WorkerReport {
  wallSeconds: number
  cpuSeconds: number
  peakRssMiB: number
  events: number
}

const [file, seedText, out] = process.argv.slice(2)
if (file === undefined || seedText === undefined || out === undefined) throw new Error('usage: worker.ts SCENARIO.json SEED OUTDIR')
const scenario = parseScenarioText(readFileSync(file, 'utf8'))
const cpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }
const c0 = cpu()
const t0 = performance.now()
const trace = traceOf(scenario, dirname(resolve(file)))
const result = runScenario(scenario, Number(seedText), { requests: trace })
trace?.close()
const wall = (performance.now() - t0) / 1000
writeOutputs(out, scenario, Number(seedText), result, wall)
const report: WorkerReport = { wallSeconds: wall, cpuSeconds: cpu() - c0, peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), events: result.metrics.events }
process.send?.(report)
