/**
 * `reelnet sim sweep` on every core: sim/scenarios/release-day.json (8
 * simulated hours, ~6.4 M events a run) over 3 eviction policies × 3 edge sizes, once
 * with one run at a time and once with one per core. Prints each sweep's
 * wall time against the sum of its runs' own wall times (the serial sum),
 * and checks that the two sweeps' metrics.json files are byte-identical.
 * Then four runs of different lengths (durationHours 1, 2, 4, 8) on every
 * core, started in grid order and longest first.
 *
 *   node_modules/.bin/node --import tsx bench/sim-sweep.ts
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseVary, sweepGrid } from '../sim/sweep/grid.ts'
import { runSweep } from '../sim/sweep/run.ts'

export async function run (): Promise<void> {
  const raw = JSON.parse(readFileSync(new URL('../sim/scenarios/release-day.json', import.meta.url), 'utf8')) as unknown
  const runs = sweepGrid(raw, [parseVary('edge.eviction=lru,sieve,s3fifo'), parseVary('edge.capacityBytes=25GiB,50GiB,100GiB')])
  const cores = availableParallelism()
  const dir = mkdtempSync(join(tmpdir(), 'reelnet-bench-sweep-'))
  try {
    console.log(`grid                ${runs.length} runs of release-day.json (3 policies × 3 edge sizes, 6.4 M events each); ${cores} cores; load average before ${loadavg()[0]!.toFixed(2)}`)
    const outs: string[] = []
    const walls: number[] = []
    for (const jobs of [1, cores]) {
      const out = join(dir, `jobs-${jobs}`)
      outs.push(out)
      const t0 = performance.now()
      const results = await runSweep(runs, { out, seed: 1, jobs })
      const wall = (performance.now() - t0) / 1000
      const serial = results.reduce((a, r) => a + r.report.wallSeconds, 0)
      walls.push(wall)
      console.log(`--jobs ${jobs}`.padEnd(20) + `${wall.toFixed(1)} s wall; the runs' own wall times sum to ${serial.toFixed(1)} s (wall / sum ${(wall / serial).toFixed(2)})`)
    }
    console.log(`speed-up            ${(walls[0]! / walls[1]!).toFixed(2)}× (--jobs ${cores} took ${(walls[1]! / walls[0]! * 100).toFixed(0)}% of the one-at-a-time sweep's wall time)`)
    const same = runs.every(r => readFileSync(join(outs[0]!, r.name, 'metrics.json'), 'utf8') === readFileSync(join(outs[1]!, r.name, 'metrics.json'), 'utf8'))
    console.log(`metrics.json        ${same ? 'byte-identical' : 'DIFFERENT'} between the two sweeps, all ${runs.length} runs; load average after ${loadavg()[0]!.toFixed(2)}`)
    if (!same) process.exitCode = 1
    // runs of different lengths: in grid order the longest starts last and runs alone at the end
    const uneven = sweepGrid(raw, [parseVary('durationHours=1,2,4,8')])
    const unevenWalls: number[] = []
    for (const order of ['grid', 'longest'] as const) {
      const t0 = performance.now()
      const results = await runSweep(uneven, { out: join(dir, `uneven-${order}`), seed: 1, jobs: cores, order })
      const wall = (performance.now() - t0) / 1000
      unevenWalls.push(wall)
      const serial = results.reduce((a, r) => a + r.report.wallSeconds, 0)
      console.log(`uneven, ${order === 'grid' ? 'grid order' : 'longest 1st'}`.padEnd(20) + `durationHours 1, 2, 4, 8 on ${cores} jobs: ${wall.toFixed(1)} s wall; the runs' own wall times sum to ${serial.toFixed(1)} s (wall / sum ${(wall / serial).toFixed(2)})`)
    }
    console.log(`longest first       ${(unevenWalls[1]! / unevenWalls[0]! * 100).toFixed(0)}% of the grid-order sweep's wall time; load average after ${loadavg()[0]!.toFixed(2)}`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run()
