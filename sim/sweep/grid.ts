/**
 * Sweeps: one scenario, a grid of field values (`--vary edge.eviction=lru,sieve`
 * `--vary edge.capacityBytes=1GiB,4GiB`), every combination a run of its own.
 * Each run's scenario is the base file's JSON with the fields set, validated
 * like any scenario; the run itself is `runScenario`, so its metrics.json is
 * the same bytes as running that scenario alone.
 */
import { parseScenario, type Scenario } from '../scenario.ts'

/** Values one --vary may list, and runs one sweep may have: a grid is multiplied out in memory and on disk. */
export const MAX_VARY_VALUES = 64
export const MAX_SWEEP_RUNS = 256
/** Fields one sweep may vary. */
export const MAX_VARIED_FIELDS = 8
/** Longest --vary text read. */
export const MAX_VARY_CHARS = 4000

export class SweepError extends Error {
  name = 'SweepError'
}

export interface Vary {
  /** The dotted path as given, e.g. `edge.capacityBytes`. */
  field: string
  path: string[]
  values: unknown[]
  /** The values as written, for labels and CSV cells. */
  labels: string[]
}

export interface SweepRun {
  /** `run-001`, ... in grid order (the last --vary changes fastest). */
  name: string
  /** field → value label, in --vary order. */
  point: Array<[string, string]>
  /** The scenario's JSON with the point's fields set. */
  raw: unknown
  scenario: Scenario
}

const SIZE_UNITS: Record<string, number> = { kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12 }

/** Split at commas outside brackets and quotes: `[5,30],[10,40]` is two values. */
function splitTop (text: string): string[] {
  const out: string[] = []
  let depth = 0; let quoted = false; let cur = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quoted) {
      cur += c
      if (c === '\\') { cur += text[++i] ?? ''; continue }
      if (c === '"') quoted = false
      continue
    }
    if (c === '"') quoted = true
    else if (c === '[' || c === '{') depth++
    else if (c === ']' || c === '}') depth--
    if (c === ',' && depth === 0) { out.push(cur); cur = ''; continue }
    cur += c
  }
  out.push(cur)
  return out.map(s => s.trim())
}

function value (field: string, text: string): unknown {
  const size = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b)$/i.exec(text)
  if (size !== null && /bytes$/i.test(field)) return Math.floor(Number(size[1]) * SIZE_UNITS[size[2]!.toLowerCase()]!)
  try {
    return JSON.parse(text) as unknown
  } catch {
    // a bare word such as lru
    if (/^[A-Za-z_][\w.-]*$/.test(text)) return text
    throw new SweepError(`--vary ${field}: cannot read the value '${text}' (give JSON such as 1e9, true, "name", [5,30], a size like 4GiB, or a bare word)`)
  }
}

/** `field=a,b,c` → the field's path and values. */
export function parseVary (text: string): Vary {
  if (text.length > MAX_VARY_CHARS) throw new SweepError(`--vary is longer than ${MAX_VARY_CHARS} characters`)
  const eq = text.indexOf('=')
  if (eq <= 0) throw new SweepError(`--vary must be FIELD=A,B,..., got '${text}'`)
  const field = text.slice(0, eq).trim()
  if (!/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/.test(field)) throw new SweepError(`--vary: '${field}' is not a dotted field path such as edge.capacityBytes`)
  const labels = splitTop(text.slice(eq + 1))
  if (labels.some(l => l === '')) throw new SweepError(`--vary ${field}: an empty value in '${text}'`)
  if (labels.length > MAX_VARY_VALUES) throw new SweepError(`--vary ${field}: more than ${MAX_VARY_VALUES} values`)
  if (new Set(labels).size !== labels.length) throw new SweepError(`--vary ${field}: a value is listed twice`)
  return { field, path: field.split('.'), values: labels.map(l => value(field, l)), labels }
}

/** A copy of `raw` with the field at `path` set (missing objects on the way are created). */
export function setField (raw: unknown, path: readonly string[], v: unknown): unknown {
  const root = structuredClone(raw) as Record<string, unknown>
  let o = root
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!
    const next = o[k]
    if (next === undefined) o[k] = {}
    else if (next === null || typeof next !== 'object' || Array.isArray(next)) throw new SweepError(`--vary ${path.join('.')}: ${path.slice(0, i + 1).join('.')} is not an object in the scenario`)
    o = o[k] as Record<string, unknown>
  }
  o[path[path.length - 1]!] = v
  return root
}

/** Every combination of the varied values, validated; the last --vary changes fastest. */
export function sweepGrid (raw: unknown, varies: readonly Vary[]): SweepRun[] {
  if (varies.length === 0) throw new SweepError('give at least one --vary FIELD=A,B,...')
  if (varies.length > MAX_VARIED_FIELDS) throw new SweepError(`at most ${MAX_VARIED_FIELDS} --vary fields`)
  const fields = varies.map(v => v.field)
  if (new Set(fields).size !== fields.length) throw new SweepError('a field is varied twice; list all its values in one --vary')
  const total = varies.reduce((a, v) => a * v.values.length, 1)
  if (total > MAX_SWEEP_RUNS) throw new SweepError(`the grid has ${total} runs, more than ${MAX_SWEEP_RUNS}`)
  const runs: SweepRun[] = []
  const width = String(total).length < 3 ? 3 : String(total).length
  for (let n = 0; n < total; n++) {
    let rest = n
    const idx = new Array<number>(varies.length)
    for (let f = varies.length - 1; f >= 0; f--) { idx[f] = rest % varies[f]!.values.length; rest = Math.floor(rest / varies[f]!.values.length) }
    let r = raw
    const point: Array<[string, string]> = []
    varies.forEach((v, f) => { r = setField(r, v.path, v.values[idx[f]!]); point.push([v.field, v.labels[idx[f]!]!]) })
    let scenario: Scenario
    try {
      scenario = parseScenario(r)
    } catch (err) {
      throw new SweepError(`${point.map(([k, v]) => `${k}=${v}`).join(', ')}: ${(err as Error).message}`)
    }
    runs.push({ name: `run-${String(n + 1).padStart(width, '0')}`, point, raw: r, scenario })
  }
  return runs
}
