/**
 * An encrypted item's content key, kept in the customer's config folder
 * (`content-keys/<itemId>.json`, mode 0600) while its licence is valid, so
 * `reelnet play` and `reelnet export` can decrypt the file `reelnet get`
 * kept as ciphertext. Removed when the licence ends: by the running client
 * at that moment, and by any later command that finds it expired.
 */
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { fromBase64url, toBase64url } from '../../protocol/encoding.ts'
import { CONTENT_KEY_BYTES } from '../../protocol/content-crypto.ts'

export const CONTENT_KEYS_DIR = 'content-keys'
/** A key file is a few hundred bytes; anything larger is not ours. */
export const MAX_KEY_FILE_BYTES = 16 * 1024

export interface KeptContentKey {
  itemId: string
  version: number
  chunkSize: number
  keyId: string
  licenseId: string
  kind: 'rental' | 'purchase'
  /** The licence's end: the key file goes then. */
  expiresAt: number
  /** Where `reelnet get` kept the (ciphertext) file, for `reelnet export`. */
  file: string
  key: Uint8Array
}

const KeyFileSchema = z.strictObject({
  itemId: z.string().regex(/^[0-9a-f]{32}$/),
  version: z.number().int().min(0),
  chunkSize: z.number().int().min(1),
  keyId: z.string().min(1).max(128),
  licenseId: z.string().min(1).max(128),
  kind: z.enum(['rental', 'purchase']),
  expiresAt: z.number().int().min(0),
  file: z.string().min(1).max(4096),
  key: z.string().length(Math.ceil(CONTENT_KEY_BYTES * 4 / 3))
})

export function contentKeyPath (configDir: string, itemId: string): string {
  if (!/^[0-9a-f]{32}$/.test(itemId)) throw new TypeError(`'${itemId}' is not an itemId`)
  return join(configDir, CONTENT_KEYS_DIR, `${itemId}.json`)
}

export async function saveContentKey (configDir: string, k: KeptContentKey): Promise<string> {
  await mkdir(join(configDir, CONTENT_KEYS_DIR), { recursive: true, mode: 0o700 })
  const path = contentKeyPath(configDir, k.itemId)
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, JSON.stringify({ ...k, key: toBase64url(k.key) }) + '\n', { mode: 0o600 })
  await chmod(tmp, 0o600)
  await rename(tmp, path)
  return path
}

export async function removeContentKey (configDir: string, itemId: string): Promise<void> {
  await rm(contentKeyPath(configDir, itemId), { force: true })
}

/** The kept key of an item, or undefined when none is kept, it is damaged, or its licence has ended (then it is removed). */
export async function loadContentKey (configDir: string, itemId: string, now = Date.now()): Promise<KeptContentKey | undefined> {
  const path = contentKeyPath(configDir, itemId)
  let text: string
  try {
    const buf = await readFile(path)
    if (buf.length > MAX_KEY_FILE_BYTES) return undefined
    text = buf.toString('utf8')
  } catch {
    return undefined
  }
  let parsed: z.infer<typeof KeyFileSchema>
  try {
    parsed = KeyFileSchema.parse(JSON.parse(text))
  } catch {
    return undefined
  }
  if (parsed.itemId !== itemId) return undefined
  if (parsed.expiresAt <= now) {
    await rm(path, { force: true })
    return undefined
  }
  return { ...parsed, key: fromBase64url(parsed.key, CONTENT_KEY_BYTES) }
}

/** Remove every kept key whose licence has ended; returns the itemIds removed. */
export async function sweepExpiredKeys (configDir: string, now = Date.now()): Promise<string[]> {
  let names: string[]
  try { names = await readdir(join(configDir, CONTENT_KEYS_DIR)) } catch { return [] }
  const removed: string[] = []
  for (const n of names) {
    const m = /^([0-9a-f]{32})\.json$/.exec(n)
    if (m === null) continue
    const itemId = m[1] as string
    const before = await readFile(join(configDir, CONTENT_KEYS_DIR, n)).then(() => true, () => false)
    if (before && await loadContentKey(configDir, itemId, now) === undefined) {
      await rm(join(configDir, CONTENT_KEYS_DIR, n), { force: true })
      removed.push(itemId)
    }
  }
  return removed
}
