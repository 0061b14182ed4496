/**
 * The origin copy of every item: one file per chunk under DATA/origin,
 * named by the chunk's SHA-256 in hex (so identical chunks are stored once),
 * written to a temporary name and renamed into place, so a crash never
 * leaves a partial chunk under a real name.
 */
import { mkdir, open, rename, rm, stat, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'

export class OriginStore {
  readonly dir: string
  constructor (dataDir: string) {
    this.dir = join(dataDir, 'origin')
  }

  async init (): Promise<void> {
    await mkdir(this.dir, { recursive: true })
  }

  pathOf (hashHex: string): string {
    return join(this.dir, hashHex)
  }

  async has (hashHex: string, size: number): Promise<boolean> {
    try {
      return (await stat(this.pathOf(hashHex))).size === size
    } catch {
      return false
    }
  }

  /**
   * Store one chunk (already hashed by the caller). Returns true if this
   * call created the file, false if an identical chunk was already there.
   * The data is synced before the rename: an acknowledged ingest survives a power cut.
   */
  async put (hashHex: string, bytes: Uint8Array): Promise<boolean> {
    if (await this.has(hashHex, bytes.length)) return false
    const tmp = join(this.dir, `.${hashHex}.${randomBytes(4).toString('hex')}.tmp`)
    const fh = await open(tmp, 'w', 0o644)
    try {
      await fh.writeFile(bytes)
      await fh.datasync()
    } finally {
      await fh.close()
    }
    await rename(tmp, this.pathOf(hashHex))
    return true
  }

  async get (hashHex: string): Promise<Buffer> {
    return await readFile(this.pathOf(hashHex))
  }

  async remove (hashHex: string): Promise<void> {
    await rm(this.pathOf(hashHex), { force: true })
  }
}
