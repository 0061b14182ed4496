/**
 * Opening a scenario's trace workload: its path is relative to the scenario
 * file, its format given or guessed from the name. The caller closes the
 * reader after the run.
 */
import { isAbsolute, resolve } from 'node:path'
import type { Scenario } from '../scenario.ts'
import { formatFromName, TraceError, TraceReader } from './read.ts'

export function traceOf (s: Scenario, scenarioDir: string): TraceReader | undefined {
  const w = s.workload
  if (w.type !== 'trace') return undefined
  const path = isAbsolute(w.path) ? w.path : resolve(scenarioDir, w.path)
  const format = w.format ?? (w.params !== undefined ? 'libcsv' : formatFromName(path))
  if (format === null) throw new TraceError(`workload.path ${w.path}: cannot tell the trace format from the name; set workload.format to oracle, libcsv or csv`)
  return new TraceReader(path, { format, params: w.params })
}

/** A scenario's JSON with a trace workload's path made absolute (for a copy written elsewhere, as sweeps do). */
export function withAbsoluteTrace (raw: unknown, scenarioDir: string): unknown {
  const w = (raw as { workload?: { type?: unknown, path?: unknown } } | null)?.workload
  if (w?.type !== 'trace' || typeof w.path !== 'string' || isAbsolute(w.path)) return raw
  const copy = structuredClone(raw) as { workload: { path: string } }
  copy.workload.path = resolve(scenarioDir, w.path)
  return copy
}
