/**
 * SHA-256 of metrics.json and series.csv (the bytes `reelnet sim --out`
 * writes) for the bundled scenarios, small.json with each model option the
 * bundled ones leave off, and million.json's results line: run
 * before and after a change to the simulator's speed, the two printouts
 * must be identical. Not a uvu suite (million.json alone takes a minute or
 * two of CPU); run it under the shared lock:
 *
 *   flock /tmp/reelnet-heavy.lock node_modules/.bin/node --import tsx sim/test/output-hashes.ts [NAME ...]  (default: all; million last)
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parseScenario, parseScenarioText } from '../scenario.ts'
import { runScenario } from '../run.ts'
import { metricsJson, seriesCsv } from '../output.ts'

const FILES = ['small', 'release-day', 'faults', 'million']
const read = (name: string): Record<string, any> => JSON.parse(readFileSync(new URL(`../scenarios/${name}.json`, import.meta.url), 'utf8')) as Record<string, any>
/** The model's options that the bundled scenarios leave off, each on small.json (faults.json for read-through under faults). */
const OPTIONS: Record<string, () => unknown> = {
  'small+readThrough': () => { const s = read('small'); return { ...s, edge: { ...s.edge, readThrough: true } } },
  'small+allEdges': () => { const s = read('small'); return { ...s, directive: { ...s.directive, allEdges: true } } },
  'small+sequential': () => { const s = read('small'); return { ...s, download: { ...s.download, sequential: true } } },
  'small+listAfter': () => { const s = read('small'); return { ...s, peerAssist: { ...s.peerAssist, listAfterChunks: 8, seedMeanMinutes: 20 } } },
  'small+sieve': () => { const s = read('small'); return { ...s, edge: { ...s.edge, eviction: 'sieve' } } },
  'small+s3fifo': () => { const s = read('small'); return { ...s, edge: { ...s.edge, eviction: 's3fifo' } } },
  'small+flash': () => { const s = read('small'); return { ...s, workload: { type: 'flash', atSeconds: 10, item: 3 } } },
  'faults+readThrough': () => { const s = read('faults'); return { ...s, edge: { ...s.edge, readThrough: true } } }
}
const ALL = [...FILES.filter(n => n !== 'million'), ...Object.keys(OPTIONS), 'million']
const names = process.argv.length > 2 ? process.argv.slice(2) : ALL
const sha = (text: string): string => createHash('sha256').update(text).digest('hex')
const cpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }

for (const name of names) {
  if (!ALL.includes(name)) throw new Error(`unknown scenario ${name}; have ${ALL.join(', ')}`)
  const s = OPTIONS[name] !== undefined ? parseScenario(OPTIONS[name]()) : parseScenarioText(readFileSync(new URL(`../scenarios/${name}.json`, import.meta.url), 'utf8'))
  const c0 = cpu()
  const r = runScenario(s, s.seed)
  const seconds = cpu() - c0
  const m = r.metrics
  console.log(`${name.padEnd(19)} metrics.json ${sha(metricsJson(m))}  series.csv ${sha(seriesCsv(r.seriesColumns, r.series))}`)
  console.log(`${''.padEnd(19)} results requests ${m.requests.total}, downloads ${m.requests.downloadsDone}, edge hit ${(m.edge.hitRatioByRequests * 100).toFixed(1)}%, peer offload ${(m.peerOffload * 100).toFixed(1)}%, download p50 ${m.downloadSeconds.p50.toFixed(0)} s, events ${m.events}`)
  console.error(`${''.padEnd(19)} ${seconds.toFixed(1)} CPU s, ${Math.round(m.events / seconds).toLocaleString('en')} events per CPU second, peak RSS so far ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB (not part of the comparison)`)
}
