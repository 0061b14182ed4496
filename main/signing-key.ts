/**
 * Main's Ed25519 signing key: generated on first start, kept in
 * DATA/main-key.json with mode 0600, the same key on every later start
 * (nodes and clients pin its fingerprint). Or, for operators who keep keys
 * elsewhere (a vault writing a file), a key file given by path — the format
 * `reelnet keygen` writes — which main reads and never creates.
 */
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { createSigner, fingerprint, publicKeyOf, type Signer } from '../protocol/keys.ts'
import { fromBase64url, toBase64url } from '../protocol/encoding.ts'
import { SECRET_KEY_BYTES } from '../protocol/limits.ts'
import { readIfExists, writeFileAtomic } from './files.ts'

export const KEY_FILE = 'main-key.json'

interface KeyFile { alg: 'ed25519', keyId: string, publicKey: string, secretKey: string }

/** Read a key file (main's own or one `reelnet keygen` wrote): it must be private to its owner and consistent. */
async function readSigner (path: string, text: string): Promise<Signer> {
  const mode = (await stat(path)).mode & 0o777
  if ((mode & 0o077) !== 0) throw new Error(`${path} is readable by others (mode ${mode.toString(8)}); chmod 600 it`)
  let file: KeyFile
  try {
    file = JSON.parse(text) as KeyFile
  } catch {
    throw new Error(`${path} is not valid JSON`)
  }
  if (typeof file !== 'object' || file === null || typeof file.secretKey !== 'string') throw new Error(`${path} is not a key file (no secretKey)`)
  const secret = fromBase64url(file.secretKey ?? '', SECRET_KEY_BYTES)
  if (secret.length !== SECRET_KEY_BYTES) throw new Error(`${path}: secretKey must be ${SECRET_KEY_BYTES} bytes`)
  const signer = createSigner(secret, 'node')
  if (file.keyId !== undefined && file.keyId !== signer.keyId) throw new Error(`${path}: keyId does not match the secret key`)
  return signer
}

/** The largest key file read: the JSON is ~200 bytes; anything far larger is not one. */
export const MAX_KEY_FILE_BYTES = 64 * 1024

export async function loadOrCreateSigner (dataDir: string, keyFile?: string): Promise<{ signer: Signer, created: boolean }> {
  if (keyFile !== undefined) {
    const st = await stat(keyFile).catch((err: NodeJS.ErrnoException) => { throw new Error(`cannot read the key file ${keyFile}: ${err.code ?? err.message}`) })
    if (!st.isFile() || st.size > MAX_KEY_FILE_BYTES) throw new Error(`${keyFile} is not a key file`)
    const text = await readIfExists(keyFile)
    if (text === undefined) throw new Error(`cannot read the key file ${keyFile}`)
    return { signer: await readSigner(keyFile, text), created: false }
  }
  const path = join(dataDir, KEY_FILE)
  const text = await readIfExists(path)
  if (text !== undefined) return { signer: await readSigner(path, text), created: false }
  const secret = new Uint8Array(randomBytes(SECRET_KEY_BYTES))
  const publicKey = publicKeyOf(secret)
  const file: KeyFile = { alg: 'ed25519', keyId: fingerprint(publicKey), publicKey: toBase64url(publicKey), secretKey: toBase64url(secret) }
  await writeFileAtomic(path, JSON.stringify(file, null, 2) + '\n', 0o600)
  return { signer: createSigner(secret, 'node'), created: true }
}
