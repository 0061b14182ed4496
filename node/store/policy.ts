/**
 * The eviction policy an edge's store runs, from protocol/policy (S3-FIFO
 * by default). Loaded through the factory protocol/ exports; until that
 * factory exists in this tree, an LRU stands in (and says so).
 */
import type { EvictionPolicy, EvictionPolicyName } from '../../protocol/policy/eviction.ts'

export const DEFAULT_POLICY: EvictionPolicyName = 's3fifo'

type Factory = (name: EvictionPolicyName, capacityBytes: number) => EvictionPolicy<string>

export async function evictionPolicyFor (name: EvictionPolicyName, capacityBytes: number, log?: (msg: string) => void): Promise<EvictionPolicy<string>> {
  const mod = await import('../../protocol/policy/eviction.ts') as { createEvictionPolicy?: Factory }
  if (typeof mod.createEvictionPolicy === 'function') return mod.createEvictionPolicy(name, capacityBytes)
  log?.(`protocol/policy has no createEvictionPolicy yet: using a plain LRU instead of ${name}`)
  return lruPolicy(capacityBytes)
}

/** A plain byte-capacity LRU (the stand-in). */
export function lruPolicy (capacityBytes: number): EvictionPolicy<string> {
  const m = new Map<string, number>()
  let used = 0
  return {
    name: 'lru',
    capacityBytes,
    get usedBytes () { return used },
    get count () { return m.size },
    has: k => m.has(k),
    touch (k) { const s = m.get(k); if (s === undefined) return false; m.delete(k); m.set(k, s); return true },
    insert (k, size) {
      if (size > capacityBytes) return [k]
      const out: string[] = []
      for (const [key, s] of m) { if (used + size <= capacityBytes) break; m.delete(key); used -= s; out.push(key) }
      m.set(k, size); used += size
      return out
    },
    remove (k) { const s = m.get(k); if (s === undefined) return false; m.delete(k); used -= s; return true }
  }
}
