/**
 * Cache-only replay for policy studies: a trace streamed through the very
 * eviction classes the edges run (protocol/policy, by createEvictionPolicy),
 * one cache per (policy, size), all fed from one pass over the file. Each
 * request is protocol's `access`: `touch`, and on a miss `insert`.
 */
import { createEvictionPolicy, type EvictionPolicy, type EvictionPolicyName } from '../../protocol/policy/eviction.ts'
import type { TraceReader } from './read.ts'

/** (policy, size) pairs one command runs at most: each is a cache in memory at once. */
export const MAX_CACHE_RUNS = 64

export class CacheSizeError extends Error {
  name = 'CacheSizeError'
}

/** A cache size as given: bytes, or a percentage of the trace's working set (the bytes of its distinct objects). */
export type CacheSize = { label: string, bytes: number, percent?: undefined } | { label: string, percent: number, bytes?: undefined }

const UNITS: Record<string, number> = {
  b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1000 ** 4, tib: 1024 ** 4
}

/** `409600`, `64MiB`, `1.5GB`, `0.1%`; throws CacheSizeError with the text it could not read. */
export function parseCacheSize (text: string): CacheSize {
  const t = text.trim()
  const pm = /^(\d+(?:\.\d+)?)%$/.exec(t)
  if (pm !== null) {
    const p = Number(pm[1])
    if (!(p > 0 && p <= 100)) throw new CacheSizeError(`cache size ${t} must be a percentage above 0 and at most 100`)
    return { label: t, percent: p }
  }
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)?$/i.exec(t)
  const mult = m === null ? undefined : UNITS[(m[2] ?? 'b').toLowerCase()]
  if (m === null || mult === undefined) throw new CacheSizeError(`cache size '${t}' is not bytes (409600, 64MiB, 2GB) or a percentage of the working set (1%)`)
  const bytes = Math.floor(Number(m[1]) * mult)
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new CacheSizeError(`cache size '${t}' must be at least 1 byte and below 2^53`)
  return { label: t, bytes }
}

export interface CacheRunResult {
  policy: EvictionPolicyName
  /** The size as given (`1%`, `64MiB`). */
  size: string
  capacityBytes: number
  requests: number
  hits: number
  requestedBytes: number
  hitBytes: number
  /** Misses over requests. */
  missRatio: number
  /** Bytes of the missed requests over bytes requested. */
  byteMissRatio: number
}

export interface CacheReplayResult {
  requests: number
  items: number
  workingSetBytes: number
  skippedZeroSize: number
  /** Passes over the file: 2 when a size was a percentage (the first pass measures the working set). */
  passes: number
  runs: CacheRunResult[]
}

export interface CacheReplayOptions {
  /** Every request's answer per run (for the test that checks the replay against the policies driven directly). */
  onAccess?: (run: number, item: number, hit: boolean) => void
  onProgress?: (requests: number) => void
}

/** The sum of the sizes of the trace's distinct objects, by a whole pass (leaves the reader rewound). */
export function workingSet (reader: TraceReader, onProgress?: (requests: number) => void): number {
  while (reader.next() !== null) onProgress?.(reader.requests)
  let ws = 0
  for (let i = 0; i < reader.items; i++) ws += reader.itemSize[i]!
  reader.rewind()
  return ws
}

export function replayCache (reader: TraceReader, policies: readonly EvictionPolicyName[], sizes: readonly CacheSize[], opts: CacheReplayOptions = {}): CacheReplayResult {
  if (policies.length * sizes.length > MAX_CACHE_RUNS) throw new CacheSizeError(`${policies.length} policies × ${sizes.length} sizes is more than ${MAX_CACHE_RUNS} caches in one run`)
  let passes = 1
  let ws = -1
  if (sizes.some(s => s.percent !== undefined)) {
    ws = workingSet(reader, opts.onProgress)
    passes = 2
  }
  const runs: Array<{ policy: EvictionPolicy<number>, name: EvictionPolicyName, size: string, hits: number, hitBytes: number }> = []
  for (const name of policies) {
    for (const s of sizes) {
      const cap = s.bytes ?? Math.floor(ws * s.percent! / 100)
      runs.push({ policy: createEvictionPolicy<number>(name, cap), name, size: s.label, hits: 0, hitBytes: 0 })
    }
  }
  let requestedBytes = 0
  const onAccess = opts.onAccess
  let b
  while ((b = reader.next()) !== null) {
    const n = b.n; const item = b.item; const size = b.size
    for (let i = 0; i < n; i++) requestedBytes += size[i]!
    for (let r = 0; r < runs.length; r++) {
      const run = runs[r]!
      const p = run.policy
      let hits = 0; let hitBytes = 0
      for (let i = 0; i < n; i++) {
        const k = item[i]!
        const hit = p.touch(k)
        if (hit) { hits++; hitBytes += size[i]! } else p.insert(k, size[i]!)
        if (onAccess !== undefined) onAccess(r, k, hit)
      }
      run.hits += hits; run.hitBytes += hitBytes
    }
    opts.onProgress?.(reader.requests)
  }
  const requests = reader.requests
  if (ws < 0) { ws = 0; for (let i = 0; i < reader.items; i++) ws += reader.itemSize[i]! }
  return {
    requests,
    items: reader.items,
    workingSetBytes: ws,
    skippedZeroSize: reader.skippedZeroSize,
    passes,
    runs: runs.map(r => ({
      policy: r.name,
      size: r.size,
      capacityBytes: r.policy.capacityBytes,
      requests,
      hits: r.hits,
      requestedBytes,
      hitBytes: r.hitBytes,
      missRatio: requests === 0 ? 0 : (requests - r.hits) / requests,
      byteMissRatio: requestedBytes === 0 ? 0 : (requestedBytes - r.hitBytes) / requestedBytes
    }))
  }
}
