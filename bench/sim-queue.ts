/**
 * The simulator's event queue alone, on million.json's pattern: 10^6 churn
 * timers hours ahead (exponential, mean 3 h) and ~2000 chunk arrivals a
 * fraction of a second to 5 s ahead, each popped event scheduling its
 * successor. Prints CPU nanoseconds per event (pop + push), including the
 * few nanoseconds the pattern's own random numbers take.
 *
 *   node_modules/.bin/node --import tsx bench/sim-queue.ts
 */
import { EventQueue } from '../sim/engine/queue.ts'

/** Events popped (each pushes one): long enough to pass through many far buckets. */
export const EVENTS = 8_000_000
/** Pending churn timers (one per client) and chunk arrivals, as in million.json. */
const TIMERS = 1_000_000
const CHUNKS = 2000
const MEAN_TIMER_SECONDS = 3 * 3600

export function run (): void {
  const q = new EventQueue()
  let s = 12345
  const rnd = (): number => { s = (Math.imul(s, 1103515245) + 12345) | 0; return (s >>> 0) / 4294967296 }
  for (let i = 0; i < TIMERS; i++) q.push(-Math.log(1 - rnd()) * MEAN_TIMER_SECONDS, 6, i)
  for (let i = 0; i < CHUNKS; i++) q.push(rnd() * 5, 4, i, 1, 2)
  const c0 = process.cpuUsage()
  let n = 0
  while (n < EVENTS && q.pop()) {
    n++
    if (q.kind === 6) q.push(q.now - Math.log(1 - rnd()) * MEAN_TIMER_SECONDS, 6, q.a)
    else q.push(q.now + 0.02 + rnd() * 5, 4, q.a, q.b, q.c)
  }
  const u = process.cpuUsage(c0)
  const cpu = (u.user + u.system) / 1e6
  console.log(`event queue         ${n.toLocaleString('en')} events in ${cpu.toFixed(2)} s CPU: ${(cpu * 1e9 / n).toFixed(0)} ns per event (pop + push), ${q.size.toLocaleString('en')} pending at the end`)
}

if (import.meta.url === `file://${process.argv[1]}`) run()
