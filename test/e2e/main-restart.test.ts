/**
 * main as a real process on a real port: data created, the process stopped
 * (SIGTERM, and separately SIGKILL), started again on the same folder —
 * nothing acknowledged is lost, the key is the same, rules versions only grow.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { verifyLicense, verifyRules, verifyDirective } from '../../protocol/documents.ts'
import { fromText } from '../../protocol/signing.ts'
import { fromBase64url } from '../../protocol/encoding.ts'
import { createSigner, peerIdOf, fingerprint } from '../../protocol/keys.ts'
import { REELNET_BIN, TEST_SCRYPT_LOG_N } from '../bin.ts'
import { fetchRetrying } from '../http.ts'

const NODE = join(process.cwd(), 'node_modules/.bin/node')
const BIN = REELNET_BIN
const ADMIN = 'e2e-admin-token-0123456789'
const OPERATOR = 'e2e-operator-token-0123456789'
/** Start-up includes tsx compiling on a loaded machine. */
const READY_TIMEOUT_MS = 60_000

interface Running { child: ChildProcess, url: string, keyId: string, exited: Promise<number | null> }

async function start (dataDir: string): Promise<Running> {
  const child = spawn(NODE, [BIN, 'main', '--data', dataDir, '--port', '0', '--admin-token', ADMIN, '--operator-token', OPERATOR, '--scrypt-log-n', TEST_SCRYPT_LOG_N], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | null>(resolve => child.once('exit', (code) => { resolve(code) }))
  let out = ''
  let err = ''
  child.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`main not ready in time: ${out} ${err}`)) }, READY_TIMEOUT_MS)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /reelnet main listening on (\S+) key (\S+)/.exec(out)
      if (m !== null) { clearTimeout(timer); resolve(m[0]) }
    })
    void exited.then(code => { clearTimeout(timer); reject(new Error(`main exited (${code}) before ready: ${err}`)) })
  })
  const m = /listening on (\S+) key (\S+)/.exec(line)!
  return { child, url: m[1]!, keyId: m[2]!, exited }
}

async function call<T> (r: Running, method: string, path: string, o: { json?: unknown, token?: string, body?: Uint8Array } = {}): Promise<{ status: number, body: T }> {
  const headers: Record<string, string> = {}
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`
  let body: RequestInit['body']
  if (o.json !== undefined) { headers['content-type'] = 'application/json'; body = JSON.stringify(o.json) }
  if (o.body !== undefined) body = o.body as RequestInit['body']
  const res = await fetchRetrying(r.url + path, { method, headers, body, signal: AbortSignal.timeout(30_000) })
  return { status: res.status, body: await res.json() as T }
}

async function mainKey (r: Running): Promise<Uint8Array> {
  const { body } = await call<{ keys: Array<{ publicKey: string, keyId: string }> }>(r, 'GET', '/v1/keys')
  const key = fromBase64url(body.keys[0]!.publicKey)
  assert.is(fingerprint(key), body.keys[0]!.keyId)
  return key
}

async function rulesVersion (r: Running): Promise<number> {
  const { body } = await call<{ version: number, rules: string }>(r, 'GET', '/v1/rules')
  const rules = verifyRules(fromText(body.rules), { publicKey: await mainKey(r), now: Date.now() })
  assert.is(rules.version, body.version)
  return body.version
}

async function login (r: Running, username: string): Promise<string> {
  const { status, body } = await call<{ token: string }>(r, 'POST', '/v1/sessions', { json: { username, password: 'correct horse battery' } })
  assert.is(status, 201, `login ${username}`)
  return body.token
}

let dir: string
test.before(async () => { dir = await mkdtemp(join(tmpdir(), 'reelnet-e2e-main-')) })
test.after(async () => { await rm(dir, { recursive: true, force: true }) })

test('main keeps everything it acknowledged across SIGTERM and SIGKILL restarts', async () => {
  let main = await start(dir)
  const keyId = main.keyId
  assert.match(keyId, /^ed25519:/)
  assert.is(((await stat(join(dir, 'main-key.json'))).mode & 0o777), 0o600)

  // data: an account (real scrypt cost), a session, an item, a license, a node
  assert.is((await call(main, 'POST', '/v1/accounts', { json: { username: 'alice', password: 'correct horse battery', region: 'eu' } })).status, 201)
  const token = await login(main, 'alice')
  const ingest = await call<{ itemId: string }>(main, 'POST', '/v1/items?title=Restart&chunkSize=65536', { token: ADMIN, body: new Uint8Array(randomBytes(300_000)) })
  assert.is(ingest.status, 201)
  const itemId = ingest.body.itemId
  const rental = await call<{ licenseId: string, license: string }>(main, 'POST', '/v1/rentals', { token, json: { itemId } })
  assert.is(rental.status, 201)
  const edge = createSigner(new Uint8Array(randomBytes(32)))
  const edgeId = peerIdOf(edge.publicKey)
  assert.is((await call(main, 'POST', '/v1/nodes', { token: OPERATOR, json: { peerId: edgeId, role: 'edge', region: 'eu', addrs: ['/ip4/127.0.0.1/tcp/4001'], capacityBytes: 1e9 } })).status, 201)
  let version = await rulesVersion(main)

  const checkAfterRestart = async (r: Running, username: string): Promise<void> => {
    assert.is(r.keyId, keyId, 'same key fingerprint')
    const key = await mainKey(r)
    // the old session still works, and so does a fresh login
    const d = await call<{ directive: string }>(r, 'POST', '/v1/directives', { token, json: { licenseId: rental.body.licenseId, clientPeerId: peerIdOf(createSigner(new Uint8Array(randomBytes(32))).publicKey) } })
    assert.is(d.status, 201)
    verifyDirective(fromText(d.body.directive), { publicKey: key, now: Date.now(), itemId })
    await login(r, username)
    verifyLicense(fromText(rental.body.license), { publicKey: key, now: Date.now(), itemId, licenseId: rental.body.licenseId })
    const catalog = await call<{ items: Array<{ itemId: string }> }>(r, 'GET', '/v1/catalog')
    assert.equal(catalog.body.items.map(i => i.itemId), [itemId])
    const nodes = await call<{ nodes: Array<{ peerId: string }> }>(r, 'GET', '/v1/nodes', { token: OPERATOR })
    assert.equal(nodes.body.nodes.map(n => n.peerId), [edgeId])
    const v = await rulesVersion(r)
    assert.ok(v > version, `rules version ${v} > ${version}`)
    version = v
  }

  main.child.kill('SIGTERM')
  assert.is(await main.exited, 0, 'clean exit on SIGTERM')
  main = await start(dir)
  await checkAfterRestart(main, 'alice')

  // acknowledged just before a hard kill: a second account and a second rental
  assert.is((await call(main, 'POST', '/v1/accounts', { json: { username: 'bob', password: 'correct horse battery' } })).status, 201)
  const second = await call<{ licenseId: string, license: string }>(main, 'POST', '/v1/rentals', { token, json: { itemId } })
  assert.is(second.status, 201)
  main.child.kill('SIGKILL')
  await main.exited
  main = await start(dir)
  await checkAfterRestart(main, 'bob')
  const d2 = await call(main, 'POST', '/v1/directives', { token, json: { licenseId: second.body.licenseId, clientPeerId: edgeId } })
  assert.is(d2.status, 201, 'the rental acknowledged before SIGKILL survived')

  main.child.kill('SIGTERM')
  assert.is(await main.exited, 0)
})

test('a main started by a parent that is SIGKILLed (as `reelnet demo` starts it) stops by itself', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'reelnet-orphan-'))
  // the parent: spawns main with a stdin pipe and REELNET_EXIT_WITH_PARENT=1, exactly as cli/commands/demo.ts does
  const parentScript = `
    const { spawn } = require('node:child_process')
    const c = spawn(process.argv[1], [process.argv[2], 'main', '--data', process.argv[3], '--port', '0', '--admin-token', '${ADMIN}', '--operator-token', '${OPERATOR}'],
      { stdio: ['pipe', 'inherit', 'inherit'], env: { ...process.env, REELNET_EXIT_WITH_PARENT: '1' } })
    console.log('child pid ' + c.pid)
    setInterval(() => {}, 1000)`
  const parent = spawn(NODE, ['-e', parentScript, NODE, BIN, join(dir, 'main')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  parent.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  parent.stderr!.on('data', (d: Buffer) => { out += d.toString() })
  const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true } catch { return false } }
  let pid = 0
  try {
    const started = Date.now()
    while (!/reelnet main listening on/.test(out)) {
      assert.ok(Date.now() - started < READY_TIMEOUT_MS, `main did not start: ${out}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    pid = Number(/child pid (\d+)/.exec(out)![1])
    assert.ok(alive(pid), 'main runs while its parent does')
    parent.kill('SIGKILL')
    const killedAt = Date.now()
    while (alive(pid) && Date.now() - killedAt < 30_000) await new Promise(resolve => setTimeout(resolve, 100))
    assert.not.ok(alive(pid), `main still runs 30 s after its parent was SIGKILLed:\n${out}`)
    console.log(`main exited ${Date.now() - killedAt} ms after its parent was SIGKILLed`)
  } finally {
    parent.kill('SIGKILL')
    if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL')
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
