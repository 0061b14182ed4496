/**
 * `reelnet keygen`: write a fresh Ed25519 key pair as a JSON file readable
 * only by its owner (0600), and print its fingerprint (the key id other
 * parties pin). Never overwrites a key without --force: a lost secret key is
 * a lost identity.
 */
import { randomBytes } from 'node:crypto'
import { chmod, open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { CommandError, parseFlags, type Command } from '../command.ts'
import { toBase64url } from '../../protocol/encoding.ts'
import { fingerprint, publicKeyOf } from '../../protocol/keys.ts'
import { SECRET_KEY_BYTES } from '../../protocol/limits.ts'

export const DEFAULT_KEY_FILE = 'reelnet-key.json'
/** Owner read/write only: the file holds a secret key. */
const KEY_FILE_MODE = 0o600

/** The file's shape; main's key file (main/signing-key.ts) reads the same secretKey and keyId fields. */
export interface KeyFile {
  type: 'ed25519'
  keyId: string
  /** base64url, 32 bytes */
  publicKey: string
  /** base64url, the 32-byte RFC 8032 seed */
  secretKey: string
}

const usage = `usage: reelnet keygen [-o FILE] [--force]

Write a new ed25519 key pair to FILE as JSON {type, keyId, publicKey, secretKey}
(keys in base64url), readable only by you (mode 0600), and print its fingerprint.

flags:
  -o, --output FILE  where to write (default ./${DEFAULT_KEY_FILE})
      --force        overwrite FILE if it exists
  -h, --help         show this help`

async function writeExclusive (path: string, text: string): Promise<void> {
  const handle = await open(path, 'wx', KEY_FILE_MODE)
  try {
    await handle.writeFile(text)
    await handle.sync()
  } finally {
    await handle.close()
  }
  // open()'s mode passes through the umask; set it exactly.
  await chmod(path, KEY_FILE_MODE)
}

export async function writeKeyFile (path: string, file: KeyFile, force: boolean): Promise<void> {
  const text = JSON.stringify(file, null, 2) + '\n'
  if (!force) {
    try {
      await writeExclusive(path, text)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CommandError(`${path} already exists (use --force to overwrite it)`)
      throw err
    }
    return
  }
  // Overwrite through a fresh 0600 file and a rename, so the old file's looser mode is never reused.
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)
  try {
    await writeExclusive(tmp, text)
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}

export const command: Command = {
  name: 'keygen',
  summary: 'write an ed25519 key pair file and print its fingerprint',
  usage,
  async run (argv) {
    const { values } = parseFlags(argv, {
      output: { type: 'string', short: 'o' },
      force: { type: 'boolean' }
    })
    const path = resolve(values.output ?? DEFAULT_KEY_FILE)
    const secret = new Uint8Array(randomBytes(SECRET_KEY_BYTES))
    const publicKey = publicKeyOf(secret)
    const keyId = fingerprint(publicKey)
    try {
      await writeKeyFile(path, { type: 'ed25519', keyId, publicKey: toBase64url(publicKey), secretKey: toBase64url(secret) }, values.force === true)
    } catch (err) {
      if (err instanceof CommandError) throw err
      throw new CommandError(`cannot write ${path}: ${(err as Error).message}`)
    }
    console.log(`wrote ${path} (mode 600)`)
    console.log(`fingerprint: ${keyId}`)
    console.log(`public key:  ${toBase64url(publicKey)}`)
    return 0
  }
}
