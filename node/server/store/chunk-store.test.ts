import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, readdir, rm, truncate, writeFile, readFile, mkdir, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ChunkStore, sha256, hex, StoreFullError, TEMP_MARKER, REHASH_AFTER_MS, RECENT_CHUNK_BYTES, DIRECT_IO_ALIGN, directWriteStats } from './chunk-store.ts'
import type { EvictionPolicy } from '../../../protocol/policy/eviction.ts'
import { verifiedChunk, type VerifiedChunk } from '../../../protocol/chunking.ts'
import { ChunkHashMismatchError } from '../../../protocol/errors.ts'
import type { Manifest } from '../../../protocol/types.ts'
import { chunkReadBuffers } from '../../net/chunk-buffers.ts'

/** A minimal LRU, so these tests check the store and not a particular protocol/ policy. */
function lru (capacityBytes: number): EvictionPolicy<string> {
  const m = new Map<string, number>()
  let used = 0
  return {
    name: 'test-lru',
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

async function tmp (): Promise<string> { return await mkdtemp(join(tmpdir(), 'reelnet-store-')) }
function chunk (n: number): { bytes: Uint8Array, hash: Uint8Array } { const bytes = randomBytes(n); return { bytes, hash: sha256(bytes) } }
function fileOf (dir: string, hash: Uint8Array): string { const h = hex(hash); return join(dir, 'chunks', h.slice(0, 2), h) }

test('a stored chunk reads back byte for byte, and survives a reopen', async () => {
  const dir = await tmp()
  try {
    let s = await ChunkStore.open(dir, { capacityBytes: 1 << 20, policy: lru(1 << 20) })
    const c = chunk(1000)
    assert.ok(await s.put(c.hash, c.bytes))
    assert.equal(Buffer.from((await s.get(c.hash))!), Buffer.from(c.bytes))
    assert.is(s.usedBytes, 1000)
    await s.close()
    s = await ChunkStore.open(dir, { capacityBytes: 1 << 20, policy: lru(1 << 20) })
    assert.ok(s.has(c.hash))
    assert.is(s.reconcile.kept, 1)
    assert.equal(Buffer.from((await s.get(c.hash))!), Buffer.from(c.bytes))
    await s.close()
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('bytes that do not match the hash are refused and leave nothing behind', async () => {
  const dir = await tmp()
  try {
    const s = await ChunkStore.open(dir, { capacityBytes: 1 << 20, policy: lru(1 << 20) })
    const c = chunk(100)
    const bad = Uint8Array.from(c.bytes); bad[0] = bad[0]! ^ 1
    try { await s.put(c.hash, bad); assert.unreachable('should refuse') } catch (e) { assert.is((e as Error).name, 'ChunkHashMismatchError') }
    assert.not.ok(s.has(c.hash))
    assert.is(s.usedBytes, 0)
    await s.close()
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('reconcile at open discards temp files, truncated files, corrupt orphans, and adopts good orphans', async () => {
  const dir = await tmp()
  try {
    let s = await ChunkStore.open(dir, { capacityBytes: 1 << 20, policy: lru(1 << 20) })
    const kept = chunk(500); const truncated = chunk(500)
    await s.put(kept.hash, kept.bytes); await s.put(truncated.hash, truncated.bytes)
    await s.close()
    await truncate(fileOf(dir, truncated.hash), 100)
    // a partial write left by a crash
    const partial = chunk(500)
    await mkdir(join(dir, 'chunks', hex(partial.hash).slice(0, 2)), { recursive: true })
    await writeFile(fileOf(dir, partial.hash) + TEMP_MARKER + 'dead', partial.bytes.subarray(0, 200))
    // renamed but never indexed (SIGKILL between rename and index write): good → adopted
    const orphan = chunk(300)
    await mkdir(join(dir, 'chunks', hex(orphan.hash).slice(0, 2)), { recursive: true })
    await writeFile(fileOf(dir, orphan.hash), orphan.bytes)
    // a file under a final name whose bytes are not its hash
    const liar = chunk(300)
    await mkdir(join(dir, 'chunks', hex(liar.hash).slice(0, 2)), { recursive: true })
    await writeFile(fileOf(dir, liar.hash), randomBytes(300))

    s = await ChunkStore.open(dir, { capacityBytes: 1 << 20, policy: lru(1 << 20) })
    assert.ok(s.has(kept.hash))
    assert.ok(s.has(orphan.hash))
    assert.not.ok(s.has(truncated.hash))
    assert.not.ok(s.has(liar.hash))
    assert.not.ok(s.has(partial.hash))
    assert.is(s.reconcile.tempFilesRemoved, 1)
    assert.is(s.reconcile.adopted, 1)
    assert.is(s.usedBytes, 800)
    const leftover = (await readdir(join(dir, 'chunks', hex(partial.hash).slice(0, 2))))
    assert.not.ok(leftover.some(n => n.includes(TEMP_MARKER)))
    await s.close()
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('a chunk corrupted on disk is discarded on the first read after a restart, never returned', async () => {
  const dir = await tmp()
  try {
    let s = await ChunkStore.open(dir, { capacityBytes: 1 << 20, policy: lru(1 << 20) })
    const c = chunk(4096)
    await s.put(c.hash, c.bytes)
    await s.close()
    const onDisk = await readFile(fileOf(dir, c.hash))
    onDisk[17] = onDisk[17]! ^ 0x40
    await writeFile(fileOf(dir, c.hash), onDisk)
    s = await ChunkStore.open(dir, { capacityBytes: 1 << 20, policy: lru(1 << 20) })
    assert.is(await s.get(c.hash), null)
    assert.not.ok(s.has(c.hash))
    assert.is(s.corruptOnRead, 1)
    assert.is(s.usedBytes, 0)
    await s.close()
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('a chunk file grown on disk (right bytes, then more) is discarded on read too', async () => {
  const dir = await tmp()
  try {
    const s = await ChunkStore.open(dir, { capacityBytes: 1 << 20, policy: lru(1 << 20) })
    const c = chunk(1 << 16)
    await s.put(c.hash, c.bytes)
    await writeFile(fileOf(dir, c.hash), Buffer.concat([c.bytes, Buffer.from('x')]))
    assert.is(await s.get(c.hash), null)
    assert.not.ok(s.has(c.hash))
    await s.close()
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('a chunk subdirectory removed behind the store is made again on the next write', async () => {
  const dir = await tmp()
  try {
    const s = await ChunkStore.open(dir, { capacityBytes: 1 << 20, policy: lru(1 << 20) })
    const a = chunk(100)
    await s.put(a.hash, a.bytes)
    await s.delete(a.hash)
    await rm(join(dir, 'chunks', hex(a.hash).slice(0, 2)), { recursive: true })
    assert.ok(await s.put(a.hash, a.bytes))
    assert.equal(await s.get(a.hash), a.bytes)
    await s.close()
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('a chunk hashed on its way in or on a read is not hashed again within REHASH_AFTER_MS; after it, rot on disk is caught', async () => {
  const dir = await tmp()
  try {
    let now = 1_000_000
    const s = await ChunkStore.open(dir, { capacityBytes: 1 << 20, policy: lru(1 << 20), now: () => now })
    const c = chunk(4096)
    await s.put(c.hash, c.bytes)
    assert.equal(await s.get(c.hash), c.bytes)
    const onDisk = await readFile(fileOf(dir, c.hash))
    onDisk[17] = onDisk[17]! ^ 0x40
    await writeFile(fileOf(dir, c.hash), onDisk)
    // inside the window the store trusts its last check (every requester still verifies against the manifest)
    now += REHASH_AFTER_MS - 1
    assert.ok((await s.get(c.hash)) !== null)
    now += 1
    assert.is(await s.get(c.hash), null)
    assert.is(s.corruptOnRead, 1)
    await s.close()
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('putVerified trusts a VerifiedChunk from verifiedChunk, and hashes a cast one like put', async () => {
  const dir = await tmp()
  try {
    const s = await ChunkStore.open(dir, { capacityBytes: 1 << 20, policy: lru(1 << 20) })
    const c = chunk(1000)
    const manifest: Manifest = { itemId: 'x', title: 'x', size: 1000, chunkSize: 1000, chunkCount: 1, chunkHashes: [c.hash], merkleRoot: new Uint8Array(32), version: 1 }
    assert.ok(await s.putVerified(c.hash, verifiedChunk(manifest, 0, c.bytes)))
    assert.equal(await s.get(c.hash), c.bytes)
    // a caller that forged a VerifiedChunk (a cast) cannot make the store keep wrong bytes
    const other = chunk(1000)
    try {
      await s.putVerified(other.hash, randomBytes(1000) as Uint8Array as VerifiedChunk)
      assert.unreachable('a forged VerifiedChunk was stored')
    } catch (err) { assert.instance(err, ChunkHashMismatchError) }
    assert.not.ok(s.has(other.hash))
    assert.is(await s.get(other.hash), null)
    // a right one that was cast is stored (hashed here)
    const third = chunk(1000)
    assert.ok(await s.putVerified(third.hash, third.bytes as VerifiedChunk))
    assert.equal(await s.get(third.hash), third.bytes)
    await s.close()
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('the chunks stored last through putVerified are answered from memory, until deleted or pushed out', async () => {
  const dir = await tmp()
  try {
    const s = await ChunkStore.open(dir, { capacityBytes: 1 << 30, policy: null })
    const c = chunk(1000)
    const manifest: Manifest = { itemId: 'x', title: 'x', size: 1000, chunkSize: 1000, chunkCount: 1, chunkHashes: [c.hash], merkleRoot: new Uint8Array(32), version: 1 }
    const v = verifiedChunk(manifest, 0, c.bytes)
    await s.putVerified(c.hash, v)
    assert.is(await s.get(c.hash), v)
    await s.delete(c.hash)
    assert.is(await s.get(c.hash), null)
    // pushed out by RECENT_CHUNK_BYTES of newer chunks: read from disk again (a pooled buffer, equal bytes)
    await s.putVerified(c.hash, verifiedChunk(manifest, 0, c.bytes))
    const big = randomBytes(RECENT_CHUNK_BYTES)
    const bigHash = sha256(big)
    const bigManifest: Manifest = { itemId: 'y', title: 'y', size: big.length, chunkSize: big.length, chunkCount: 1, chunkHashes: [bigHash], merkleRoot: new Uint8Array(32), version: 1 }
    await s.putVerified(bigHash, verifiedChunk(bigManifest, 0, big))
    const again = (await s.get(c.hash))!
    assert.ok(chunkReadBuffers.owns(again))
    assert.equal(again, c.bytes)
    await s.close()
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('reads come in pooled buffers; a chunk handed back is used again, a corrupt read is never returned', async () => {
  const dir = await tmp()
  try {
    const s = await ChunkStore.open(dir, { capacityBytes: 1 << 20, policy: lru(1 << 20) })
    const a = chunk(5000)
    const b = chunk(5000)
    await s.put(a.hash, a.bytes); await s.put(b.hash, b.bytes)
    const ra = (await s.get(a.hash))!
    assert.ok(chunkReadBuffers.owns(ra))
    assert.equal(ra, a.bytes)
    chunkReadBuffers.recycle(ra)
    const rb = (await s.get(b.hash))!
    // the same backing memory, now holding b, and only b
    assert.is(rb.buffer, ra.buffer)
    assert.equal(rb, b.bytes)
    chunkReadBuffers.recycle(rb)
    await s.close()
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('with a policy the store evicts to stay under capacity; without one it refuses when full', async () => {
  const dir = await tmp()
  try {
    const s = await ChunkStore.open(join(dir, 'a'), { capacityBytes: 3000, policy: lru(3000) })
    const cs = [chunk(1000), chunk(1000), chunk(1000), chunk(1000), chunk(1000)]
    for (const c of cs) { await s.put(c.hash, c.bytes); assert.ok(s.usedBytes <= 3000) }
    assert.is(s.count, 3)
    assert.not.ok(s.has(cs[0]!.hash))
    assert.ok(s.has(cs[4]!.hash))
    const files = (await readdir(join(dir, 'a', 'chunks'), { recursive: true })).filter(n => /[0-9a-f]{64}$/.test(n))
    assert.is(files.length, 3)
    assert.not.ok(await s.put(chunk(4000).hash, randomBytes(1)).catch(() => false))
    await s.close()

    const p = await ChunkStore.open(join(dir, 'b'), { capacityBytes: 2000, policy: null })
    await p.put(cs[0]!.hash, cs[0]!.bytes); await p.put(cs[1]!.hash, cs[1]!.bytes)
    try { await p.put(cs[2]!.hash, cs[2]!.bytes); assert.unreachable('should refuse') } catch (e) { assert.instance(e, StoreFullError) }
    assert.is(p.count, 2)
    await p.close()
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('eviction order survives a restart', async () => {
  const dir = await tmp()
  try {
    let s = await ChunkStore.open(dir, { capacityBytes: 3000, policy: lru(3000) })
    const [a, b, c, d] = [chunk(1000), chunk(1000), chunk(1000), chunk(1000)]
    await s.put(a.hash, a.bytes); await s.put(b.hash, b.bytes); await s.put(c.hash, c.bytes)
    await s.get(a.hash) // a is now the most recently used; b the least
    await s.close()
    s = await ChunkStore.open(dir, { capacityBytes: 3000, policy: lru(3000) })
    await s.put(d.hash, d.bytes)
    assert.ok(s.has(a.hash))
    assert.not.ok(s.has(b.hash))
    await s.close()
  } finally { await rm(dir, { recursive: true, force: true }) }
})


test('concurrent writes that evict each other mid-write keep the store within its capacity, every file accounted', async () => {
  const dir = await tmp()
  try {
    const capacity = 4 * 4096
    const s = await ChunkStore.open(dir, { capacityBytes: capacity, policy: lru(capacity) })
    // 32 chunks written at once into room for 4: later inserts evict chunks whose files are still being written
    const chunks = Array.from({ length: 32 }, () => chunk(4096))
    await Promise.all(chunks.map(async c => await s.put(c.hash, c.bytes)))
    assert.ok(s.usedBytes <= capacity, `within capacity: ${s.usedBytes} of ${capacity}`)
    const onDisk: string[] = []
    for (const sub of await readdir(join(dir, 'chunks'))) onDisk.push(...(await readdir(join(dir, 'chunks', sub))))
    assert.is(onDisk.length * 4096, s.usedBytes, `every file on disk is counted: ${onDisk.length} files, ${s.usedBytes} bytes`)
    let held = 0
    for (const c of chunks) if (await s.get(c.hash) !== null) held++
    assert.is(held, onDisk.length, 'every file on disk reads back')
    await s.close()
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('a verified chunk is written directly where the file system takes it, at its exact size, and reads back from disk', async () => {
  const dir = await tmp()
  try {
    let s = await ChunkStore.open(dir, { capacityBytes: 8 << 20, policy: lru(8 << 20) })
    // one a multiple of the alignment, one padded and cut back, one smaller than a block
    const sizes = [1 << 20, (1 << 20) + 123, 777]
    const cs = sizes.map(n => chunk(n))
    const m: Manifest = { itemId: 'd', title: 'd', size: 0, chunkSize: 0, chunkCount: cs.length, chunkHashes: cs.map(c => c.hash), merkleRoot: new Uint8Array(32), version: 1 }
    const before = directWriteStats().written
    for (const [i, c] of cs.entries()) assert.ok(await s.putVerified(c.hash, verifiedChunkAt(m, i, c.bytes)))
    const stats = directWriteStats()
    // ext4 and xfs take O_DIRECT; tmpfs refuses it, and the store then writes through the page cache
    if (stats.enabled) assert.is(stats.written - before, cs.length, 'every verified chunk written directly')
    for (const c of cs) assert.is((await stat(fileOf(dir, c.hash))).size, c.bytes.length, 'padding to DIRECT_IO_ALIGN cut back')
    assert.is(DIRECT_IO_ALIGN % 512, 0)
    await s.close()
    // after a reopen nothing is in memory: the bytes come from the files, hashed on this first read
    s = await ChunkStore.open(dir, { capacityBytes: 8 << 20, policy: lru(8 << 20) })
    assert.is(s.reconcile.kept, cs.length)
    for (const c of cs) assert.equal(Buffer.from((await s.get(c.hash))!), Buffer.from(c.bytes))
    assert.is(s.corruptOnRead, 0)
    await s.close()
  } finally { await rm(dir, { recursive: true, force: true }) }
})

/** verifiedChunk for chunk i of a manifest whose chunks all have this chunk's length (the last one included). */
function verifiedChunkAt (m: Manifest, i: number, bytes: Uint8Array): VerifiedChunk {
  return verifiedChunk({ ...m, chunkSize: bytes.length, size: bytes.length * m.chunkCount }, i, bytes)
}

test.run()
