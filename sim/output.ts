/**
 * Writing a run's results to its --out folder: metrics.json (totals, the
 * same bytes for the same scenario and seed), series.csv, manifest.json
 * (what produced it) and report.html.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { RunResult, Metrics } from './run.ts'
import { scenarioHash, type Scenario } from './scenario.ts'
import { renderReport } from './report/html.ts'

export interface Manifest {
  tool: 'reelnet sim'
  version: string
  scenario: string
  scenarioHash: string
  seed: number
  files: string[]
  /** Wall-clock facts about this run (not part of the deterministic results). */
  run: { wallSeconds: number, eventsPerSecond: number, peakRssMiB: number, node: string }
}

export function packageVersion (): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

/** metrics.json's exact text: deterministic key order (as built) and number formatting (JSON's). */
export function metricsJson (m: Metrics): string {
  return JSON.stringify(m, null, 2) + '\n'
}

export function seriesCsv (columns: readonly string[], rows: number[][]): string {
  return [columns.join(','), ...rows.map(r => r.join(','))].join('\n') + '\n'
}

export function writeOutputs (dir: string, s: Scenario, seed: number, r: RunResult, wallSeconds: number): Manifest {
  mkdirSync(dir, { recursive: true })
  const files = ['metrics.json', 'series.csv', 'manifest.json', 'report.html']
  const manifest: Manifest = {
    tool: 'reelnet sim',
    version: packageVersion(),
    scenario: s.name,
    scenarioHash: scenarioHash(s),
    seed,
    files,
    run: {
      wallSeconds,
      eventsPerSecond: wallSeconds > 0 ? Math.round(r.metrics.events / wallSeconds) : 0,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      node: process.version
    }
  }
  writeFileSync(join(dir, 'metrics.json'), metricsJson(r.metrics))
  writeFileSync(join(dir, 'series.csv'), seriesCsv(r.seriesColumns, r.series))
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
  writeFileSync(join(dir, 'report.html'), renderReport(r.metrics, r.seriesColumns, r.series, manifest))
  return manifest
}
