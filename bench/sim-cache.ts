/**
 * `reelnet sim cache` at scale: generated Zipf(0.8) traces in libCacheSim's
 * oracleGeneral format (object sizes 1 KiB to 1 MiB, fixed per object),
 * replayed through lru, sieve and s3fifo at 0.1%, 1% and 10% of the working
 * set (nine caches, two passes), each in a fresh `reelnet sim cache`
 * process. Three traces show that memory follows the distinct objects, not
 * the requests: 10^6 requests over 10^5 objects, 10^7 over the same 10^5,
 * and 10^7 over 10^6. Prints each run's table, requests/s and peak RSS.
 * The traces (up to 240 MB) are written to the temp folder and deleted.
 *
 *   node_modules/.bin/node --import tsx bench/sim-cache.ts [--requests N]
 */
import { spawnSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Rng, Zipf } from '../protocol/random.ts'
import { ORACLE_RECORD_BYTES } from '../sim/trace/read.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
/** Records written per write call. */
const WRITE_BATCH = 1 << 16
const ZIPF_ALPHA = 0.8

/** Write `requests` Zipf(alpha) requests over `objects` objects as an oracleGeneral file; returns its path. */
export function writeZipfTrace (path: string, requests: number, objects: number, seed = 1): void {
  const rng = new Rng(seed)
  const zipf = new Zipf(objects, ZIPF_ALPHA)
  // ids scattered over 64 bits (as libCacheSim's hashed ids are); sizes 1 KiB to 1 MiB
  const sizeRng = new Rng(seed + 1)
  const size = new Uint32Array(objects).map(() => 1024 + Math.floor(sizeRng.next() * ((1 << 20) - 1024)))
  const idHi = new Uint32Array(objects).map(() => Math.floor(sizeRng.next() * 2 ** 32))
  const buf = Buffer.alloc(WRITE_BATCH * ORACLE_RECORD_BYTES)
  const fd = openSync(path, 'w')
  try {
    for (let done = 0; done < requests;) {
      const n = Math.min(WRITE_BATCH, requests - done)
      for (let i = 0; i < n; i++) {
        const o = zipf.sample(rng)
        const at = i * ORACLE_RECORD_BYTES
        buf.writeUInt32LE(Math.floor((done + i) / 1000), at)
        buf.writeUInt32LE(o, at + 4)
        buf.writeUInt32LE(idHi[o]!, at + 8)
        buf.writeUInt32LE(size[o]!, at + 12)
        buf.writeBigInt64LE(-1n, at + 16)
      }
      writeSync(fd, buf, 0, n * ORACLE_RECORD_BYTES)
      done += n
    }
  } finally {
    closeSync(fd)
  }
}

export async function run (maxRequests = 10_000_000): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'reelnet-bench-cache-'))
  // requests x10 over the same objects, then objects x10 over the same requests
  const cases: Array<[number, number]> = [[Math.min(1_000_000, maxRequests), 100_000], [maxRequests, 100_000], [maxRequests, 1_000_000]]
  try {
    for (const [requests, objects] of cases) {
      const trace = join(dir, `zipf-${requests}-${objects}.oracleGeneral`)
      const t0 = performance.now()
      writeZipfTrace(trace, requests, objects)
      console.log(`\ntrace: ${requests.toLocaleString('en')} requests over ${objects.toLocaleString('en')} objects, Zipf(${ZIPF_ALPHA}), written in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
      const r = spawnSync(join(ROOT, 'node_modules/.bin/node'), [join(ROOT, 'bin/reelnet.js'), 'sim', 'cache', trace, '--policy', 'lru,sieve,s3fifo', '--size', '0.1%,1%,10%', '--out', dir, '-q'], { encoding: 'utf8' })
      process.stdout.write(r.stdout)
      if (r.status !== 0) { process.stderr.write(r.stderr); process.exitCode = 1 }
      rmSync(trace)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--requests')
  await run(i > 0 ? Number(process.argv[i + 1]) : undefined)
}
