import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { sha256, verifyChunk } from '../../protocol/chunking.ts'
import { merkleRoot } from '../../protocol/merkle.ts'
import type { Manifest } from '../../protocol/types.ts'
import { PartFile } from './resume.ts'
import { Scheduler, type DownloadSource } from './scheduler.ts'
import { parseRange, startPlayServer } from './play-server.ts'

const CHUNK = 16 * 1024
const data = randomBytes(CHUNK * 64 - 999)
const count = Math.ceil(data.length / CHUNK)
const chunkHashes = Array.from({ length: count }, (_, i) => sha256(data.subarray(i * CHUNK, Math.min(data.length, (i + 1) * CHUNK))))
const manifest: Manifest = { itemId: 'movie-1', title: 'movie.mp4', size: data.length, chunkSize: CHUNK, chunkCount: count, chunkHashes, merkleRoot: merkleRoot(chunkHashes), version: 1 }
const dir = mkdtempSync(join(tmpdir(), 'reelnet-play-'))

test('parseRange follows RFC 9110 for single ranges', () => {
  assert.equal(parseRange(undefined, 100), undefined)
  assert.equal(parseRange('bytes=0-9', 100), { start: 0, end: 9 })
  assert.equal(parseRange('bytes=90-', 100), { start: 90, end: 99 })
  assert.equal(parseRange('bytes=-10', 100), { start: 90, end: 99 })
  assert.equal(parseRange('bytes=-1000', 100), { start: 0, end: 99 })
  assert.equal(parseRange('bytes=50-5000', 100), { start: 50, end: 99 })
  assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable')
  assert.equal(parseRange('bytes=-0', 100), 'unsatisfiable')
  assert.equal(parseRange('bytes=9-3', 100), undefined)
  assert.equal(parseRange('bytes=0-1,5-6', 100), undefined)
  assert.equal(parseRange('items=0-1', 100), undefined)
})

test('ranged requests while downloading are byte-exact; the end is served before the download reaches it', async () => {
  const part = await PartFile.open(join(dir, 'movie.mp4'), manifest)
  const slow: DownloadSource = {
    id: 'edge',
    kind: 'edge',
    async fetch (indexes, { signal, onChunk }) {
      for (const i of indexes) {
        await new Promise((resolve, reject) => { const t = setTimeout(resolve, 15); signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason) }, { once: true }) })
        onChunk(i, data.subarray(i * CHUNK, Math.min(data.length, (i + 1) * CHUNK)))
      }
    }
  }
  const scheduler = new Scheduler({
    chunkCount: count,
    chunkLength: i => Math.min(CHUNK, data.length - i * CHUNK),
    verify: (i, b) => { try { verifyChunk(manifest, i, b); return true } catch { return false } },
    store: async (i, b) => { await part.write(i, b) },
    limits: { maxWindow: 2, initialWindow: 2, maxBatch: 1 }
  })
  scheduler.addSources([slow])
  const run = scheduler.run()
  const play = await startPlayServer({ manifest, scheduler, part })
  try {
    // the last 20 KiB first: a player probing the end of an MP4
    const tail = await fetch(play.url, { headers: { range: 'bytes=-20480' } })
    assert.equal(tail.status, 206)
    assert.equal(tail.headers.get('content-range'), `bytes ${data.length - 20480}-${data.length - 1}/${data.length}`)
    assert.equal(tail.headers.get('accept-ranges'), 'bytes')
    assert.equal(tail.headers.get('content-length'), '20480')
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(data.subarray(data.length - 20480)))
    assert.ok(scheduler.stats().doneChunks < count / 2, `the tail came after ${scheduler.stats().doneChunks} of ${count} chunks`)

    let seed = 7
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
    for (let k = 0; k < 6; k++) {
      const a = rnd(data.length)
      const b = Math.min(data.length - 1, a + rnd(3 * CHUNK))
      const res = await fetch(play.url, { headers: { range: `bytes=${a}-${b}` } })
      assert.equal(res.status, 206)
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(data.subarray(a, b + 1)), `range ${a}-${b}`)
    }
    const bad = await fetch(play.url, { headers: { range: `bytes=${data.length}-` } })
    assert.equal(bad.status, 416)
    assert.equal(bad.headers.get('content-range'), `bytes */${data.length}`)
    await bad.arrayBuffer()
    const head = await fetch(play.url, { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(head.headers.get('content-length'), String(data.length))
    const whole = await fetch(play.url)
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(data))
    await run
    await part.finish()
    const after = await fetch(play.url, { headers: { range: 'bytes=100-199' } })
    assert.ok(Buffer.from(await after.arrayBuffer()).equals(data.subarray(100, 200)))
  } finally {
    await play.close()
    await part.close()
  }
})

test.after(() => { rmSync(dir, { recursive: true, force: true }) })
test.run()
