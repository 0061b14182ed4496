/**
 * SHA-256 of metrics.json and series.csv (the bytes `reelnet sim --out`
 * writes) for the bundled scenarios, and million.json's results line: run
 * before and after a change to the simulator's speed, the two printouts
 * must be identical. Not a uvu suite (million.json alone takes a minute or
 * two of CPU); run it under the shared lock:
 *
 *   flock /tmp/reelnet-heavy.lock node_modules/.bin/node --import tsx sim/test/output-hashes.ts [small release-day faults million]
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parseScenarioText } from '../scenario.ts'
import { runScenario } from '../run.ts'
import { metricsJson, seriesCsv } from '../output.ts'

const ALL = ['small', 'release-day', 'faults', 'million']
const names = process.argv.length > 2 ? process.argv.slice(2) : ALL
const sha = (text: string): string => createHash('sha256').update(text).digest('hex')
const cpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }

for (const name of names) {
  if (!ALL.includes(name)) throw new Error(`unknown scenario ${name}; have ${ALL.join(', ')}`)
  const s = parseScenarioText(readFileSync(new URL(`../scenarios/${name}.json`, import.meta.url), 'utf8'))
  const c0 = cpu()
  const r = runScenario(s, s.seed)
  const seconds = cpu() - c0
  const m = r.metrics
  console.log(`${name.padEnd(12)} metrics.json ${sha(metricsJson(m))}  series.csv ${sha(seriesCsv(r.seriesColumns, r.series))}`)
  console.log(`${''.padEnd(12)} results requests ${m.requests.total}, downloads ${m.requests.downloadsDone}, edge hit ${(m.edge.hitRatioByRequests * 100).toFixed(1)}%, peer offload ${(m.peerOffload * 100).toFixed(1)}%, download p50 ${m.downloadSeconds.p50.toFixed(0)} s, events ${m.events}`)
  console.error(`${''.padEnd(12)} ${seconds.toFixed(1)} CPU s, ${Math.round(m.events / seconds).toLocaleString('en')} events per CPU second, peak RSS so far ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB (not part of the comparison)`)
}
