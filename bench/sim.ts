/**
 * The simulator at scale: sim/scenarios/million.json (10^6 clients in 100
 * regions, Zipf demand, churn, peer-assist), run for as many simulated
 * hours as fit in the wall-clock budget (at most the scenario's 24 h).
 * Prints events/s, simulated hours and peak RSS.
 *
 *   node_modules/.bin/node --import tsx bench/sim.ts [--budget SECONDS]
 */
import { readFileSync } from 'node:fs'
import { parseScenarioText } from '../sim/scenario.ts'
import { runScenario } from '../sim/run.ts'

/** Wall-clock budget of the simulation loop: the whole bench suite must stay short. */
export const DEFAULT_BUDGET_SECONDS = 150

export async function run (budgetSeconds = DEFAULT_BUDGET_SECONDS): Promise<void> {
  const text = readFileSync(new URL('../sim/scenarios/million.json', import.meta.url), 'utf8')
  const scenario = parseScenarioText(text)
  const cpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }
  const t0 = performance.now()
  const c0 = cpu()
  const r = runScenario(scenario, scenario.seed, {
    shouldStop: () => (performance.now() - t0) / 1000 > budgetSeconds
  })
  const wall = (performance.now() - t0) / 1000
  const cpuSeconds = cpu() - c0
  const setupSeconds = r.sim.setupSeconds
  const loop = wall - setupSeconds
  const m = r.metrics
  const rss = process.resourceUsage().maxRSS / 1024 // maxRSS is in KiB
  console.log(`scenario            ${scenario.name}: ${r.sim.world.clientCount.toLocaleString('en')} clients, ${r.sim.world.regions} regions, ${scenario.catalog.items} items`)
  console.log(`simulated           ${(m.simulatedSeconds / 3600).toFixed(2)} h of ${scenario.durationHours} h${r.sim.stoppedEarly ? ' (wall budget reached)' : ''}`)
  console.log(`events              ${m.events.toLocaleString('en')} (${m.bytes.toClients > 0 ? r.sim.totals.chunkTransfers.toLocaleString('en') : 0} chunk transfers)`)
  console.log(`setup (build world) ${setupSeconds.toFixed(1)} s`)
  console.log(`event loop          ${loop.toFixed(1)} s wall; whole run ${cpuSeconds.toFixed(1)} s CPU (user + system) for ${wall.toFixed(1)} s wall`)
  console.log(`events/s            ${Math.round(m.events / loop).toLocaleString('en')} per wall second of the loop; ${Math.round(m.events / cpuSeconds).toLocaleString('en')} per CPU second of the whole run (the figure to trust on a shared machine)`)
  console.log(`peak RSS            ${rss.toFixed(0)} MiB`)
  console.log(`results             requests ${m.requests.total}, downloads ${m.requests.downloadsDone}, edge hit ${(m.edge.hitRatioByRequests * 100).toFixed(1)}%, peer offload ${(m.peerOffload * 100).toFixed(1)}%, download p50 ${m.downloadSeconds.p50.toFixed(0)} s`)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--budget')
  await run(i > 0 ? Number(process.argv[i + 1]) : DEFAULT_BUDGET_SECONDS)
}
