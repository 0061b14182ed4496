/** `reelnet login`: log in to main, pin its key, keep the session in the config folder. */
import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { parseFlags, UsageError, CommandError, type Command } from '../command.ts'
import { callMain, mainUrlOf, DEFAULT_MAIN_URL, PASSWORD_CALL_TIMEOUT_MS } from '../http.ts'
import { saveSession, readSession } from '../session.ts'
import { fingerprint } from '../../protocol/keys.ts'
import { fromBase64url } from '../../protocol/encoding.ts'
import { PUBLIC_KEY_BYTES } from '../../protocol/limits.ts'

/** The password: the flag, else REELNET_PASSWORD, else asked on the terminal without echo (or read as one line from a pipe). */
export async function readPassword (flag: string | undefined, prompt = 'password: '): Promise<string> {
  if (flag !== undefined) return flag
  const env = process.env.REELNET_PASSWORD
  if (env !== undefined && env !== '') return env
  const tty = process.stdin.isTTY === true
  const muted = new Writable({ write (_chunk, _enc, cb) { cb() } })
  if (tty) process.stderr.write(prompt)
  const rl = createInterface({ input: process.stdin, output: tty ? muted : undefined, terminal: tty })
  try {
    const line = await new Promise<string | undefined>(resolve => {
      rl.once('line', resolve)
      rl.once('close', () => { resolve(undefined) })
    })
    if (tty) process.stderr.write('\n')
    if (line === undefined || line === '') throw new CommandError('no password given (use --password, REELNET_PASSWORD, or type it)')
    return line
  } finally {
    rl.close()
  }
}

interface KeysAnswer { keys: Array<{ keyId: string, publicKey: string, alg: string }> }

/** Fetch main's key and check that its id is its fingerprint. */
export async function fetchMainKey (mainUrl: string): Promise<{ publicKey: string, keyId: string }> {
  const { keys } = await callMain<KeysAnswer>(mainUrl, 'GET', '/v1/keys', { what: 'fetch main\'s key' })
  const k = Array.isArray(keys) ? keys.find(x => x.alg === 'ed25519') : undefined
  if (k === undefined) throw new CommandError(`main at ${mainUrl} offers no ed25519 key`)
  let raw: Uint8Array
  try {
    raw = fromBase64url(k.publicKey, PUBLIC_KEY_BYTES)
  } catch {
    throw new CommandError(`main at ${mainUrl} sent a malformed key`)
  }
  if (raw.length !== PUBLIC_KEY_BYTES || fingerprint(raw) !== k.keyId) throw new CommandError(`main at ${mainUrl} sent a key that does not match its id`)
  return { publicKey: k.publicKey, keyId: k.keyId }
}

const usage = `usage: reelnet login [--main URL] --user NAME [--password P]

Log in to main and keep the session in the config folder
($REELNET_CONFIG_DIR, else $XDG_CONFIG_HOME/reelnet, else ~/.config/reelnet).
The first login pins main's key and prints its fingerprint; a later login to
the same main with a different key is refused.

flags:
  --main URL       main's address (default ${DEFAULT_MAIN_URL})
  --user NAME      account name
  --password P     password (else REELNET_PASSWORD, else asked)
  -h, --help       show this help`

export const command: Command = {
  name: 'login',
  summary: 'log in and keep the session',
  usage,
  async run (argv) {
    const { values } = parseFlags(argv, { main: { type: 'string' }, user: { type: 'string' }, password: { type: 'string' } })
    if (values.user === undefined) throw new UsageError('--user is required')
    const mainUrl = mainUrlOf(values.main ?? DEFAULT_MAIN_URL)
    const key = await fetchMainKey(mainUrl)
    const previous = await readSession().catch(() => undefined)
    if (previous !== undefined && previous.mainUrl === mainUrl && previous.mainKey !== key.publicKey) {
      throw new CommandError(`main at ${mainUrl} now presents key ${key.keyId}, not the pinned ${previous.mainKeyId}; if that change is expected, remove the session file and log in again`)
    }
    const password = await readPassword(values.password)
    const s = await callMain<{ token: string, accountId: string, expiresAt: number }>(mainUrl, 'POST', '/v1/sessions', {
      timeoutMs: PASSWORD_CALL_TIMEOUT_MS,
      json: { username: values.user, password }, what: 'log in'
    })
    const path = await saveSession({
      mainUrl, token: s.token, accountId: s.accountId, username: values.user, mainKey: key.publicKey, mainKeyId: key.keyId, expiresAt: s.expiresAt
    })
    console.log(`logged in to ${mainUrl} as ${values.user}; main key ${key.keyId}`)
    console.log(`session kept in ${path} until ${new Date(s.expiresAt).toISOString()}`)
    return 0
  }
}
