/**
 * The customer and admin commands as thin clients of a real main on a
 * loopback port: account create, login (pins the key), ingest, catalog,
 * rent (verified license kept in the config folder), and one-line errors.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startMain, type RunningMain } from '../../main/server.ts'
import { TEST_SCRYPT } from '../../main/test-kit.ts'
import { verifyLicense } from '../../protocol/documents.ts'
import { fromText } from '../../protocol/signing.ts'
import { fromBase64url } from '../../protocol/encoding.ts'
import { callMain } from '../http.ts'
import { loadSession, configDir, type Session } from '../session.ts'
import { command as account } from './account.ts'
import { command as login } from './login.ts'
import { command as ingest } from './ingest.ts'
import { command as catalog } from './catalog.ts'
import { command as rent } from './rent.ts'
import { fetchLicense, loadCustomerSession } from './get.ts'

const ADMIN = 'cli-admin-token-0123456789'
let dir: string
let main: RunningMain
const logs: string[] = []
const realLog = console.log
/** The batch runs the unit suites in one process: what this suite changes in the environment is put back after it. */
const ENV_KEYS = ['REELNET_CONFIG_DIR', 'XDG_CONFIG_HOME'] as const
const savedEnv = Object.fromEntries(ENV_KEYS.map(k => [k, process.env[k]]))
function restoreEnv (): void {
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k]
    else process.env[k] = savedEnv[k]
  }
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reelnet-cli-'))
  process.env.REELNET_CONFIG_DIR = join(dir, 'config')
  main = await startMain({ dataDir: join(dir, 'main'), port: 0, adminToken: ADMIN, operatorToken: ADMIN + '-op', scrypt: TEST_SCRYPT })
  console.log = (...args: unknown[]) => { logs.push(args.join(' ')) }
})
test.after(async () => {
  console.log = realLog
  restoreEnv()
  await main.close()
  await rm(dir, { recursive: true, force: true })
})

async function errorOf (p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a failure')
}

test('the config folder follows REELNET_CONFIG_DIR, else XDG_CONFIG_HOME', () => {
  assert.is(configDir(), join(dir, 'config'))
  const saved = process.env.REELNET_CONFIG_DIR
  const savedXdg = process.env.XDG_CONFIG_HOME
  delete process.env.REELNET_CONFIG_DIR
  process.env.XDG_CONFIG_HOME = '/x/y'
  try {
    assert.is(configDir(), '/x/y/reelnet')
  } finally {
    process.env.REELNET_CONFIG_DIR = saved
    if (savedXdg === undefined) delete process.env.XDG_CONFIG_HOME
    else process.env.XDG_CONFIG_HOME = savedXdg
  }
})

test('without a session, rent says to log in', async () => {
  const e = await errorOf(rent.run(['a'.repeat(32)]))
  assert.is(e.name, 'CommandError')
  assert.is(e.message, 'not logged in: run reelnet login')
})

test('an unreachable main is one clear line', async () => {
  const e = await errorOf(callMain('http://127.0.0.1:1', 'GET', '/v1/catalog'))
  assert.is(e.name, 'CommandError')
  assert.match(e.message, 'main unreachable at http://127.0.0.1:1')
  const e2 = await errorOf(catalog.run(['--main', 'http://127.0.0.1:1']))
  assert.match(e2.message, 'main unreachable')
})

test('account, login, ingest, catalog and rent work end to end', async () => {
  assert.is(await account.run(['create', '--main', main.url, '--user', 'alice', '--password', 'correct horse', '--region', 'eu']), 0)
  const dup = await errorOf(account.run(['create', '--main', main.url, '--user', 'alice', '--password', 'correct horse']))
  assert.is(dup.message, "create the account refused: username 'alice' is taken (HTTP 409)")
  const wrong = await errorOf(login.run(['--main', main.url, '--user', 'alice', '--password', 'wrong password']))
  assert.match(wrong.message, 'wrong username or password')

  assert.is(await login.run(['--main', main.url, '--user', 'alice', '--password', 'correct horse']), 0)
  const session: Session = await loadSession()
  assert.is(session.mainUrl, main.url)
  assert.is(session.mainKeyId, main.main.signer.keyId)
  assert.is((await stat(join(dir, 'config', 'session.json'))).mode & 0o777, 0o600)

  const file = join(dir, 'film.bin')
  const bytes = new Uint8Array(randomBytes(300_000))
  await writeFile(file, bytes)
  const forbidden = await errorOf(ingest.run([file, '--title', 'Film', '--main', main.url, '--admin-token', 'not-the-admin-token']))
  assert.match(forbidden.message, '(HTTP 401)')
  logs.length = 0
  assert.is(await ingest.run([file, '--title', 'Film', '--main', main.url, '--admin-token', ADMIN, '--chunk-size', '64KiB']), 0)
  const itemId = logs.at(-1)!
  assert.match(itemId, /^[0-9a-f]{32}$/)

  logs.length = 0
  assert.is(await catalog.run(['--json']), 0)
  assert.equal((JSON.parse(logs.join('\n')) as { items: Array<{ itemId: string, size: number }> }).items.map(i => [i.itemId, i.size]), [[itemId, 300_000]])

  assert.is(await rent.run(['film']), 0) // by title, case-insensitive
  const stored = JSON.parse(await readFile(join(dir, 'config', 'licenses', `${itemId}.json`), 'utf8')) as { license: string, licenseId: string }
  const license = verifyLicense(fromText(stored.license), { publicKey: fromBase64url(session.mainKey), now: Date.now(), itemId, accountId: session.accountId })
  assert.is(license.licenseId, stored.licenseId)
  const missing = await errorOf(rent.run(['no such title']))
  assert.match(missing.message, "no item 'no such title'")
})

test('ingest --description and --poster reach the storefront; a rental made there is fetched for reelnet get --license', async () => {
  const file = join(dir, 'short.bin')
  await writeFile(file, new Uint8Array(randomBytes(50_000)))
  const poster = join(dir, 'poster.png')
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...randomBytes(100)])
  await writeFile(poster, png)
  const tooBig = join(dir, 'big.png')
  await writeFile(tooBig, new Uint8Array(300 * 1024))
  assert.is((await errorOf(ingest.run([file, '--title', 'Short', '--poster', tooBig, '--main', main.url, '--admin-token', ADMIN]))).name, 'UsageError')
  logs.length = 0
  assert.is(await ingest.run([file, '--title', 'Short', '--description', 'A <b>short</b> one.', '--poster', poster, '--main', main.url, '--admin-token', ADMIN]), 0)
  const itemId = logs.at(-1)!
  const page = await (await fetch(`${main.url}/store/items/${itemId}`)).text()
  assert.ok(page.includes('A &lt;b&gt;short&lt;/b&gt; one.'), 'the description, escaped')
  assert.equal(new Uint8Array(await (await fetch(`${main.url}/store/items/${itemId}/poster`)).arrayBuffer()), png)

  // a rental made elsewhere (the storefront) by the logged-in account
  const session = await loadCustomerSession()
  const rental = await callMain<{ licenseId: string }>(main.url, 'POST', '/v1/rentals', { json: { itemId }, token: session.token })
  await fetchLicense(session, itemId, rental.licenseId)
  const stored = JSON.parse(await readFile(join(dir, 'config', 'licenses', `${itemId}.json`), 'utf8')) as { licenseId: string }
  assert.is(stored.licenseId, rental.licenseId)
  const wrongItem = await errorOf(fetchLicense(session, 'a'.repeat(32), rental.licenseId))
  assert.match(wrongItem.message, 'is for item')
  const unknown = await errorOf(fetchLicense(session, itemId, '00000000-0000-0000-0000-000000000000'))
  assert.match(unknown.message, 'you have no such rental')
})

test('flags are checked before anything is sent', async () => {
  assert.is((await errorOf(login.run(['--main', main.url]))).name, 'UsageError')
  assert.is((await errorOf(account.run(['delete', '--user', 'x']))).name, 'UsageError')
  assert.is((await errorOf(ingest.run(['/nonexistent/file', '--main', main.url, '--admin-token', ADMIN]))).name, 'CommandError')
  assert.is((await errorOf(catalog.run(['--main', 'not a url']))).name, 'CommandError')
})

test.run()
