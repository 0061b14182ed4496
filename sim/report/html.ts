/**
 * report.html: one self-contained page (inline CSS and SVG, no script)
 * with the run's totals and its charts: edge hit ratio and peer offload
 * over time, parent load, the download-time CDF.
 */
import type { Metrics } from '../run.ts'
import type { Manifest } from '../output.ts'
import { escapeXml, lineChart } from './svg.ts'

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`
const gib = (b: number): string => `${(b / 2 ** 30).toFixed(1)} GiB`
const secs = (s: number): string => s < 120 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`

export function renderReport (m: Metrics, columns: readonly string[], series: number[][], manifest: Manifest): string {
  const col = (name: string): number => {
    const i = columns.indexOf(name)
    if (i < 0) throw new Error(`series has no column ${name}`)
    return i
  }
  const T = col('time_s'); const req = col('edge_requests'); const hits = col('edge_hits')
  const toClients = col('bytes_to_clients'); const peersToClients = col('peer_bytes_to_clients')
  const parentsC = col('parent_bytes_to_clients'); const parentsE = col('parent_bytes_to_edges'); const origin = col('bytes_from_origin')
  const hours = (t: number): number => t / 3600
  const useHours = (series[series.length - 1]?.[T] ?? 0) > 3 * 3600
  const xt = (t: number): number => useHours ? hours(t) : t
  const xLabel = useHours ? 'simulated time (h)' : 'simulated time (s)'
  let prev = 0
  const widths = series.map(r => { const w = r[T]! - prev; prev = r[T]!; return w > 0 ? w : 1 })
  const rate = (r: number[], i: number, c: number): number => r[c]! * 8 / 1e6 / widths[i]!

  const hitRatio = series.filter(r => r[req]! > 0).map(r => [xt(r[T]!), r[hits]! / r[req]!] as [number, number])
  const offload = series.filter(r => r[toClients]! > 0).map(r => [xt(r[T]!), r[peersToClients]! / r[toClients]!] as [number, number])
  const charts = [
    lineChart({ title: 'Edge hit ratio (by requests) and peer offload, per interval', xLabel, yLabel: 'fraction', yRange: [0, 1], lines: [{ name: 'edge hit ratio', points: hitRatio }, { name: 'peer offload', points: offload }] }),
    lineChart({
      title: 'Upstream load', xLabel, yLabel: 'Mbit/s',
      lines: [
        { name: 'parents → clients', points: series.map((r, i) => [xt(r[T]!), rate(r, i, parentsC)]) },
        { name: 'parents → edges', points: series.map((r, i) => [xt(r[T]!), rate(r, i, parentsE)]) },
        { name: 'origin → parents', points: series.map((r, i) => [xt(r[T]!), rate(r, i, origin)]) }
      ]
    }),
    lineChart({ title: 'Download time, CDF', xLabel: 'seconds from request to last chunk', yLabel: 'fraction of downloads', yRange: [0, 1], lines: [{ name: 'download time', points: m.downloadSecondsCdf }, { name: 'startup delay', points: m.startupSecondsCdf }] })
  ]
  if (columns.includes('nodes_down')) {
    // faults: when nodes were down, and what it did to downloads and to the parents
    const down = col('nodes_down'); const lost = col('lost_chunks'); const dsum = col('download_seconds_sum'); const done = col('downloads_done')
    charts.push(
      lineChart({ title: 'Faults: parents and edges down, and chunk requests lost, per interval', xLabel, yLabel: 'count', lines: [{ name: 'nodes down', points: series.map(r => [xt(r[T]!), r[down]!]) }, { name: 'chunks lost', points: series.map(r => [xt(r[T]!), r[lost]!]) }] }),
      lineChart({ title: 'Mean download time of the downloads finished in each interval', xLabel, yLabel: 'seconds', lines: [{ name: 'mean download time', points: series.filter(r => r[done]! > 0).map(r => [xt(r[T]!), r[dsum]! / r[done]!]) }] })
    )
  }
  const rows: Array<[string, string]> = [
    ['requests', String(m.requests.total)],
    ['downloads completed', String(m.requests.downloadsDone)],
    ['edge hit ratio, by requests', pct(m.edge.hitRatioByRequests)],
    ['edge hit ratio, by bytes', pct(m.edge.hitRatioByBytes)],
    ['peer offload (share of client bytes from peers)', pct(m.peerOffload)],
    ['bytes to clients', gib(m.bytes.toClients)],
    ['bytes from parents', gib(m.bytes.fromParents)],
    ['bytes from origin', gib(m.bytes.fromOrigin)],
    ['download time p50 / p90 / p99', `${secs(m.downloadSeconds.p50)} / ${secs(m.downloadSeconds.p90)} / ${secs(m.downloadSeconds.p99)}`],
    ['startup delay p50 / p90 / p99', `${secs(m.startupSeconds.p50)} / ${secs(m.startupSeconds.p90)} / ${secs(m.startupSeconds.p99)}`],
    ['events', String(m.events)]
  ]
  if (m.faults !== undefined) {
    rows.push(
      ['faults: failures / recoveries', `${m.faults.failures} / ${m.faults.recoveries}`],
      ['faults: chunk requests lost, sources dropped', `${m.faults.lostChunks}, ${m.faults.failovers}`],
      ['faults: node time down', secs(m.faults.nodeDownSeconds)]
    )
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>reelnet sim — ${escapeXml(m.scenario)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:14px/1.4 system-ui,sans-serif;max-width:760px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td{padding:2px 12px 2px 0;border-bottom:1px solid #eee}td:last-child{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1.5em 0}.meta{color:#666;font-size:12px}</style></head>
<body><h1>Simulation: ${escapeXml(m.scenario)}</h1>
<p class="meta">seed ${manifest.seed} · scenario sha256 ${manifest.scenarioHash.slice(0, 16)}… · reelnet ${escapeXml(manifest.version)} · ${secs(m.simulatedSeconds)} simulated</p>
<table>${rows.map(([k, v]) => `<tr><td>${escapeXml(k)}</td><td>${escapeXml(v)}</td></tr>`).join('')}</table>
${charts.map(c => `<figure>${c}</figure>`).join('\n')}
</body></html>
`
}
