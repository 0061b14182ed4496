/**
 * A sweep's comparative outputs: sweep.csv (a row per run: the varied
 * values, then the totals) and report.html (a table, the totals plotted
 * against the first numeric varied field, and each run's curves side by
 * side), inline SVG, no script.
 */
import { escapeXml, lineChart, type Line } from '../report/svg.ts'
import type { SweepRunResult } from './run.ts'
import type { Vary } from './grid.ts'

interface Column { name: string, get: (r: SweepRunResult) => number, digits: number }

/** The totals a sweep compares, in sweep.csv's order. */
export const SWEEP_COLUMNS: readonly Column[] = [
  { name: 'requests', get: r => r.metrics.requests.total, digits: 0 },
  { name: 'downloads_done', get: r => r.metrics.requests.downloadsDone, digits: 0 },
  { name: 'edge_hit_ratio', get: r => r.metrics.edge.hitRatioByRequests, digits: 4 },
  { name: 'edge_byte_hit_ratio', get: r => r.metrics.edge.hitRatioByBytes, digits: 4 },
  { name: 'peer_offload', get: r => r.metrics.peerOffload, digits: 4 },
  { name: 'bytes_to_clients', get: r => r.metrics.bytes.toClients, digits: 0 },
  { name: 'bytes_from_parents', get: r => r.metrics.bytes.fromParents, digits: 0 },
  { name: 'bytes_from_origin', get: r => r.metrics.bytes.fromOrigin, digits: 0 },
  { name: 'download_p50_s', get: r => r.metrics.downloadSeconds.p50, digits: 2 },
  { name: 'download_p90_s', get: r => r.metrics.downloadSeconds.p90, digits: 2 },
  { name: 'download_p99_s', get: r => r.metrics.downloadSeconds.p99, digits: 2 },
  { name: 'startup_p50_s', get: r => r.metrics.startupSeconds.p50, digits: 2 },
  { name: 'events', get: r => r.metrics.events, digits: 0 },
  { name: 'wall_s', get: r => r.report.wallSeconds, digits: 2 },
  { name: 'cpu_s', get: r => r.report.cpuSeconds, digits: 2 },
  { name: 'peak_rss_mib', get: r => r.report.peakRssMiB, digits: 0 }
]

function csvCell (s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function sweepCsv (varies: readonly Vary[], results: readonly SweepRunResult[]): string {
  const head = ['run', ...varies.map(v => v.field), 'seed', ...SWEEP_COLUMNS.map(c => c.name)]
  const rows = results.map(r => [r.run.name, ...r.run.point.map(([, v]) => v), String(r.metrics.seed), ...SWEEP_COLUMNS.map(c => c.get(r).toFixed(c.digits))])
  return [head, ...rows].map(row => row.map(csvCell).join(',')).join('\n') + '\n'
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`
const gib = (b: number): string => `${(b / 2 ** 30).toFixed(1)} GiB`

export function sweepHtml (scenarioName: string, varies: readonly Vary[], results: readonly SweepRunResult[], wallSeconds: number, jobs: number): string {
  const label = (r: SweepRunResult): string => r.run.point.map(([k, v]) => `${k.split('.').pop()}=${v}`).join(' ')
  const charts: string[] = []
  // totals against the first varied field whose values are all numbers, one line per combination of the others
  const xi = varies.findIndex(v => v.values.every(x => typeof x === 'number'))
  if (xi >= 0) {
    const xv = varies[xi]!
    const groups = new Map<string, SweepRunResult[]>()
    for (const r of results) {
      const key = r.run.point.filter((_, i) => i !== xi).map(([k, v]) => `${k.split('.').pop()}=${v}`).join(' ') || scenarioName
      groups.set(key, [...(groups.get(key) ?? []), r])
    }
    const xOf = (r: SweepRunResult): number => xv.values[xv.labels.indexOf(r.run.point[xi]![1])] as number
    const xs = xv.values as number[]
    const xLog = Math.min(...xs) > 0 && Math.max(...xs) / Math.min(...xs) >= 10
    const by = (get: (r: SweepRunResult) => number): Line[] => [...groups].map(([name, rs]) => ({ name, points: rs.map(r => [xOf(r), get(r)] as [number, number]).sort((a, b) => a[0] - b[0]) }))
    const xLabel = `${xv.field}${xLog ? ' (log scale)' : ''}`
    charts.push(
      lineChart({ title: 'Edge hit ratio (by requests)', xLabel, yLabel: 'fraction', yRange: [0, 1], xLog, markers: true, lines: by(r => r.metrics.edge.hitRatioByRequests) }),
      lineChart({ title: 'Peer offload', xLabel, yLabel: 'fraction', yRange: [0, 1], xLog, markers: true, lines: by(r => r.metrics.peerOffload) }),
      lineChart({ title: 'Bytes from parents', xLabel, yLabel: 'GiB', xLog, markers: true, lines: by(r => r.metrics.bytes.fromParents / 2 ** 30) }),
      lineChart({ title: 'Median download time', xLabel, yLabel: 'seconds', xLog, markers: true, lines: by(r => r.metrics.downloadSeconds.p50) })
    )
  }
  // each run's curves, side by side
  const small: string[] = results.map(r => {
    const c = r.seriesColumns
    const T = c.indexOf('time_s'); const req = c.indexOf('edge_requests'); const hits = c.indexOf('edge_hits')
    const toC = c.indexOf('bytes_to_clients'); const peers = c.indexOf('peer_bytes_to_clients')
    const hours = (r.series[r.series.length - 1]?.[T] ?? 0) > 3 * 3600
    const x = (t: number): number => hours ? t / 3600 : t
    return `<figure><figcaption>${escapeXml(r.run.name)}: ${escapeXml(label(r))}</figcaption>${lineChart({
      title: 'edge hit ratio and peer offload', xLabel: hours ? 'simulated time (h)' : 'simulated time (s)', yLabel: 'fraction', yRange: [0, 1],
      lines: [
        { name: 'edge hit ratio', points: r.series.filter(s => s[req]! > 0).map(s => [x(s[T]!), s[hits]! / s[req]!]) },
        { name: 'peer offload', points: r.series.filter(s => s[toC]! > 0).map(s => [x(s[T]!), s[peers]! / s[toC]!]) }
      ]
    })}${lineChart({ title: 'download time, CDF', xLabel: 'seconds', yLabel: 'fraction', yRange: [0, 1], lines: [{ name: 'download time', points: r.metrics.downloadSecondsCdf }] })}</figure>`
  })
  const head = ['run', ...varies.map(v => v.field), 'edge hit', 'byte hit', 'peer offload', 'from parents', 'from origin', 'download p50 / p90', 'wall']
  const rows = results.map(r => [
    `<a href="${escapeXml(r.run.name)}/report.html">${escapeXml(r.run.name)}</a>`, ...r.run.point.map(([, v]) => escapeXml(v)),
    pct(r.metrics.edge.hitRatioByRequests), pct(r.metrics.edge.hitRatioByBytes), pct(r.metrics.peerOffload), gib(r.metrics.bytes.fromParents), gib(r.metrics.bytes.fromOrigin),
    `${r.metrics.downloadSeconds.p50.toFixed(1)} / ${r.metrics.downloadSeconds.p90.toFixed(1)} s`, `${r.report.wallSeconds.toFixed(1)} s`
  ])
  const serial = results.reduce((a, r) => a + r.report.wallSeconds, 0)
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>reelnet sim sweep — ${escapeXml(scenarioName)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:14px/1.4 system-ui,sans-serif;max-width:1500px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:2px 10px 2px 0;border-bottom:1px solid #eee;text-align:left;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:1em}figure{margin:0}figcaption{font-weight:bold}.meta{color:#666;font-size:12px}</style></head>
<body><h1>Sweep: ${escapeXml(scenarioName)}</h1>
<p class="meta">${results.length} runs over ${varies.map(v => `${escapeXml(v.field)} ∈ {${v.labels.map(escapeXml).join(', ')}}`).join(' × ')} · ${jobs} at once · ${wallSeconds.toFixed(1)} s wall for ${serial.toFixed(1)} s of runs · each run's folder holds its scenario.json and the four files of a single run</p>
<table><tr>${head.map(h => `<th>${escapeXml(h)}</th>`).join('')}</tr>${rows.map(r => `<tr>${r.map(c => `<td>${c}</td>`).join('')}</tr>`).join('')}</table>
${charts.length > 0 ? `<div class="grid">${charts.map(c => `<figure>${c}</figure>`).join('')}</div>` : ''}
<h2>Each run</h2>
<div class="grid">${small.join('\n')}</div>
</body></html>
`
}
