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
import { Scheduler } from '../download/engine.ts'
import type { DownloadSource } from '../download/source.ts'
import { parseRange, sniffContainer, startPlayServer } from './play-server.ts'
import { cryptAt } from '../../protocol/content-crypto.ts'
import { nodeAesCtr } from '../../protocol/aes-ctr-node.ts'

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
  // The download's progress is held to the play server's asks, not to the clock: past chunk 0 (the type is read
  // from it) the source answers nothing until the play server has asked the scheduler for the end. A fixed pace
  // (15 ms a chunk) raced the tail request, which on a loaded machine could come after half the download.
  let askedForEnd!: () => void
  const endAsked = new Promise<void>(resolve => { askedForEnd = resolve })
  const slow: DownloadSource = {
    id: 'edge',
    kind: 'edge',
    async fetch (indexes, { signal, onChunk }) {
      for (const i of indexes) {
        if (i > 0) await Promise.race([endAsked, new Promise((resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true }) })])
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
  const prioritize = scheduler.prioritize.bind(scheduler)
  scheduler.prioritize = (first, last) => { if (last === count - 1) askedForEnd(); prioritize(first, last) }
  // how far the download was when the last chunk was stored (settles in the same turn, before any other chunk's timer)
  const doneAtEnd = scheduler.waitFor(count - 1).then(() => scheduler.stats().doneChunks)
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
    const done = await doneAtEnd
    assert.ok(done < count / 2, `the last chunk came after ${done} of ${count} chunks`)

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

/** The first bytes ffmpeg writes for each container (an `ftyp` box; EBML headers with DocType webm / matroska). */
const MP4_HEAD = Buffer.from('000000206674797069736f6d0000020069736f6d69736f32617663316d703431', 'hex')
const MOV_HEAD = Buffer.from('0000001466747970717420200000020071742020', 'hex')
const WEBM_HEAD = Buffer.from('1a45dfa39f4286810142f7810142f2810442f381084282847765626d4287810442858102', 'hex')
const MKV_HEAD = Buffer.from('1a45dfa3a34286810142f7810142f2810442f381084282886d6174726f736b614287810442858102', 'hex')

test('sniffContainer knows MP4, QuickTime, WebM, Matroska, MPEG-TS and MP3 by their first bytes', () => {
  assert.is(sniffContainer(MP4_HEAD), 'video/mp4')
  assert.is(sniffContainer(MOV_HEAD), 'video/quicktime')
  assert.is(sniffContainer(WEBM_HEAD), 'video/webm')
  assert.is(sniffContainer(MKV_HEAD), 'video/x-matroska')
  const ts = Buffer.alloc(400); ts[0] = 0x47; ts[188] = 0x47
  assert.is(sniffContainer(ts), 'video/mp2t')
  assert.is(sniffContainer(Buffer.from('ID3\x04\x00', 'latin1')), 'audio/mpeg')
  assert.is(sniffContainer(randomBytes(0)), undefined)
  assert.is(sniffContainer(Buffer.from('PK\x03\x04 a zip file, not a video', 'latin1')), undefined)
  assert.is(sniffContainer(MP4_HEAD.subarray(0, 7)), undefined, 'too short to tell')
})

test('a title without an extension is served with the type its bytes show, so a browser plays it', async () => {
  // random bytes but the first: 0x47 there and at 188 (1 in 65,536 for random bytes) would read as MPEG-TS
  const unknown = Buffer.concat([Uint8Array.of(0), randomBytes(63)])
  for (const [head, type] of [[MP4_HEAD, 'video/mp4'], [WEBM_HEAD, 'video/webm'], [MKV_HEAD, 'video/x-matroska'], [unknown, 'application/octet-stream']] as const) {
    const body = Buffer.concat([head, randomBytes(3 * CHUNK)])
    const n = Math.ceil(body.length / CHUNK)
    const hashes = Array.from({ length: n }, (_, i) => sha256(body.subarray(i * CHUNK, Math.min(body.length, (i + 1) * CHUNK))))
    const m: Manifest = { itemId: `film-${type.replace(/\W/g, '')}`, title: 'Our Summer Film', size: body.length, chunkSize: CHUNK, chunkCount: n, chunkHashes: hashes, merkleRoot: merkleRoot(hashes), version: 1 }
    const part = await PartFile.open(join(dir, m.itemId), m)
    const src: DownloadSource = {
      id: 'edge',
      kind: 'edge',
      async fetch (indexes, { onChunk }) {
        for (const i of indexes) {
          await new Promise(resolve => setTimeout(resolve, 5))
          onChunk(i, body.subarray(i * CHUNK, Math.min(body.length, (i + 1) * CHUNK)))
        }
      }
    }
    const scheduler = new Scheduler({
      chunkCount: n,
      chunkLength: i => Math.min(CHUNK, body.length - i * CHUNK),
      verify: (i, b) => { try { verifyChunk(m, i, b); return true } catch { return false } },
      store: async (i, b) => { await part.write(i, b) },
      limits: { maxWindow: 2, initialWindow: 2, maxBatch: 1 }
    })
    scheduler.addSources([src])
    const run = scheduler.run()
    const play = await startPlayServer({ manifest: m, scheduler, part })
    try {
      // a player's first probe asks for a range past the start; the type still comes from the first bytes
      const res = await fetch(play.url, { headers: { range: `bytes=${CHUNK}-${CHUNK + 99}` } })
      assert.is(res.status, 206)
      assert.is(res.headers.get('content-type'), type)
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(body.subarray(CHUNK, CHUNK + 100)))
      const head = await fetch(play.url, { method: 'HEAD' })
      assert.is(head.headers.get('content-type'), type)
      await run
    } finally {
      await play.close()
      await part.close()
    }
  }
})

test('an encrypted item: the part file holds ciphertext, every range is served decrypted, and once the licence ends every request is 403 with the reason', async () => {
  const key = new Uint8Array(randomBytes(32))
  const plain = Buffer.concat([MP4_HEAD, randomBytes(5 * CHUNK + 333)])
  const place = { itemId: 'secret-1', version: 2, chunkSize: CHUNK }
  const ct = Buffer.from(await cryptAt(nodeAesCtr, key, place, 0, plain))
  const n = Math.ceil(ct.length / CHUNK)
  const hashes = Array.from({ length: n }, (_, i) => sha256(ct.subarray(i * CHUNK, Math.min(ct.length, (i + 1) * CHUNK))))
  const m: Manifest = { itemId: 'secret-1', title: 'Secret', size: ct.length, chunkSize: CHUNK, chunkCount: n, chunkHashes: hashes, merkleRoot: merkleRoot(hashes), version: 2, encryption: { alg: 'aes-256-ctr', keyId: 'k' } }
  const part = await PartFile.open(join(dir, m.itemId), m)
  const scheduler = new Scheduler({
    chunkCount: n,
    chunkLength: i => Math.min(CHUNK, ct.length - i * CHUNK),
    verify: (i, b) => { try { verifyChunk(m, i, b); return true } catch { return false } },
    store: async (i, b) => { await part.write(i, b) },
    limits: { maxWindow: 2, initialWindow: 2, maxBatch: 1 }
  })
  scheduler.addSources([{
    id: 'edge',
    kind: 'edge',
    async fetch (indexes, { onChunk }) {
      for (const i of indexes) {
        await new Promise(resolve => setTimeout(resolve, 5))
        onChunk(i, ct.subarray(i * CHUNK, Math.min(ct.length, (i + 1) * CHUNK)))
      }
    }
  }])
  const run = scheduler.run()
  let ended = false
  const play = await startPlayServer({ manifest: m, scheduler, part, contentKey: () => key, ended: () => ended, endedMessage: () => 'your rental of Secret ended' })
  try {
    const whole = await fetch(play.url)
    assert.is(whole.status, 200)
    assert.is(whole.headers.get('content-type'), 'video/mp4', 'the type is sniffed from the decrypted first bytes')
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(plain))
    for (const [a, b] of [[0, 0], [15, 17], [CHUNK - 1, CHUNK], [CHUNK + 7, 3 * CHUNK + 9], [plain.length - 5, plain.length - 1]] as const) {
      const r = await fetch(play.url, { headers: { range: `bytes=${a}-${b}` } })
      assert.is(r.status, 206)
      assert.ok(Buffer.from(await r.arrayBuffer()).equals(plain.subarray(a, b + 1)), `range ${a}-${b}`)
    }
    await run
    assert.not.ok((await part.read(0, ct.length)).equals(plain), 'the part file is ciphertext')
    ended = true
    const after = await fetch(play.url, { headers: { range: 'bytes=0-99' } })
    assert.is(after.status, 403)
    assert.match(await after.text(), /your rental of Secret ended/)
  } finally {
    await play.close()
    await part.close()
  }
  // an encrypted item without its key plays nothing
  const part2 = await PartFile.open(join(dir, 'secret-2'), { ...m, itemId: 'secret-2' })
  const keyless = await startPlayServer({ manifest: { ...m, itemId: 'secret-2' }, scheduler, part: part2, contentKey: () => undefined })
  try {
    assert.is((await fetch(keyless.url)).status, 403)
  } finally {
    await keyless.close()
    await part2.close()
  }
})

test.after(() => { rmSync(dir, { recursive: true, force: true }) })
test.run()
