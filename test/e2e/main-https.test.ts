/**
 * main on HTTPS with a throwaway certificate made at test time (openssl, for
 * 127.0.0.1): a parent and an edge register and heartbeat over https://, an
 * item ingested over HTTPS is downloaded byte-exact by a customer, and a
 * customer whose session pins another main key refuses main's documents
 * although the TLS connection itself is trusted.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import * as tls from 'node:tls'
import { createHash, randomBytes } from 'node:crypto'
import { TEST_SCRYPT_LOG_N } from '../bin.ts'
import { toBase64url } from '../../protocol/encoding.ts'
import { createSigner } from '../../protocol/keys.ts'
import { Network, spawnReelnet, waitFor, createCustomer, runClient, waitJson, ADMIN_TOKEN, OPERATOR_TOKEN, type Proc } from './client-net.ts'

const run = promisify(execFile)
const ITEM_BYTES = 2 * 1024 * 1024
const REGION = 'tls'

let dir = ''
let main: Proc | undefined
let net: Network
let mainUrl = ''

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reelnet-https-'))
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'])
  // every process of the test trusts the throwaway certificate, as an operator's machines would trust their CA
  process.env.NODE_EXTRA_CA_CERTS = cert
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), await readFile(cert, 'utf8')])
  main = spawnReelnet(['main', '--plain', '--data', join(dir, 'main'), '--port', '0', '--tls-cert', cert, '--tls-key', key, '--admin-token', ADMIN_TOKEN,
    '--operator-token', OPERATOR_TOKEN, '--heartbeat-timeout-ms', '4000', '--scrypt-log-n', TEST_SCRYPT_LOG_N], { name: 'main' })
  mainUrl = (await waitFor(main, /reelnet main listening on (https:\/\/\S+) key (\S+)/))[1] as string
  net = new Network({ dir, regions: [] })
  net.mainUrl = mainUrl
  net.mainKeyText = ((await net.api('GET', '/v1/keys')) as { keys: Array<{ publicKey: string }> }).keys[0]!.publicKey
})

test.after(async () => {
  await net?.stop().catch(() => {})
  main?.kill('SIGKILL')
  if (dir !== '') await rm(dir, { recursive: true, force: true })
})

test('plain HTTP to the HTTPS port is refused', async () => {
  const err = await fetch(mainUrl.replace('https:', 'http:') + '/healthz', { signal: AbortSignal.timeout(10_000) }).then(r => r.status, (e: Error) => e.message)
  assert.not.equal(err, 200)
})

test('a region runs end to end with main on HTTPS', async () => {
  await Promise.all([net.startNode('parent', REGION, 'tls-parent'), net.startNode('edge', REGION, 'tls-edge')])
  const bytes = randomBytes(ITEM_BYTES)
  const itemId = await net.ingest(bytes, 'over tls')
  const alice = await createCustomer(net, 'tls-alice', REGION)
  const out = join(alice.configDir, 'out.bin')
  const get = runClient(alice, ['get', itemId, '--rent', '--json', '-o', out])
  const done = await waitJson(get, o => o.type === 'done' || o.type === 'error', 120_000)
  assert.is(done.type, 'done', JSON.stringify(done))
  assert.is(await get.exited, 0)
  assert.is(createHash('sha256').update(await readFile(out)).digest('hex'), createHash('sha256').update(bytes).digest('hex'))
  const { nodes } = await net.api('GET', '/v1/nodes', undefined, OPERATOR_TOKEN) as { nodes: Array<{ status: string }> }
  assert.is(nodes.filter(n => n.status === 'up').length, 2, 'both nodes heartbeat over HTTPS')
})

test('a client pinning another main key refuses main over a trusted HTTPS connection', async () => {
  const right = net.mainKeyText
  net.mainKeyText = toBase64url(createSigner(randomBytes(32)).publicKey)
  let bob
  try {
    bob = await createCustomer(net, 'tls-bob', REGION, { ownAccount: true })
  } finally {
    net.mainKeyText = right
  }
  const items = await net.api('GET', '/v1/catalog') as { items: Array<{ itemId: string }> }
  const get = runClient(bob, ['get', items.items[0]!.itemId, '--rent', '--json', '-o', join(bob.configDir, 'out.bin')])
  const code = await get.exited
  assert.is.not(code, 0, 'the client must refuse')
  assert.match(get.output(), /signed by ed25519:\S+, expected ed25519:/, get.output().slice(-1500))
})

test('a node serves its metrics over HTTPS with --metrics-tls-cert/--metrics-tls-key; plain HTTP there is refused', async () => {
  const node = spawnReelnet(['node', '--role', 'edge', '--region', REGION, '--main', mainUrl, '--data', join(dir, 'metrics-edge'),
    '--operator-token', OPERATOR_TOKEN, `--main-key=${net.mainKeyText}`, '--heartbeat-ms', '500', '--metrics-port', '0',
    '--metrics-tls-cert', join(dir, 'cert.pem'), '--metrics-tls-key', join(dir, 'key.pem')], { name: 'metrics-edge' })
  try {
    const url = (await waitFor(node, /reelnet node metrics at (\S+)/))[1] as string
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/metrics$/)
    // this process trusts the throwaway certificate (test.before): fetch verifies it
    const res = await fetch(url, { signal: AbortSignal.timeout(30_000) })
    assert.is(res.status, 200)
    assert.match(await res.text(), /^# HELP /m)
    const plain = await fetch(url.replace('https:', 'http:'), { signal: AbortSignal.timeout(10_000) }).then(r => r.status, (e: Error) => e.message)
    assert.not.equal(plain, 200)
  } finally {
    node.kill('SIGTERM')
    await node.exited
  }
  // the flags are checked before anything starts
  const lone = spawnReelnet(['node', '--role', 'edge', '--region', REGION, '--main', mainUrl, '--data', join(dir, 'x'), '--operator-token', OPERATOR_TOKEN,
    '--metrics-port', '0', '--metrics-tls-cert', join(dir, 'cert.pem')], { name: 'lone' })
  assert.is(await lone.exited, 2)
  assert.match(lone.output(), /--metrics-tls-cert and --metrics-tls-key go together/)
})

test.run()
