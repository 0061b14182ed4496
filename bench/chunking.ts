/**
 * Chunking + hashing throughput of ManifestBuilder over a generated 1 GiB
 * stream: one 1 MiB random buffer pushed again and again (whole, and in
 * 64 KiB slices), so the figure is the hashing and the builder's own
 * overhead, not the generation of input. Also with onChunk set (one copy per
 * chunk, as when main writes origin chunk files), and plain node:crypto
 * SHA-256 over the same bytes as the ceiling. Goal: >= 1,200 MiB/s.
 *
 *   node_modules/.bin/node --import tsx bench/chunking.ts
 */
import { createHash, randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { DEFAULT_CHUNK_SIZE, ManifestBuilder } from '../protocol/chunking.ts'

const MIB = 1024 * 1024
/** The stream each measurement hashes. */
const TOTAL_BYTES = 1024 * MIB
/** A short first pass so the JIT has settled before anything is timed. */
const WARMUP_BYTES = 64 * MIB
/** The goal from the Foundation issue: hashing must not be the bottleneck of a ~1 GB/s network path. */
const GOAL_MIB_S = 1200

function rate (bytes: number, ms: number): number {
  return (bytes / MIB) / (ms / 1000)
}

interface Figure { mibs: number, cpuMibs: number }

/** Wall-clock MiB/s, and MiB per second of this process's CPU time (steadier on a shared, busy machine). */
function timed (fn: () => void, bytes = TOTAL_BYTES): Figure {
  const cpu0 = process.cpuUsage()
  const start = performance.now()
  fn()
  const ms = performance.now() - start
  const cpu = process.cpuUsage(cpu0)
  return { mibs: rate(bytes, ms), cpuMibs: rate(bytes, (cpu.user + cpu.system) / 1000) }
}

function builderRun (slice: number, keepChunks: boolean, total = TOTAL_BYTES): Figure {
  const block = randomBytes(MIB)
  const b = new ManifestBuilder(DEFAULT_CHUNK_SIZE)
  let chunks = 0
  if (keepChunks) b.onChunk = () => { chunks++ }
  const fig = timed(() => {
    for (let pushed = 0; pushed < total; pushed += MIB) {
      for (let o = 0; o < MIB; o += slice) b.push(block.subarray(o, o + slice))
    }
    const m = b.finish({ itemId: 'bench', title: 'bench', version: 1 })
    if (m.size !== total || m.chunkCount !== total / DEFAULT_CHUNK_SIZE) throw new Error('bench: wrong manifest')
  }, total)
  if (keepChunks && chunks !== total / DEFAULT_CHUNK_SIZE) throw new Error('bench: onChunk missed chunks')
  return fig
}

function plainSha256 (): Figure {
  const block = randomBytes(MIB)
  return timed(() => {
    for (let pushed = 0; pushed < TOTAL_BYTES; pushed += MIB) createHash('sha256').update(block).digest()
  })
}

export async function run (): Promise<void> {
  builderRun(64 * 1024, true, WARMUP_BYTES) // warm-up (JIT, hash init)
  const ceiling = plainSha256()
  const whole = builderRun(MIB, false)
  const sliced = builderRun(64 * 1024, false)
  const copying = builderRun(64 * 1024, true)
  const fmt = (f: Figure) => `${f.mibs.toFixed(0).padStart(6)} MiB/s  (${f.cpuMibs.toFixed(0).padStart(5)} MiB per CPU-second)`
  console.log(`chunking+hashing, 1 GiB stream, ${DEFAULT_CHUNK_SIZE / MIB} MiB chunks:`)
  console.log(`  node:crypto sha256 alone (ceiling)   ${fmt(ceiling)}`)
  console.log(`  ManifestBuilder, 1 MiB pushes        ${fmt(whole)}`)
  console.log(`  ManifestBuilder, 64 KiB pushes       ${fmt(sliced)}`)
  console.log(`  ManifestBuilder, 64 KiB + onChunk    ${fmt(copying)}`)
  const slowest = Math.min(whole.mibs, sliced.mibs)
  console.log(`  goal >= ${GOAL_MIB_S} MiB/s (wall, without onChunk): ${slowest >= GOAL_MIB_S ? 'met' : 'NOT met'}, ` +
    `slowest ${slowest.toFixed(0)} MiB/s = ${((slowest / ceiling.mibs) * 100).toFixed(0)}% of the sha256 ceiling measured in this run`)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run()
