/**
 * Ingest of a generated 1 GiB file into a local main over HTTP, streamed:
 * throughput, and main's peak RSS (target < 300 MB — a 4 GiB item must not
 * need 4 GiB of RAM).
 *
 *   node_modules/.bin/node --import tsx bench/ingest.ts [sizeMiB]
 */
import { pathToFileURL } from 'node:url'
import { mkdtemp, rm, open, stat } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomFillSync } from 'node:crypto'
import { startMainProcess } from './main-process.ts'

const ADMIN = 'bench-admin-token-0123456789'
const DEFAULT_MIB = 1024

async function generate (path: string, mib: number): Promise<void> {
  const fh = await open(path, 'w')
  const block = new Uint8Array(1024 * 1024)
  try {
    for (let i = 0; i < mib; i++) {
      randomFillSync(block)
      await fh.write(block)
    }
  } finally {
    await fh.close()
  }
}

export async function run (mib = DEFAULT_MIB): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'reelnet-bench-ingest-'))
  try {
    const file = join(dir, 'item.bin')
    await generate(file, mib)
    const size = (await stat(file)).size
    const main = await startMainProcess(join(dir, 'main'), ['--admin-token', ADMIN, '--operator-token', ADMIN + '-op'])
    try {
      const rssBefore = await main.peakRssBytes()
      const started = performance.now()
      const body = Readable.toWeb(createReadStream(file, { highWaterMark: 1024 * 1024 })) as ReadableStream<Uint8Array>
      const res = await fetch(`${main.url}/v1/items?title=bench`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/octet-stream', 'content-length': String(size) },
        body,
        duplex: 'half'
      } as RequestInit)
      const answer = await res.json() as { itemId: string, chunkCount: number }
      const s = (performance.now() - started) / 1000
      if (res.status !== 201) throw new Error(`ingest failed: ${res.status} ${JSON.stringify(answer)}`)
      const peak = await main.peakRssBytes()
      console.log(`ingest ${mib} MiB (${answer.chunkCount} chunks of 1 MiB) over HTTP: ${s.toFixed(1)} s, ${(size / 2 ** 20 / s).toFixed(0)} MiB/s`)
      console.log(`load average ${(await import('node:os')).loadavg().map(x => x.toFixed(1)).join(' ')} on ${(await import('node:os')).cpus().length} cores`)
      console.log(`main peak RSS: ${(peak / 1e6).toFixed(0)} MB (after start-up: ${(rssBefore / 1e6).toFixed(0)} MB; target < 300 MB)`)
    } finally {
      await main.stop()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = process.argv[2]
  await run(arg === undefined ? DEFAULT_MIB : Number(arg))
}
