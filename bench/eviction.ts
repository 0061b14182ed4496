/**
 * Eviction policies under a seeded Zipf stream: requests per second and hit
 * ratio for each policy, with integer keys (as the simulator uses) and with
 * 64-character hex string keys (as edge chunk stores use), plus Che's
 * approximation for LRU. Also the Zipf sampler's own rate, since every
 * simulated request pays it. Rates are per second of this process's CPU
 * time, so other load on the machine colours them less than wall time would.
 */
import { pathToFileURL } from 'node:url'
import { Rng, Zipf } from '../protocol/random.ts'
import { cheLruHitRatio } from '../protocol/policy/che.ts'
import { access, createEvictionPolicy, EVICTION_POLICY_NAMES } from '../protocol/policy/eviction.ts'

const OBJECTS = 100_000
const ALPHA = 0.8
const CAPACITY = 1_000
const REQUESTS = 2_000_000
const SEED = 1

/** Operations per CPU-second of `fn` (user + system time of this process). */
function rate (ops: number, fn: () => void): number {
  const before = process.cpuUsage()
  fn()
  const used = process.cpuUsage(before)
  return ops / ((used.user + used.system) / 1e6)
}

function hexKey (i: number): string {
  return i.toString(16).padStart(64, '0')
}

export async function run (): Promise<void> {
  const zipf = new Zipf(OBJECTS, ALPHA)
  const rng = new Rng(SEED)
  const keys = new Int32Array(REQUESTS)
  const sampleRate = rate(REQUESTS, () => { for (let i = 0; i < REQUESTS; i++) keys[i] = zipf.sample(rng) })
  const strings = Array.from({ length: OBJECTS }, (_, i) => hexKey(i))
  const che = cheLruHitRatio(Float64Array.from({ length: OBJECTS }, (_, i) => zipf.probability(i)), CAPACITY)

  console.log(`Zipf(${ALPHA}) over ${OBJECTS.toLocaleString('en-US')} unit objects, cache ${CAPACITY.toLocaleString('en-US')}, ${REQUESTS.toLocaleString('en-US')} requests (seed ${SEED})`)
  console.log(`zipf sampler: ${Math.round(sampleRate).toLocaleString('en-US')} samples/cpu-s; Che's LRU hit ratio ${che.hitRatio.toFixed(4)}`)
  console.log(`${'policy'.padEnd(8)} ${'hit ratio'.padStart(9)} ${'req/cpu-s (int keys)'.padStart(21)} ${'req/cpu-s (hex keys)'.padStart(21)} ${'req/cpu-s access()'.padStart(19)}`)
  for (const name of EVICTION_POLICY_NAMES) {
    const p = createEvictionPolicy<number>(name, CAPACITY)
    let hits = 0
    const intRate = rate(REQUESTS, () => {
      for (let i = 0; i < REQUESTS; i++) {
        const k = keys[i]!
        if (p.touch(k)) hits++
        else p.insert(k, 1)
      }
    })

    const s = createEvictionPolicy<string>(name, CAPACITY)
    const strRate = rate(REQUESTS, () => {
      for (let i = 0; i < REQUESTS; i++) {
        const k = strings[keys[i]!]!
        if (!s.touch(k)) s.insert(k, 1)
      }
    })

    const a = createEvictionPolicy<number>(name, CAPACITY)
    const accessRate = rate(REQUESTS, () => { for (let i = 0; i < REQUESTS; i++) access(a, keys[i]!, 1) })

    const fmt = (n: number, w: number): string => Math.round(n).toLocaleString('en-US').padStart(w)
    console.log(`${name.padEnd(8)} ${(hits / REQUESTS).toFixed(4).padStart(9)} ${fmt(intRate, 21)} ${fmt(strRate, 21)} ${fmt(accessRate, 19)}`)
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await run()
