/**
 * Which key main signs with, pinned: from `--main-key` if given; else the
 * one stored in the data folder; else fetched once from main (trust on
 * first use), its fingerprint printed, and stored for every later start.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fromBase64url, toBase64url } from '../../protocol/encoding.ts'
import { fingerprint } from '../../protocol/keys.ts'
import { PUBLIC_KEY_BYTES } from '../../protocol/limits.ts'
import type { MainClient } from './main-client.ts'

export const MAIN_KEY_FILE = 'main.pub'

export class MainKeyError extends Error {
  name = 'MainKeyError'
}

function parseKey (text: string, where: string): Uint8Array {
  let key: Uint8Array
  try { key = fromBase64url(text.trim(), 64) } catch { throw new MainKeyError(`${where} is not base64url`) }
  if (key.length !== PUBLIC_KEY_BYTES) throw new MainKeyError(`${where} must be ${PUBLIC_KEY_BYTES} bytes, got ${key.length}`)
  return key
}

export interface ResolvedMainKey { publicKey: Uint8Array, fingerprint: string, source: 'flag' | 'stored' | 'first-use' }

export async function resolveMainKey (dataDir: string, main: MainClient, flag: string | undefined, opts: { signal?: AbortSignal } = {}): Promise<ResolvedMainKey> {
  const path = join(dataDir, MAIN_KEY_FILE)
  let stored: Uint8Array | undefined
  try { stored = parseKey(await readFile(path, 'utf8'), path) } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (flag !== undefined) {
    const key = parseKey(flag, '--main-key')
    if (stored === undefined || toBase64url(stored) !== toBase64url(key)) await store(path, key)
    return { publicKey: key, fingerprint: fingerprint(key), source: 'flag' }
  }
  if (stored !== undefined) return { publicKey: stored, fingerprint: fingerprint(stored), source: 'stored' }
  const keys = await main.getKeys(opts)
  const first = keys.find(k => k.alg.toLowerCase() === 'ed25519') ?? keys[0]
  if (first === undefined) throw new MainKeyError('main published no keys')
  await store(path, first.publicKey)
  return { publicKey: first.publicKey, fingerprint: fingerprint(first.publicKey), source: 'first-use' }
}

async function store (path: string, key: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, toBase64url(key) + '\n', { mode: 0o644 })
  await rename(tmp, path)
}
