/**
 * What encryption (issue 14) costs, encrypted against plaintext in one run,
 * on real processes on 127.0.0.1:
 *  1. the cipher alone, in process: AES-256-CTR over 1 MiB chunks through
 *     OpenSSL (main and the CLI) and WebCrypto (the browser's path);
 *  2. ingest over HTTP into one main: the same file plain and encrypted,
 *     alternately, REELNET_BENCH_CRYPT_ROUNDS times (median MiB/s);
 *  3. download and `reelnet play`: a parent and an edge, one item plain and
 *     one encrypted; each downloaded by `reelnet play` (MiB/s from its
 *     summary), then read whole from its local URL once complete (from disk,
 *     decrypted on the fly for the encrypted one: play-decrypt MiB/s).
 * Goal (issue 14): ingest and download not slower by more than 10 %.
 * REELNET_BENCH_CRYPT_SIZE (default 256MiB), REELNET_BENCH_CRYPT_ROUNDS (3).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import { tmpdir, loadavg, cpus } from 'node:os'
import { join } from 'node:path'
import { randomBytes, randomFillSync } from 'node:crypto'
import { startMainProcess } from './main-process.ts'
import { Network, createCustomer, runClient, waitJson, nodeStatus, ADMIN_TOKEN, type Proc } from '../test/e2e/client-net.ts'
import { bytesFlag } from '../cli/command.ts'
import { cryptAt, webCryptoAesCtr } from '../protocol/content-crypto.ts'
import { nodeAesCtr } from '../protocol/aes-ctr-node.ts'

const MIB = 1024 * 1024
const SIZE = bytesFlag('REELNET_BENCH_CRYPT_SIZE', process.env.REELNET_BENCH_CRYPT_SIZE, 256 * MIB)
const ROUNDS = Math.max(1, Number(process.env.REELNET_BENCH_CRYPT_ROUNDS ?? 3))
const ADMIN = 'bench-admin-token-0123456789'

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN }
const pct = (enc: number, plain: number): string => `${((enc / plain - 1) * 100).toFixed(1)} %`

async function cipherAlone (): Promise<void> {
  const data = randomBytes(64 * MIB)
  const key = new Uint8Array(randomBytes(32))
  const place = { itemId: 'bench', version: 1, chunkSize: MIB }
  for (const [name, aes] of [['OpenSSL (node:crypto)', nodeAesCtr], ['WebCrypto', webCryptoAesCtr()]] as const) {
    const runs: number[] = []
    for (let r = 0; r < 3; r++) {
      const t = performance.now()
      for (let i = 0; i < 64; i++) await cryptAt(aes, key, place, i * MIB, data.subarray(i * MIB, (i + 1) * MIB))
      runs.push(64 / ((performance.now() - t) / 1000))
    }
    console.log(`AES-256-CTR alone, ${name}, 64 MiB in 1 MiB chunks: ${median(runs).toFixed(0)} MiB/s (median of 3)`)
  }
}

async function ingestOnce (url: string, file: string, encrypt: boolean, title: string): Promise<number> {
  const t = performance.now()
  const body = Readable.toWeb(createReadStream(file, { highWaterMark: MIB })) as ReadableStream<Uint8Array>
  const res = await fetch(`${url}/v1/items?title=${encodeURIComponent(title)}&encrypt=${String(encrypt)}`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/octet-stream', 'content-length': String(SIZE) }, body, duplex: 'half'
  } as RequestInit)
  const answer = await res.json() as { encrypted?: boolean }
  if (res.status !== 201 && res.status !== 200) throw new Error(`ingest: ${res.status} ${JSON.stringify(answer)}`)
  if (answer.encrypted !== encrypt) throw new Error(`asked encrypt=${encrypt}, main says encrypted=${String(answer.encrypted)}`)
  return SIZE / MIB / ((performance.now() - t) / 1000)
}

async function ingest (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'reelnet-bench-crypt-ingest-'))
  try {
    const file = join(dir, 'item.bin')
    const block = Buffer.allocUnsafe(MIB)
    const main = await startMainProcess(join(dir, 'main'), ['--admin-token', ADMIN, '--operator-token', ADMIN + '-op'])
    try {
      const plain: number[] = []
      const enc: number[] = []
      for (let r = 0; r < ROUNDS; r++) {
        // fresh bytes every round: main's origin keeps one file per chunk hash, so plaintext chunks ingested
        // before would not be written again (an encrypted ingest's chunks are always new)
        const parts: Buffer[] = []
        for (let i = 0; i < SIZE / MIB; i++) parts.push(Buffer.from(randomFillSync(block)))
        writeFileSync(file, Buffer.concat(parts))
        // and the order alternates, so neither always finds the file in the page cache first
        for (const encrypt of r % 2 === 0 ? [false, true] : [true, false]) {
          const rate = await ingestOnce(main.url, file, encrypt, `${encrypt ? 'encrypted' : 'plain'} ${r}`)
          ;(encrypt ? enc : plain).push(rate)
        }
      }
      console.log(`ingest ${(SIZE / MIB).toFixed(0)} MiB over HTTP, ${ROUNDS} rounds alternating: plaintext ${median(plain).toFixed(0)} MiB/s, encrypted ${median(enc).toFixed(0)} MiB/s (${pct(median(enc), median(plain))}; goal: no worse than -10 %) [plain ${plain.map(x => x.toFixed(0)).join('/')}, encrypted ${enc.map(x => x.toFixed(0)).join('/')}]`)
    } finally {
      await main.stop()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function readWhole (url: string): Promise<number> {
  const t = performance.now()
  const res = await fetch(url, { signal: AbortSignal.timeout(10 * 60_000) })
  let n = 0
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) n += part.byteLength
  if (n !== SIZE) throw new Error(`play served ${n} bytes, not ${SIZE}`)
  return SIZE / MIB / ((performance.now() - t) / 1000)
}

async function download (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'reelnet-bench-crypt-play-'))
  const net = new Network({ dir, regions: [{ name: 'bc', parents: 1, edges: 1 }] })
  const procs: Proc[] = []
  try {
    await net.start()
    const ids: Record<'plain' | 'encrypted', string> = { plain: '', encrypted: '' }
    for (const kind of ['plain', 'encrypted'] as const) {
      const res = await fetch(`${net.mainUrl}/v1/items?title=${kind}.bin&encrypt=${String(kind === 'encrypted')}`, {
        method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/octet-stream' }, body: randomBytes(SIZE), signal: AbortSignal.timeout(10 * 60_000)
      })
      if (!res.ok) throw new Error(`ingest: ${res.status} ${await res.text()}`)
      ids[kind] = ((await res.json()) as { itemId: string }).itemId
    }
    const [parent] = net.nodesOf('bc', 'parent')
    const deadline = Date.now() + 10 * 60_000
    while (!Object.values(ids).every(id => true && id !== '') || !(((await nodeStatus(parent!)).heldItems as string[]).includes(ids.plain) && ((await nodeStatus(parent!)).heldItems as string[]).includes(ids.encrypted))) {
      if (Date.now() > deadline) throw new Error('the parent did not hold both items within 10 minutes')
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    const rows: Record<string, { cold: number, warm: number, play: number }> = {}
    for (const kind of ['plain', 'encrypted', 'plain', 'encrypted'] as const) {
      const run = async (name: string): Promise<{ rate: number, url: string, p: Proc }> => {
        const c = await createCustomer(net, name, 'bc')
        const p = runClient(c, ['play', ids[kind], '--rent', '--json', '-o', join(c.configDir, 'item.bin')])
        procs.push(p)
        const { url } = await waitJson(p, o => o.type === 'listening', 10 * 60_000)
        const done = await waitJson(p, o => o.type === 'done', 30 * 60_000) as { seconds: number, doneBytes: number }
        return { rate: done.doneBytes / MIB / done.seconds, url: url as string, p }
      }
      // the first viewer fills the edge from the parent (cold), the second gets it from the warm edge
      const cold = await run(`${kind}-cold-${Object.keys(rows).length}`)
      cold.p.kill('SIGTERM')
      const warm = await run(`${kind}-warm-${Object.keys(rows).length}`)
      const play = await readWhole(warm.url)
      warm.p.kill('SIGTERM')
      const prev = rows[kind]
      rows[kind] = prev === undefined ? { cold: cold.rate, warm: warm.rate, play } : { cold: (prev.cold + cold.rate) / 2, warm: (prev.warm + warm.rate) / 2, play: (prev.play + play) / 2 }
      console.log(`  ${kind}: reelnet play download cold ${cold.rate.toFixed(0)} MiB/s, warm edge ${warm.rate.toFixed(0)} MiB/s; whole item read back from play's URL ${play.toFixed(0)} MiB/s`)
    }
    const p = rows.plain!
    const e = rows.encrypted!
    console.log(`download ${(SIZE / MIB).toFixed(0)} MiB through parent and edge (mean of 2 each): cold ${p.cold.toFixed(0)} → ${e.cold.toFixed(0)} MiB/s (${pct(e.cold, p.cold)}), warm edge ${p.warm.toFixed(0)} → ${e.warm.toFixed(0)} MiB/s (${pct(e.warm, p.warm)}); goal: no worse than -10 %`)
    console.log(`reelnet play serving a complete item from disk: plaintext ${p.play.toFixed(0)} MiB/s, decrypting ${e.play.toFixed(0)} MiB/s (${pct(e.play, p.play)})`)
  } finally {
    for (const p of procs) p.kill('SIGTERM')
    await net.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function run (): Promise<void> {
  console.log(`load average ${loadavg().map(x => x.toFixed(1)).join(' ')} on ${cpus().length} cores at the start`)
  const which = (process.env.REELNET_BENCH_ONLY ?? 'cipher,ingest,download').split(',')
  if (which.includes('cipher')) await cipherAlone()
  if (which.includes('ingest')) await ingest()
  if (which.includes('download')) await download()
  console.log(`load average ${loadavg().map(x => x.toFixed(1)).join(' ')} at the end`)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await run()
}
