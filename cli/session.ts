/**
 * The customer's session, kept in the user's config folder
 * ($REELNET_CONFIG_DIR, else $XDG_CONFIG_HOME/reelnet, else
 * ~/.config/reelnet) as session.json (0600), with main's pinned key; and
 * the licenses rented, one file per item under licenses/.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { mkdir, readFile, rename, writeFile, chmod } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { CommandError } from './command.ts'

export interface Session {
  mainUrl: string
  token: string
  accountId: string
  username: string
  region?: string
  /** main's Ed25519 public key, base64url (raw 32 bytes), pinned at login. */
  mainKey: string
  mainKeyId: string
  expiresAt: number
}

export interface StoredLicense {
  licenseId: string
  itemId: string
  /** The signed license envelope (base64url). */
  license: string
  expiresAt: number
  mainUrl: string
  /** 'purchase' never ends; absent = 'rental'. */
  kind?: 'rental' | 'purchase'
}

export function configDir (): string {
  const own = process.env.REELNET_CONFIG_DIR
  if (own !== undefined && own !== '') return own
  const xdg = process.env.XDG_CONFIG_HOME
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.config'), 'reelnet')
}

async function writePrivate (path: string, text: string): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, text, { mode: 0o600 })
  await chmod(tmp, 0o600)
  await rename(tmp, path)
}

async function readJson (path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new CommandError(`cannot read ${path}: ${(err as Error).message}`)
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new CommandError(`${path} is damaged (not JSON); remove it and log in again`)
  }
}

export async function saveSession (s: Session): Promise<string> {
  const dir = configDir()
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const path = join(dir, 'session.json')
  await writePrivate(path, JSON.stringify(s, null, 2) + '\n')
  return path
}

/** The session on file, even if expired (login uses it to check main's pinned key). */
export async function readSession (): Promise<Session | undefined> {
  const s = await readJson(join(configDir(), 'session.json')) as Session | undefined
  if (s === undefined) return undefined
  if (typeof s.mainUrl !== 'string' || typeof s.token !== 'string' || typeof s.mainKey !== 'string' || typeof s.expiresAt !== 'number') {
    throw new CommandError(`${join(configDir(), 'session.json')} is damaged; log in again`)
  }
  return s
}

/** The live session; CommandError 'not logged in: run reelnet login' when absent or expired. */
export async function loadSession (now = Date.now()): Promise<Session> {
  const s = await readSession()
  if (s === undefined) throw new CommandError('not logged in: run reelnet login')
  if (s.expiresAt <= now) throw new CommandError('not logged in: the session expired; run reelnet login')
  return s
}

export function licensePath (itemId: string): string {
  if (!/^[0-9a-f]{32}$/.test(itemId)) throw new CommandError(`'${itemId}' is not an itemId`)
  return join(configDir(), 'licenses', `${itemId}.json`)
}

export async function saveLicense (l: StoredLicense): Promise<string> {
  await mkdir(join(configDir(), 'licenses'), { recursive: true, mode: 0o700 })
  const path = licensePath(l.itemId)
  await writePrivate(path, JSON.stringify(l, null, 2) + '\n')
  return path
}

export async function loadLicense (itemId: string): Promise<StoredLicense | undefined> {
  return await readJson(licensePath(itemId)) as StoredLicense | undefined
}
