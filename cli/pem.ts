/** Reading a PEM certificate or key named by a flag: size-bounded and checked, a clear error otherwise. */
import { readFile, stat } from 'node:fs/promises'
import { UsageError } from './command.ts'

/** A certificate chain or key file larger than this is not one (a chain of a few certificates is a few KiB). */
export const MAX_PEM_FILE_BYTES = 1 << 20

export async function readPemFlag (flag: string, file: string): Promise<Buffer> {
  const st = await stat(file).catch(() => undefined)
  if (st === undefined || !st.isFile()) throw new UsageError(`--${flag} ${file}: no such file`)
  if (st.size > MAX_PEM_FILE_BYTES) throw new UsageError(`--${flag} ${file}: larger than ${MAX_PEM_FILE_BYTES} bytes; not a PEM file`)
  const bytes = await readFile(file)
  if (!bytes.toString('latin1').includes('-----BEGIN ')) throw new UsageError(`--${flag} ${file}: not a PEM file`)
  return bytes
}
