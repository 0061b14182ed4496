/**
 * `reelnet admin` against a real main (started with a key file from `reelnet keygen` and a 30-minute rental
 * period) and real parent and edge processes: every subcommand and its --help, a wrong token, an unknown
 * node; `remove` takes the edge out of the signed rules and out of directives, and the removed edge cannot
 * come back with its old token. Sign-up for a region without a parent is refused with the choices, and a
 * `get` in a region whose nodes are all down fails at its first directive, naming the region and why.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { randomBytes, createHash } from 'node:crypto'
import { createSigner, peerIdOf } from '../../protocol/keys.ts'
import { signNodeAuth } from '../../protocol/node-auth.ts'
import { join } from 'node:path'
import { verifyRules, verifyLicense } from '../../protocol/documents.ts'
import { fromText } from '../../protocol/signing.ts'
import { REELNET_BIN } from '../bin.ts'
import { fetchRetrying } from '../http.ts'
import { NODE_BIN, OPERATOR, ADMIN, cleanup, customer, ingest, mainKey, startMain, startNode, tempDir, waitFor, type NodeProc, type Proc } from './node-kit.ts'

/** One CLI call against a local main answers in well under a second; a cold start on a loaded machine takes seconds. */
const CLI_TIMEOUT_MS = 60_000
const REGION = 'eu'

let dir: string
let main: { url: string, proc: Proc }
let parent: NodeProc
let edge: NodeProc
let edgeToken: string
let keyId: string
let itemId: string

function reelnet (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const clean: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }
    delete clean.REELNET_OPERATOR_TOKEN
    delete clean.REELNET_ADMIN_TOKEN
    Object.assign(clean, env)
    const child = spawn(NODE_BIN, [REELNET_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: clean, timeout: CLI_TIMEOUT_MS })
    let stdout = ''; let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('close', code => { resolve({ code, stdout, stderr }) })
  })
}

async function admin (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await reelnet(['admin', ...args, '--main', main.url, '--operator-token', OPERATOR])
}

async function ok (...args: string[]): Promise<string> {
  const r = await admin(...args)
  assert.is(r.code, 0, `reelnet admin ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

async function rulesPeers (): Promise<string[]> {
  const body = await (await fetchRetrying(`${main.url}/v1/rules`)).json() as { rules: string }
  const rules = verifyRules(fromText(body.rules), { publicKey: await mainKey(main.url), now: Date.now() })
  return rules.regions.flatMap(r => [...r.parents, ...r.edges].map(n => n.peerId)).sort()
}

test.before(async () => {
  dir = await tempDir('admin-cli')
  const keyFile = join(dir, 'vault-key.json')
  const gen = await reelnet(['keygen', '-o', keyFile])
  assert.is(gen.code, 0, gen.stderr)
  keyId = (JSON.parse(await readFile(keyFile, 'utf8')) as { keyId: string }).keyId
  main = await startMain(dir, ['--key-file', keyFile, '--rental-period', '30m', '--heartbeat-timeout-ms', '3s'])
  const minted = await admin('token', 'mint', '--role', 'edge', '--region', REGION, '--json')
  assert.is(minted.code, 0, minted.stderr)
  edgeToken = (JSON.parse(minted.stdout) as { token: string }).token
  ;[parent, edge] = await Promise.all([
    startNode(main.url, 'parent', REGION, join(dir, 'parent')),
    startNode(main.url, 'edge', REGION, join(dir, 'edge'), ['--operator-token', edgeToken])
  ])
  itemId = await ingest(main.url, randomBytes(300_000), 'Admin film')
})

test.after(async () => {
  await cleanup(dir, [parent?.proc, edge?.proc, main?.proc])
})

test('reelnet admin --help and every subcommand\'s --help say what they do', async () => {
  const top = await reelnet(['admin', '--help'])
  assert.is(top.code, 0)
  for (const sub of ['nodes', 'items', 'token', 'drain', 'undrain', 'remove', 'quarantine', 'clear', 'preposition']) {
    assert.match(top.stdout, new RegExp(`^  ${sub} `, 'm'))
    const h = await reelnet(['admin', sub, '--help'])
    assert.is(h.code, 0, h.stderr)
    assert.match(h.stdout, new RegExp(`^usage: reelnet admin ${sub}`), h.stdout)
    assert.match(h.stdout, /--operator-token T/)
  }
  const listed = await reelnet(['--help'])
  assert.match(listed.stdout, /^ {2}admin /m)
})

test('main runs on the key reelnet keygen wrote; a rental lasts the 30 minutes --rental-period says', async () => {
  const keys = await (await fetchRetrying(`${main.url}/v1/keys`)).json() as { keys: Array<{ keyId: string }> }
  assert.is(keys.keys[0]!.keyId, keyId)
  assert.match(main.proc.output(), new RegExp(`key ${keyId.replace(/[^\w]/g, '.')}`))
  assert.not.match(main.proc.output(), /created main's signing key/)
  const password = 'a long enough password'
  const post = async (path: string, body: unknown, token?: string): Promise<any> => {
    const res = await fetchRetrying(main.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) }, body: JSON.stringify(body) })
    assert.ok(res.ok, `${path}: ${res.status}`)
    return await res.json()
  }
  await post('/v1/accounts', { username: 'renter', password, region: REGION })
  const { token, accountId } = await post('/v1/sessions', { username: 'renter', password })
  const rental = await post('/v1/rentals', { itemId }, token)
  const license = verifyLicense(fromText(rental.license), { publicKey: await mainKey(main.url), now: Date.now(), itemId, accountId })
  assert.is(license.expiresAt - license.notBefore, 30 * 60_000)
})

test('nodes lists the parent and the edge, up, with their software version, as a table and as JSON', async () => {
  const version = (JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  await waitFor('both nodes up, each with the version of its heartbeat', async () => {
    const out = await ok('nodes', '--json')
    const nodes = (JSON.parse(out) as { nodes: Array<{ peerId: string, status: string, version?: string }> }).nodes
    return nodes.length === 2 && nodes.every(n => n.status === 'up' && n.version === version)
  }, 60_000)
  const text = await ok('nodes')
  const lines = text.trim().split('\n')
  assert.match(lines[0]!, /^REGION\s+ROLE\s+PEER\s+STATUS\s+LOAD\s+FREE\s+CAPACITY\s+VERSION\s+HEARD\s+ADDRS$/)
  for (const n of [parent, edge]) assert.ok(lines.some(l => l.includes(n.peerId) && /\bup\b/.test(l) && l.includes(` ${version} `)), text)
  const only = await ok('nodes', '--region', 'nowhere')
  assert.match(only, /no nodes registered in region nowhere/)
})

test('items lists the catalog with its holders; preposition adds an item to a region by title and --remove takes it off', async () => {
  await waitFor('the parent to hold the item', async () => (JSON.parse(await ok('items', '--json')) as { items: Array<{ itemId: string, parentsHolding: number }> }).items.some(i => i.itemId === itemId && i.parentsHolding === 1), 60_000)
  const text = await ok('items')
  assert.match(text, /^ITEM\s+TITLE\s+VER\s+PRIO\s+SIZE\s+PARENTS\s+LACKING\s+EDGES\s+PREPOSITIONED/)
  assert.match(text, new RegExp(`${itemId}\\s+Admin film\\s+1\\s+0\\s+293\\.0 KiB\\s+1/1\\s+0\\s+\\d\\s+-`))
  const added = await ok('preposition', 'Admin film', '--region', REGION)
  assert.match(added, new RegExp(`prepositioning 'Admin film' \\(${itemId}\\) in ${REGION}; the region's list has 1 item`))
  assert.match(await ok('items'), new RegExp(`${itemId}.*\\s${REGION}$`, 'm'))
  const removed = await ok('preposition', itemId.slice(0, 8), '--region', REGION, '--remove', '--json')
  assert.equal((JSON.parse(removed) as { itemIds: string[] }).itemIds, [])
  const missing = await admin('preposition', 'No such film', '--region', REGION)
  assert.is(missing.code, 1)
  assert.is(missing.stderr.trim(), "reelnet: no item 'No such film' in the catalog (see reelnet admin items)")
})

test('drain and undrain by a peerId prefix', async () => {
  const out = await ok('drain', edge.peerId.slice(0, 12))
  assert.match(out, new RegExp(`^drained edge ${edge.peerId} of region ${REGION}`))
  assert.match(await ok('nodes'), new RegExp(`${edge.peerId}\\s+up,drained`))
  assert.match(await ok('undrain', edge.peerId), /^undrained edge/)
  assert.not.match(await ok('nodes'), /drained/)
})

test('a wrong token, an unknown node, a bad flag: one clear line and a non-zero exit', async () => {
  const wrong = await reelnet(['admin', 'nodes', '--main', main.url, '--operator-token', 'not-the-operator-token'])
  assert.is(wrong.code, 1)
  assert.is(wrong.stderr.trim(), 'reelnet: list nodes refused: invalid operator token (HTTP 401)')
  assert.is(wrong.stdout, '')
  const unknown = await admin('drain', '12D3KooWNoSuchNodeAtAll')
  assert.is(unknown.code, 1)
  assert.is(unknown.stderr.trim(), "reelnet: no node '12D3KooWNoSuchNodeAtAll' is registered (see reelnet admin nodes)")
  const none = await reelnet(['admin', 'remove', 'x', '--main', main.url])
  assert.is(none.code, 2)
  assert.match(none.stderr, /^reelnet: the operator token is needed/)
  for (const args of [['frobnicate'], ['token', 'burn'], ['token', 'mint', '--role', 'king', '--region', REGION], ['drain'], ['nodes', '--bogus']]) {
    const r = await admin(...args)
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, /^reelnet: /)
  }
  // the admin token from the environment does everything the operator token does
  const fromEnv = await reelnet(['admin', 'nodes', '--main', main.url, '--json'], { REELNET_ADMIN_TOKEN: ADMIN })
  assert.is(fromEnv.code, 0, fromEnv.stderr)
})

/** A customer with a directive bound to a key we hold, reporting `source` for a bad chunk. */
async function reportAs (name: string, source: string): Promise<Response> {
  const password = 'a long enough password'
  const post = async (path: string, body: unknown, token?: string): Promise<any> => {
    const res = await fetchRetrying(main.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) }, body: JSON.stringify(body) })
    assert.ok(res.ok, `${path}: ${res.status} ${await res.clone().text()}`)
    return await res.json()
  }
  await post('/v1/accounts', { username: name, password, region: REGION })
  const { token } = await post('/v1/sessions', { username: name, password })
  const { licenseId } = await post('/v1/rentals', { itemId }, token)
  const signer = createSigner(new Uint8Array(randomBytes(32)))
  const peerId = peerIdOf(signer.publicKey)
  await post('/v1/directives', { licenseId, clientPeerId: peerId }, token)
  const body = JSON.stringify({ itemId, source, region: REGION, chunkIndex: 0 })
  const path = `/v1/reports?sha256=${createHash('sha256').update(body).digest('hex')}`
  return await fetchRetrying(main.url + path, { method: 'POST', headers: { authorization: signNodeAuth(peerId, 'POST', path, Date.now(), m => signer.sign(m)), 'content-type': 'application/json' }, body })
}

test('quarantine lists a source two customers reported; clear takes it out', async () => {
  assert.match(await ok('quarantine'), /^no source is quarantined$/m)
  assert.is((await reportAs('rep1', edge.peerId)).status, 202)
  assert.match(await ok('quarantine'), new RegExp(`open reports \\(not yet agreed\\):\\nPEER\\s+REPORTERS\\s+LAST\\n${edge.peerId}\\s+1\\s`))
  assert.is((await reportAs('rep2', edge.peerId)).status, 202)
  const listed = await ok('quarantine')
  assert.match(listed, new RegExp(`^${edge.peerId}\\s+edge\\s+${REGION}\\s+\\d+s ago\\s+2$`, 'm'))
  assert.equal((JSON.parse(await ok('quarantine', '--json')) as { quarantined: Array<{ peerId: string }> }).quarantined.map(q => q.peerId), [edge.peerId])
  assert.match(await ok('clear', edge.peerId.slice(0, 10)), new RegExp(`^cleared edge ${edge.peerId} of region ${REGION}: directives may name it again`))
  assert.match(await ok('quarantine'), /^no source is quarantined$/m)
  const again = await admin('clear', edge.peerId)
  assert.is(again.code, 1)
  assert.match(again.stderr, /is not quarantined/)
})

test('remove takes the edge out of the signed rules and directives; it cannot come back with its old token', async () => {
  assert.equal(await rulesPeers(), [edge.peerId, parent.peerId].sort())
  const c = await customer(main.url, REGION, itemId, 'watcher')
  try {
    assert.ok((await c.directive()).directive.peers.some(p => p.peerId === edge.peerId), 'named before')
    const out = await ok('remove', edge.peerId)
    assert.match(out, new RegExp(`^removed edge ${edge.peerId} of region ${REGION} \\(rules version \\d+; 1 node token spent\\)`))
    assert.equal(await rulesPeers(), [parent.peerId])
    assert.equal((await c.directive()).directive.peers.map(p => p.peerId), [parent.peerId])
    assert.not.match(await ok('nodes'), new RegExp(edge.peerId))
    const again = await admin('remove', edge.peerId)
    assert.is(again.code, 1)
    assert.match(again.stderr, /no node .* is registered/)
  } finally {
    await c.host.stop()
  }
  await edge.proc.kill()
  let refused = ''
  try {
    const back = await startNode(main.url, 'edge', REGION, edge.dataDir, ['--operator-token', edgeToken])
    await back.proc.kill('SIGKILL')
  } catch (err) {
    refused = (err as Error).message
  }
  assert.match(refused, /token is spent/, refused.slice(-2000))
  assert.equal(await rulesPeers(), [parent.peerId])
})

test('sign-up for a region without a parent is refused with the choices; get with every node of the region down fails at once, saying why', async () => {
  const config = join(dir, 'customer')
  const env = { REELNET_CONFIG_DIR: config }
  const mars = await reelnet(['account', 'create', '--main', main.url, '--user', 'marvin', '--password', 'a long enough password', '--region', 'mars'], env)
  assert.is(mars.code, 1)
  assert.match(mars.stderr.trim(), /^reelnet: .*region 'mars' has no parent node; choose one of: eu \(HTTP 422\)$/)
  for (const args of [
    ['account', 'create', '--main', main.url, '--user', 'erin', '--password', 'a long enough password', '--region', REGION],
    ['login', '--main', main.url, '--user', 'erin', '--password', 'a long enough password'],
    ['rent', 'Admin film']
  ]) {
    const r = await reelnet(args, env)
    assert.is(r.code, 0, `${args[0]}: ${r.stderr}`)
  }
  await parent.proc.kill('SIGKILL')
  await waitFor('main to count the parent down', async () =>
    (JSON.parse(await ok('nodes', '--json')) as { nodes: Array<{ status: string }> }).nodes.every(n => n.status === 'down'), 60_000)
  const started = Date.now()
  const got = await reelnet(['get', 'Admin film', '-o', join(dir, 'film.out')], env)
  const seconds = (Date.now() - started) / 1000
  assert.is(got.code, 1, got.stderr)
  assert.match(got.stderr.trim(), /^reelnet: no source in region eu: every node of region 'eu' is down or drained \(1 parent down; last heartbeat \d+ s ago\)$/)
  console.log(`  get with every node of the region down failed after ${seconds.toFixed(1)} s (process start included)`)
})

test.run()
