/**
 * Chunks on disk, content-addressed by SHA-256: `<dir>/chunks/<hh>/<hex>`.
 *
 * A chunk (its hash checked first) is written under its final name, and its
 * `level` index entry is written only after the write: a file with an entry
 * is a whole chunk, and a file without one (a write or an index batch cut
 * short by a crash) is hashed at open and adopted or deleted. The index
 * holds sizes and access order; a byte capacity is kept by an eviction
 * policy from protocol/ (edges), or, with no policy, by refusing new chunks
 * (parents hold everything). Reads re-hash (at most once per REHASH_AFTER_MS
 * per chunk, counting the hash on the way in): a file that no longer matches
 * its name is discarded and reported as missing, never returned.
 *
 * No fsync: durability comes from verification instead. A file damaged by a
 * crash fails its hash on read (or on adoption at open) and is refetched.
 */
import { createHash } from 'node:crypto'
import { constants as fsConstants, writeFile } from 'node:fs'
import { mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import type { EvictionPolicy } from '../../../protocol/policy/eviction.ts'
import { ChunkHashMismatchError } from '../../../protocol/errors.ts'
import { isVerifiedChunk, type VerifiedChunk } from '../../../protocol/chunking.ts'
import { CHUNK_HEADROOM_BYTES, chunkReadBuffers } from '../../net/chunk-buffers.ts'

/** Chunk hashes are SHA-256. */
export const HASH_BYTES = 32
/** Temporary files carried this marker (stores before issue 17's cold work wrote each chunk to one and renamed it); any left at open are deleted. */
export const TEMP_MARKER = '.tmp-'
/** Files hashed in parallel while reconciling at open. */
export const RECONCILE_CONCURRENCY = 8
/** Access order is written to the index in batches of this many touched keys (and on close). */
export const ACCESS_FLUSH_EVERY = 256
/**
 * New chunks' index entries are written in batches of this many (or after INDEX_FLUSH_MS, and on close), not one
 * level put per chunk (a filling edge's profile: 5 % of its busy time). A crash loses at most the batch: those
 * files are orphans at the next open, hashed and adopted (about 30 ms of SHA-256 per MiB-sized chunk batch of 32).
 */
export const INDEX_FLUSH_EVERY = 32
/** The longest a new chunk's index entry waits for its batch (an idle edge's last chunks). */
export const INDEX_FLUSH_MS = 1_000
/** The `<hh>` subdirectories of chunks/: made at open, so no chunk write pays a mkdir. */
const SUBDIRS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
/**
 * Bytes of the chunks stored last (from verifiedChunk, through putVerified) that get() answers from memory: a
 * filling edge sends most chunks it just filled right after (its lookahead asks for them before or just after
 * they land), and reading each back from disk cost it an open, a read and a close.
 */
export const RECENT_CHUNK_BYTES = 32 * 1024 * 1024

export class StoreFullError extends Error {
  name = 'StoreFullError'
  code = 'store_full'
}

interface IndexEntry { size: number, seq: number }

export interface ChunkStoreOptions {
  capacityBytes: number
  /** The eviction policy (its capacity should equal capacityBytes); null: never evict, refuse when full. */
  policy: EvictionPolicy<string> | null
  /** The clock of REHASH_AFTER_MS (default Date.now; tests hand a fake one). */
  now?: () => number
}

export interface ReconcileReport {
  kept: number
  adopted: number
  discarded: number
  tempFilesRemoved: number
}

export function sha256 (bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}

export function hex (hash: Uint8Array): string {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('hex')
}

const HEX_RE = /^[0-9a-f]{64}$/

/**
 * A chunk whose bytes this store hashed less than this long ago — on their way in (put hashes them,
 * putVerified takes a VerifiedChunk hashed against its manifest) or on a read — is served without hashing it
 * again (issue 17: the read hash was ~1.5 ms of a warm edge's ~4 ms per MiB, and a cold edge hashed what it had
 * just filled a second time when its lookahead read it back). Disk rot within the window is still caught by
 * every requester, which verifies each chunk against the signed manifest; the first read after a restart (the
 * times are not kept) and every read after the window hash.
 */
export const REHASH_AFTER_MS = 10 * 60_000

/** Direct I/O's alignment of the buffer's address, the file offset and the length (the largest logical block size in use). */
export const DIRECT_IO_ALIGN = 4096
/**
 * Aligned buffers kept for direct writes; a write that finds none free waits for one (the thread pool runs four
 * file operations at once anyway). Falling back to the page cache instead sent a third of a cold edge's writes
 * that way (the fill stores many chunks at once).
 */
export const DIRECT_WRITE_BUFFERS = 4
/** WebAssembly's page: its memories are whole pages, mapped at a page-aligned address (so DIRECT_IO_ALIGN-aligned). */
const WASM_PAGE_BYTES = 65_536

const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to
/** The runtime's WebAssembly.Memory (this project's type libraries declare WebAssembly's types, not the value). */
const WasmMemory = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly.Memory

/**
 * Buffers for O_DIRECT writes, process-wide. Node has no aligned allocation, but a WebAssembly.Memory's buffer is
 * mapped by V8's page allocator at a page-aligned address. Direct writes stop for good (buffered from then on) the
 * first time the file system refuses one (EINVAL: tmpfs, or an alignment it does not take).
 */
const directWrites = {
  enabled: fsConstants.O_DIRECT !== undefined && process.env.REELNET_STORE_NO_DIRECT_IO === undefined,
  free: [] as Buffer[],
  made: 0,
  /** Chunk files written directly since start. */
  written: 0,
  waiting: [] as Array<(b: Buffer) => void>,
  async take (size: number): Promise<Buffer | null> {
    if (!this.enabled) return null
    const need = roundUp(size, DIRECT_IO_ALIGN)
    let b = this.free.pop()
    if (b === undefined && this.made >= DIRECT_WRITE_BUFFERS) b = await new Promise<Buffer>(resolve => { this.waiting.push(resolve) })
    if (b !== undefined && b.length < need) { b = undefined; this.made-- }
    if (b === undefined) {
      b = Buffer.from(new WasmMemory({ initial: Math.ceil(need / WASM_PAGE_BYTES) }).buffer)
      this.made++
    }
    return b
  },
  give (b: Buffer): void {
    const next = this.waiting.shift()
    if (next !== undefined) next(b); else this.free.push(b)
  }
}

/** Chunk files this process wrote with direct I/O, and whether it still does (for tests and status). */
export function directWriteStats (): { enabled: boolean, written: number } {
  return { enabled: directWrites.enabled, written: directWrites.written }
}

/**
 * Write `bytes` with O_DIRECT from the aligned `buf`: padded to DIRECT_IO_ALIGN, then truncated to the chunk's size.
 * Throws EINVAL where the file system takes no direct I/O. A crash between the write and the truncate leaves a
 * padded file without an index entry: an orphan whose hash fails at open, so it is deleted.
 */
async function writeDirect (path: string, bytes: Uint8Array, buf: Buffer): Promise<void> {
  const padded = roundUp(bytes.length, DIRECT_IO_ALIGN)
  buf.set(bytes, 0)
  if (padded > bytes.length) buf.fill(0, bytes.length, padded)
  const fh = await open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_DIRECT, 0o644)
  try {
    let done = 0
    while (done < padded) {
      const { bytesWritten } = await fh.write(buf, done, padded - done, done)
      if (bytesWritten <= 0 || bytesWritten % DIRECT_IO_ALIGN !== 0) throw new Error(`direct write of ${path}: ${bytesWritten} bytes written`)
      done += bytesWritten
    }
    if (padded !== bytes.length) await fh.truncate(bytes.length)
  } finally {
    await fh.close()
  }
}

/**
 * A chunk that will be kept in the recent set is written with direct I/O where the file system takes it: memory
 * already holds it for the sends that follow, and writing through the page cache made the kernel find a fresh page
 * per 4 KiB for a second copy, which on this VM cost 2.3 ms per MiB against 0.18 direct (scratch bench, 256 x 1 MiB:
 * a cold edge's largest single cost, perf's copy_folio_from_iter_atomic at 21 % of its samples). A later read of it
 * comes from the disk once, then from the page cache.
 */
async function writeChunkFile (path: string, bytes: Uint8Array, kept: boolean): Promise<void> {
  const buf = kept ? await directWrites.take(bytes.length) : null
  if (buf === null) { await writeWhole(path, bytes); return }
  try {
    await writeDirect(path, bytes, buf)
    directWrites.written++
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
    directWrites.enabled = false
    await writeWhole(path, bytes)
  } finally {
    directWrites.give(buf)
  }
}

/** writeFile with a callback writes a buffer in one call (the promise API writes it in 512 KiB pieces: one more thread-pool trip per MiB). */
async function writeWhole (path: string, bytes: Uint8Array): Promise<void> {
  await new Promise<void>((resolve, reject) => { writeFile(path, bytes, err => { if (err === null) resolve(); else reject(err) }) })
}

/**
 * A file whose size the index knows: open, one read of size + 1 bytes into a
 * pooled buffer (chunk-buffers.ts), close. readFile also stats the file and
 * reads in 512 KiB pieces (five thread-pool trips for a 1 MiB chunk instead
 * of three) into a new buffer. A file of any other size comes back with its
 * wrong length, which the caller treats as corrupt (and recycles).
 */
async function readKnownSize (path: string, size: number): Promise<Uint8Array> {
  const fh = await open(path, 'r')
  const buf = chunkReadBuffers.take(size + 1)
  try {
    const want = size + 1
    let got = 0
    while (got < want) {
      const { bytesRead } = await fh.read(buf, CHUNK_HEADROOM_BYTES + got, want - got, got)
      if (bytesRead === 0) break
      got += bytesRead
    }
    return chunkReadBuffers.chunkView(buf, got)
  } catch (err) {
    chunkReadBuffers.recycle(chunkReadBuffers.chunkView(buf, 0))
    throw err
  } finally {
    await fh.close()
  }
}

export class ChunkStore {
  private readonly sizes = new Map<string, number>()
  private readonly writing = new Map<string, Promise<boolean>>()
  private readonly touched = new Set<string>()
  /** When each chunk's bytes were last read back from disk and hashed (see REHASH_AFTER_MS). */
  private readonly checkedAt = new Map<string, number>()
  /** The chunks stored last, newest at the end, up to RECENT_CHUNK_BYTES (see there). */
  private readonly recent = new Map<string, Uint8Array>()
  private recentBytes = 0
  /** Subdirectories (`<hh>`) known to exist: a mkdir per chunk written cost 2% of a filling edge's CPU. */
  private readonly subdirs = new Set<string>()
  /** Chunks stored whose index entry is not written yet (they are in `touched` too; see INDEX_FLUSH_EVERY). */
  private unindexed = 0
  private indexTimer: ReturnType<typeof setTimeout> | undefined
  private seq = 0
  private used = 0
  private closed = false
  /** What open() found and fixed. */
  reconcile: ReconcileReport = { kept: 0, adopted: 0, discarded: 0, tempFilesRemoved: 0 }
  /** Chunks found corrupt on read since open. */
  corruptOnRead = 0
  private now: () => number = Date.now
  onEvict?: (hexHash: string) => void

  private constructor (
    readonly dir: string,
    private readonly db: Level<string, IndexEntry>,
    readonly capacityBytes: number,
    private readonly policy: EvictionPolicy<string> | null
  ) {}

  static async open (dir: string, opts: ChunkStoreOptions): Promise<ChunkStore> {
    if (!Number.isSafeInteger(opts.capacityBytes) || opts.capacityBytes <= 0) throw new RangeError('capacityBytes must be a positive integer')
    await mkdir(join(dir, 'chunks'), { recursive: true })
    const db = new Level<string, IndexEntry>(join(dir, 'index'), { valueEncoding: 'json' })
    await db.open()
    const store = new ChunkStore(dir, db, opts.capacityBytes, opts.policy)
    if (opts.now !== undefined) store.now = opts.now
    await store.reconcileWithDisk()
    await Promise.all(SUBDIRS.map(async sub => { await store.makeSubdir(sub) }))
    return store
  }

  get usedBytes (): number { return this.used }
  get freeBytes (): number { return Math.max(0, this.capacityBytes - this.used) }
  get count (): number { return this.sizes.size }

  /** Make chunks/<sub> (again, if it went away) and remember that it exists. */
  private async makeSubdir (sub: string): Promise<void> {
    await mkdir(join(this.dir, 'chunks', sub), { recursive: true })
    this.subdirs.add(sub)
  }

  private pathOf (h: string): string {
    return join(this.dir, 'chunks', h.slice(0, 2), h)
  }

  has (hash: Uint8Array | string): boolean {
    return this.sizes.has(typeof hash === 'string' ? hash : hex(hash))
  }

  /** Hex hashes of every chunk held. */
  keys (): IterableIterator<string> {
    return this.sizes.keys()
  }

  /**
   * Store a chunk under its hash. Throws ChunkHashMismatchError if the bytes
   * do not hash to `hash`, StoreFullError when full with no policy; returns
   * false if the policy would not admit it (larger than the capacity).
   * A caller holding a VerifiedChunk uses putVerified: no second hash
   * (SHA-256 of 1 MiB is ~0.6 ms: a fifth of an edge's CPU per chunk on a fill).
   */
  async put (hash: Uint8Array, bytes: Uint8Array): Promise<boolean> {
    if (hash.length !== HASH_BYTES) throw new RangeError(`hash must be ${HASH_BYTES} bytes`)
    if (hex(sha256(bytes)) !== hex(hash)) throw new ChunkHashMismatchError(`chunk does not hash to ${hex(hash).slice(0, 16)}…`)
    return await this.store(hash, bytes)
  }

  /**
   * Store a chunk that verifiedChunk checked against its manifest (`hash` being the manifest's hash of it): not
   * hashed again. One that did not come from verifiedChunk (a cast) is hashed like put's input.
   */
  async putVerified (hash: Uint8Array, bytes: VerifiedChunk): Promise<boolean> {
    if (!isVerifiedChunk(bytes)) return await this.put(hash, bytes)
    return await this.store(hash, bytes)
  }

  /** Store bytes known to hash to `hash` (put hashed them, or verifiedChunk did). */
  private async store (hash: Uint8Array, bytes: Uint8Array): Promise<boolean> {
    if (this.closed) throw new Error('store is closed')
    if (hash.length !== HASH_BYTES) throw new RangeError(`hash must be ${HASH_BYTES} bytes`)
    const h = hex(hash)
    if (this.sizes.has(h)) { this.touch(h); return true }
    const pending = this.writing.get(h)
    if (pending !== undefined) return await pending
    const p = this.write(h, bytes).finally(() => this.writing.delete(h))
    this.writing.set(h, p)
    return await p
  }

  private async write (h: string, bytes: Uint8Array): Promise<boolean> {
    const size = bytes.length
    let evicted: string[] = []
    if (this.policy !== null) {
      evicted = this.policy.insert(h, size)
      if (evicted.includes(h)) return false
    } else if (this.used + size > this.capacityBytes) {
      throw new StoreFullError(`store full: ${this.used} of ${this.capacityBytes} bytes used, chunk of ${size} refused`)
    }
    for (const e of evicted) await this.drop(e)
    const path = this.pathOf(h)
    const sub = h.slice(0, 2)
    if (!this.subdirs.has(sub)) await this.makeSubdir(sub)
    // straight under the final name: no temporary name and rename (one thread-pool trip and a directory update
    // per chunk). Nothing reads it before `sizes` has it, and the index entry comes after the write, so a crash
    // mid-write leaves an orphan that open() hashes and deletes
    const kept = isVerifiedChunk(bytes) && bytes.length <= RECENT_CHUNK_BYTES
    try {
      try {
        await writeChunkFile(path, bytes, kept)
      } catch (err) {
        // the subdirectory went away behind our back: make it again, once
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        await this.makeSubdir(sub)
        await writeChunkFile(path, bytes, kept)
      }
    } catch (err) {
      await rm(path, { force: true })
      this.policy?.remove(h)
      throw err
    }
    if (this.policy !== null && !this.policy.has(h)) {
      // another write's insert evicted this chunk while its file was being written (concurrent fills): its drop
      // found nothing to account (and maybe no file yet), so the bytes just written must go too, or they would
      // sit on disk and in `used` outside the policy, above the capacity, never to be evicted
      await rm(path, { force: true })
      return false
    }
    this.sizes.set(h, size)
    this.used += size
    // these bytes were hashed on their way in (put, or verifiedChunk for putVerified): the first read within
    // REHASH_AFTER_MS need not hash them again
    this.checkedAt.set(h, this.now())
    // only a real VerifiedChunk is kept in memory: put's caller may write into its buffer again once put returns
    if (isVerifiedChunk(bytes)) this.remember(h, bytes)
    this.indexLater(h)
    return true
  }

  /** Write h's index entry with the next batch (INDEX_FLUSH_EVERY): flushAccess writes every touched key's entry. */
  private indexLater (h: string): void {
    this.touched.add(h)
    if (++this.unindexed >= INDEX_FLUSH_EVERY || this.touched.size >= ACCESS_FLUSH_EVERY) {
      void this.flushAccess().catch(() => {})
    } else if (this.indexTimer === undefined) {
      this.indexTimer = setTimeout(() => { this.indexTimer = undefined; void this.flushAccess().catch(() => {}) }, INDEX_FLUSH_MS)
      this.indexTimer.unref()
    }
  }

  private remember (h: string, bytes: Uint8Array): void {
    if (bytes.length > RECENT_CHUNK_BYTES) return
    this.recent.set(h, bytes)
    this.recentBytes += bytes.length
    for (const [k, b] of this.recent) {
      if (this.recentBytes <= RECENT_CHUNK_BYTES) break
      this.recent.delete(k)
      this.recentBytes -= b.length
    }
  }

  private forget (h: string): void {
    const b = this.recent.get(h)
    if (b === undefined) return
    this.recent.delete(h)
    this.recentBytes -= b.length
  }

  /** Forget a chunk: index, policy and file. */
  private async drop (h: string): Promise<void> {
    const size = this.sizes.get(h)
    this.checkedAt.delete(h)
    this.forget(h)
    if (size !== undefined) {
      this.sizes.delete(h)
      this.used -= size
    }
    this.touched.delete(h)
    this.policy?.remove(h)
    await this.db.del(h)
    await rm(this.pathOf(h), { force: true })
    this.onEvict?.(h)
  }

  private touch (h: string): void {
    this.policy?.touch(h)
    // to the end: flushAccess numbers the touched keys in this order (a new chunk not yet indexed is in it too)
    this.touched.delete(h)
    this.touched.add(h)
    if (this.touched.size >= ACCESS_FLUSH_EVERY) void this.flushAccess().catch(() => {})
  }

  /**
   * The chunk's bytes; null when not held or found corrupt (then discarded). Hashed again unless this store
   * hashed them (on the way in or on a read) less than REHASH_AFTER_MS ago. The bytes are the caller's, in a
   * buffer of chunk-buffers.ts's pool: a caller that is done with them may hand them back
   * (`chunkReadBuffers.recycle`), one that keeps them need do nothing. A chunk stored last comes from memory
   * (RECENT_CHUNK_BYTES): the very VerifiedChunk stored, shared by every caller, so nobody may write into it.
   */
  async get (hash: Uint8Array | string): Promise<Uint8Array | null> {
    const h = typeof hash === 'string' ? hash : hex(hash)
    if (!this.sizes.has(h)) return null
    const kept = this.recent.get(h)
    if (kept !== undefined) { this.touch(h); return kept }
    let bytes: Uint8Array
    try {
      bytes = await readKnownSize(this.pathOf(h), this.sizes.get(h)!)
    } catch {
      await this.drop(h)
      return null
    }
    const now = this.now()
    const checked = this.checkedAt.get(h)
    const stale = checked === undefined || now - checked >= REHASH_AFTER_MS
    if (bytes.length !== this.sizes.get(h) || (stale && hex(sha256(bytes)) !== h)) {
      this.corruptOnRead++
      chunkReadBuffers.recycle(bytes)
      await this.drop(h)
      return null
    }
    if (stale) this.checkedAt.set(h, now)
    this.touch(h)
    return bytes
  }

  /** Remove a chunk on purpose (e.g. an item withdrawn). */
  async delete (hash: Uint8Array | string): Promise<boolean> {
    const h = typeof hash === 'string' ? hash : hex(hash)
    if (!this.sizes.has(h)) return false
    await this.drop(h)
    return true
  }

  /** Persist the access order of recently used chunks (and new chunks' entries), so eviction order survives a restart. */
  async flushAccess (): Promise<void> {
    this.unindexed = 0
    clearTimeout(this.indexTimer)
    this.indexTimer = undefined
    if (this.touched.size === 0) return
    const batch = this.db.batch()
    for (const h of this.touched) {
      const size = this.sizes.get(h)
      if (size !== undefined) batch.put(h, { size, seq: ++this.seq })
    }
    this.touched.clear()
    await batch.write()
  }

  async close (): Promise<void> {
    if (this.closed) return
    await Promise.allSettled([...this.writing.values()])
    await this.flushAccess()
    this.closed = true
    await this.db.close()
  }

  /**
   * Make the index and the files agree: temp files are deleted; an index
   * entry without its file (or with a file of another size) is dropped; a
   * file without an index entry is adopted if it hashes to its name, else
   * deleted. Entries enter the policy in stored access order.
   */
  private async reconcileWithDisk (): Promise<void> {
    const report: ReconcileReport = { kept: 0, adopted: 0, discarded: 0, tempFilesRemoved: 0 }
    const files = new Map<string, number>()
    const root = join(this.dir, 'chunks')
    for (const sub of await readdir(root)) {
      const subdir = join(root, sub)
      let names: string[]
      try { names = await readdir(subdir) } catch { continue }
      for (const name of names) {
        const path = join(subdir, name)
        if (name.includes(TEMP_MARKER) || !HEX_RE.test(name) || name.slice(0, 2) !== sub) {
          await rm(path, { force: true, recursive: true })
          if (name.includes(TEMP_MARKER)) report.tempFilesRemoved++
          else report.discarded++
          continue
        }
        files.set(name, (await stat(path)).size)
      }
    }
    const entries: Array<[string, IndexEntry]> = []
    const stale: string[] = []
    for await (const [h, entry] of this.db.iterator()) {
      const size = files.get(h)
      if (size === undefined || size !== entry.size || !HEX_RE.test(h)) stale.push(h)
      else entries.push([h, entry])
      files.delete(h)
    }
    for (const h of stale) { await this.db.del(h); report.discarded++ }
    // files with no index entry: renamed just before a crash, or foreign; adopt only if the bytes match the name
    const orphans = [...files.keys()]
    const adopt: Array<[string, IndexEntry]> = []
    for (let i = 0; i < orphans.length; i += RECONCILE_CONCURRENCY) {
      await Promise.all(orphans.slice(i, i + RECONCILE_CONCURRENCY).map(async h => {
        const path = this.pathOf(h)
        const bytes = await readFile(path)
        if (hex(sha256(bytes)) === h) adopt.push([h, { size: bytes.length, seq: 0 }])
        else { await rm(path, { force: true }); report.discarded++ }
      }))
    }
    entries.sort((a, b) => a[1].seq - b[1].seq)
    for (const [h, entry] of [...adopt, ...entries]) {
      if (this.policy !== null) {
        const evicted = this.policy.insert(h, entry.size)
        for (const e of evicted) {
          if (e === h) continue
          const sz = this.sizes.get(e)
          if (sz !== undefined) { this.sizes.delete(e); this.used -= sz }
          await this.db.del(e)
          await rm(this.pathOf(e), { force: true })
          report.discarded++
        }
        if (evicted.includes(h)) { await this.db.del(h); await rm(this.pathOf(h), { force: true }); report.discarded++; continue }
      }
      this.sizes.set(h, entry.size)
      this.used += entry.size
      this.seq = Math.max(this.seq, entry.seq)
    }
    for (const [h, entry] of adopt) {
      if (this.sizes.has(h)) { await this.db.put(h, { size: entry.size, seq: ++this.seq }); report.adopted++ }
    }
    report.kept = this.sizes.size - report.adopted
    this.reconcile = report
  }
}
