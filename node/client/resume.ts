/**
 * The download's file on disk, built to survive SIGKILL at any instant:
 * verified chunks are written at their offsets into `<out>.part`, and their
 * indexes appended to `<out>.part.journal` only after the data is synced, so
 * the journal never names a chunk that is not on disk. On reopen every
 * journaled chunk is hashed again (cheap next to fetching it) and only those
 * that still match count as done. The `.part` is renamed to `<out>` only
 * when every chunk is verified and the Merkle root over the chunk hashes is
 * the manifest's.
 */
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { chunkLength, chunkOffset, sha256, type VerifiedChunk } from '../../protocol/chunking.ts'
import { merkleRoot } from '../../protocol/merkle.ts'
import { bytesEqual, toBase64url } from '../../protocol/encoding.ts'
import type { Manifest } from '../../protocol/types.ts'
import { PartFileError, RootMismatchError } from './errors.ts'

/** Journal records are synced at most this often: one fsync per chunk would cap a fast download. */
export const JOURNAL_FLUSH_MS = 200
/** ...or as soon as this many chunks wait, whichever is first. */
export const JOURNAL_FLUSH_CHUNKS = 64
/** A journal header longer than this is not ours. */
const MAX_HEADER_BYTES = 4096
const JOURNAL_VERSION = 1

interface JournalHeader { v: number, itemId: string, root: string, size: number, chunkSize: number }

export class PartFile {
  readonly manifest: Manifest
  readonly outPath: string
  readonly partPath: string
  readonly journalPath: string
  /** Chunks found verified on disk when opened. */
  readonly resumed: number[]
  private file: FileHandle | undefined
  private journal: FileHandle | undefined
  private readonly have: Uint8Array
  private pending: number[] = []
  private flushTimer: NodeJS.Timeout | undefined
  private flushing: Promise<void> = Promise.resolve()
  private complete: boolean

  private constructor (manifest: Manifest, outPath: string, file: FileHandle | undefined, journal: FileHandle | undefined, have: Uint8Array, resumed: number[], complete: boolean) {
    this.manifest = manifest
    this.outPath = outPath
    this.partPath = `${outPath}.part`
    this.journalPath = `${outPath}.part.journal`
    this.file = file
    this.journal = journal
    this.have = have
    this.resumed = resumed
    this.complete = complete
  }

  /** Open (or resume) the download of `manifest` into `outPath`. */
  static async open (outPath: string, manifest: Manifest): Promise<PartFile> {
    const have = new Uint8Array(manifest.chunkCount)
    const partPath = `${outPath}.part`
    const journalPath = `${outPath}.part.journal`
    // a finished file from an earlier run: check it and use it as is
    if (await exists(outPath) && !(await exists(partPath))) {
      const st = await stat(outPath)
      if (st.size === manifest.size) {
        const f = await open(outPath, 'r')
        try {
          const ok = await verifyAll(f, manifest, have)
          if (ok === manifest.chunkCount) return new PartFile(manifest, outPath, undefined, undefined, have, [...have.keys()], true)
        } finally { await f.close() }
        have.fill(0)
      }
    }
    const header: JournalHeader = { v: JOURNAL_VERSION, itemId: manifest.itemId, root: toBase64url(manifest.merkleRoot), size: manifest.size, chunkSize: manifest.chunkSize }
    const headerLine = JSON.stringify(header) + '\n'
    let indexes: number[] = []
    if (await exists(journalPath) && await exists(partPath)) {
      const text = (await readSmall(journalPath, MAX_HEADER_BYTES + manifest.chunkCount * 12)).toString('utf8')
      const nl = text.indexOf('\n')
      if (nl > 0 && text.slice(0, nl + 1) === headerLine) {
        // only whole lines: a record cut by SIGKILL has no newline yet
        const body = text.slice(nl + 1)
        const end = body.lastIndexOf('\n')
        for (const line of body.slice(0, end + 1).split('\n')) {
          if (!/^\d{1,9}$/.test(line)) continue
          const i = Number(line)
          if (i < manifest.chunkCount) indexes.push(i)
        }
      } else {
        indexes = [] // another item, or damaged: start over
        await rm(partPath, { force: true })
      }
    } else {
      await rm(partPath, { force: true })
    }
    const file = await open(partPath, (await exists(partPath)) ? 'r+' : 'w+')
    const resumed: number[] = []
    for (const i of new Set(indexes)) {
      const len = chunkLength(manifest, i)
      const buf = Buffer.alloc(len)
      const { bytesRead } = await file.read(buf, 0, len, chunkOffset(manifest, i))
      if (bytesRead === len && bytesEqual(sha256(buf), manifest.chunkHashes[i] as Uint8Array)) {
        have[i] = 1
        resumed.push(i)
      }
    }
    // rewrite the journal with only what verified, then append from there
    const journal = await open(journalPath, 'w')
    await journal.write(headerLine + resumed.map(i => `${i}\n`).join(''))
    await journal.datasync()
    resumed.sort((a, b) => a - b)
    return new PartFile(manifest, outPath, file, journal, have, resumed, false)
  }

  get isComplete (): boolean { return this.complete }

  has (index: number): boolean { return this.have[index] === 1 }

  /** Write a chunk verified against the manifest. */
  async write (index: number, bytes: VerifiedChunk): Promise<void> {
    if (this.file === undefined) throw new PartFileError('part file is closed')
    if (bytes.length !== chunkLength(this.manifest, index)) throw new PartFileError(`chunk ${index} has the wrong length`)
    await this.file.write(bytes, 0, bytes.length, chunkOffset(this.manifest, index))
    this.have[index] = 1
    this.pending.push(index)
    if (this.pending.length >= JOURNAL_FLUSH_CHUNKS) void this.flush().catch(() => {})
    else if (this.flushTimer === undefined) this.flushTimer = setTimeout(() => { void this.flush().catch(() => {}) }, JOURNAL_FLUSH_MS)
  }

  /** Sync the data, then record the chunks in the journal (so the journal never runs ahead of the data). */
  async flush (): Promise<void> {
    if (this.flushTimer !== undefined) { clearTimeout(this.flushTimer); this.flushTimer = undefined }
    const run = this.flushing.then(async () => {
      const batch = this.pending
      this.pending = []
      if (batch.length === 0 || this.file === undefined || this.journal === undefined) return
      await this.file.datasync()
      await this.journal.write(batch.map(i => `${i}\n`).join(''))
      await this.journal.datasync()
    })
    this.flushing = run.catch(() => {})
    await run
  }

  /** Read bytes [offset, offset+length) of the item; the caller makes sure the chunks are held. */
  async read (offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.alloc(length)
    const held = this.file
    if (held !== undefined) {
      try {
        await readFully(held, buf, offset)
        return buf
      } catch (err) {
        // closed under us by finish(): the file is now at outPath
        if (this.file !== undefined) throw err
      }
    }
    const f = await open(this.outPath, 'r')
    try { await readFully(f, buf, offset) } finally { await f.close() }
    return buf
  }

  async readChunk (index: number): Promise<Buffer> {
    return await this.read(chunkOffset(this.manifest, index), chunkLength(this.manifest, index))
  }

  /** Check every chunk is held and the Merkle root matches, then rename into place. */
  async finish (): Promise<void> {
    if (this.complete) return
    for (let i = 0; i < this.manifest.chunkCount; i++) {
      if (this.have[i] !== 1) throw new PartFileError(`chunk ${i} is missing; cannot finish`)
    }
    if (!bytesEqual(merkleRoot(this.manifest.chunkHashes), this.manifest.merkleRoot)) {
      throw new RootMismatchError(`the Merkle root over the chunk hashes of ${this.manifest.itemId} is not the manifest's`)
    }
    await this.flush()
    const f = this.file
    if (f === undefined) throw new PartFileError('part file is closed')
    await f.truncate(this.manifest.size)
    await f.sync()
    // rename while the handle stays open: readers (play, seeding) keep reading through it meanwhile
    await rename(this.partPath, this.outPath)
    this.complete = true
    this.file = undefined
    await f.close()
    await this.journal?.close()
    this.journal = undefined
    await rm(this.journalPath, { force: true })
    this.complete = true
  }

  /** Flush what is written and close; the download can resume later. */
  async close (): Promise<void> {
    try { await this.flush() } catch { /* closing anyway */ }
    await this.file?.close()
    await this.journal?.close()
    this.file = undefined
    this.journal = undefined
  }
}

async function readFully (f: FileHandle, buf: Buffer, offset: number): Promise<void> {
  let done = 0
  while (done < buf.length) {
    const { bytesRead } = await f.read(buf, done, buf.length - done, offset + done)
    if (bytesRead === 0) throw new PartFileError(`short read at ${offset + done}`)
    done += bytesRead
  }
}

async function exists (path: string): Promise<boolean> {
  try { await stat(path); return true } catch { return false }
}

async function readSmall (path: string, max: number): Promise<Buffer> {
  const f = await open(path, 'r')
  try {
    const size = Math.min((await f.stat()).size, max)
    const buf = Buffer.alloc(size)
    await f.read(buf, 0, size, 0)
    return buf
  } finally { await f.close() }
}

async function verifyAll (f: FileHandle, manifest: Manifest, have: Uint8Array): Promise<number> {
  let ok = 0
  for (let i = 0; i < manifest.chunkCount; i++) {
    const len = chunkLength(manifest, i)
    const buf = Buffer.alloc(len)
    const { bytesRead } = await f.read(buf, 0, len, chunkOffset(manifest, i))
    if (bytesRead === len && bytesEqual(sha256(buf), manifest.chunkHashes[i] as Uint8Array)) { have[i] = 1; ok++ }
  }
  return ok
}
