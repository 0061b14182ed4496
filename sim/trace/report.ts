/**
 * What `reelnet sim cache` prints and writes: the miss-ratio table (four
 * decimals, as fractions), mrc.csv (one row per (policy, size)) and
 * mrc.html (the miss-ratio curves, by requests and by bytes, inline SVG).
 */
import { escapeXml, lineChart, type Line } from '../report/svg.ts'
import type { CacheReplayResult } from './cache.ts'

const MIB = 2 ** 20

function human (bytes: number): string {
  if (bytes >= 2 ** 30) return `${+(bytes / 2 ** 30).toFixed(2)} GiB`
  if (bytes >= MIB) return `${+(bytes / MIB).toFixed(2)} MiB`
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(2)} KiB`
  return `${bytes} B`
}

export function cacheTable (r: CacheReplayResult): string {
  const head = ['policy', 'size', 'capacity', 'miss ratio', 'byte miss ratio']
  const rows = r.runs.map(x => [x.policy, x.size, human(x.capacityBytes), x.missRatio.toFixed(4), x.byteMissRatio.toFixed(4)])
  const w = head.map((h, i) => Math.max(h.length, ...rows.map(row => row[i]!.length)))
  const line = (cells: string[]): string => cells.map((c, i) => i < 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!)).join('  ')
  return [line(head), ...rows.map(line)].join('\n')
}

export function cacheCsv (r: CacheReplayResult): string {
  const rows = r.runs.map(x => [x.policy, x.size, x.capacityBytes, x.requests, x.hits, x.requestedBytes, x.hitBytes, x.missRatio.toFixed(6), x.byteMissRatio.toFixed(6)].join(','))
  return ['policy,size,capacity_bytes,requests,hits,requested_bytes,hit_bytes,miss_ratio,byte_miss_ratio', ...rows].join('\n') + '\n'
}

export function cacheHtml (trace: string, r: CacheReplayResult): string {
  const policies = [...new Set(r.runs.map(x => x.policy))]
  const ws = r.workingSetBytes
  // x as a fraction of the working set when it is known and nonzero, else bytes
  const asFraction = ws > 0
  const x = (cap: number): number => asFraction ? cap / ws : cap
  const caps = r.runs.map(q => x(q.capacityBytes)).filter(v => v > 0)
  const xLog = caps.length > 1 && Math.max(...caps) / Math.min(...caps) >= 10
  const lines = (key: 'missRatio' | 'byteMissRatio'): Line[] => policies.map(p => ({
    name: p,
    points: r.runs.filter(q => q.policy === p).map(q => [x(q.capacityBytes), q[key]] as [number, number]).sort((a, b) => a[0] - b[0])
  }))
  const xLabel = asFraction ? `cache size, fraction of the working set (${human(ws)})${xLog ? ', log scale' : ''}` : `cache size, bytes${xLog ? ', log scale' : ''}`
  const charts = [
    lineChart({ title: 'Miss ratio (by requests)', xLabel, yLabel: 'fraction', yRange: [0, 1], xLog, markers: true, lines: lines('missRatio') }),
    lineChart({ title: 'Byte miss ratio', xLabel, yLabel: 'fraction', yRange: [0, 1], xLog, markers: true, lines: lines('byteMissRatio') })
  ]
  const rows = r.runs.map(q => `<tr><td>${escapeXml(q.policy)}</td><td>${escapeXml(q.size)}</td><td>${escapeXml(human(q.capacityBytes))}</td><td>${q.missRatio.toFixed(4)}</td><td>${q.byteMissRatio.toFixed(4)}</td></tr>`)
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>reelnet sim cache — ${escapeXml(trace)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:14px/1.4 system-ui,sans-serif;max-width:760px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:2px 12px 2px 0;border-bottom:1px solid #eee;text-align:left}td:nth-child(n+3){text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1.5em 0}.meta{color:#666;font-size:12px}</style></head>
<body><h1>Miss-ratio curves: ${escapeXml(trace)}</h1>
<p class="meta">${r.requests.toLocaleString('en')} requests · ${r.items.toLocaleString('en')} distinct objects · working set ${escapeXml(human(ws))}${r.skippedZeroSize > 0 ? ` · ${r.skippedZeroSize.toLocaleString('en')} zero-size requests skipped` : ''} · the eviction classes of protocol/policy</p>
<table><tr><th>policy</th><th>size</th><th>capacity</th><th>miss ratio</th><th>byte miss ratio</th></tr>${rows.join('')}</table>
${charts.map(c => `<figure>${c}</figure>`).join('\n')}
</body></html>
`
}
