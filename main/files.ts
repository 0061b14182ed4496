/**
 * Small durable files in main's data folder (the signing key, the tokens):
 * written to a temporary name with mode 0600, synced, then renamed, so a
 * crash leaves either the old file or the new one, never half of one.
 */
import { open, rename, readFile, mkdir, chmod } from 'node:fs/promises'
import { dirname } from 'node:path'
import { randomBytes } from 'node:crypto'

export async function writeFileAtomic (path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  const fh = await open(tmp, 'wx', mode)
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await chmod(tmp, mode)
  await rename(tmp, path)
}

/** The file's text, or undefined if it does not exist. */
export async function readIfExists (path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}
