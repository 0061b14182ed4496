/**
 * Two real mains on one PostgreSQL behind a real nginx (a generated config on
 * loopback ports in a temp folder, started with -p/-c, never a system nginx):
 * customers sign up on one and log in on the other; a rental through one gives
 * a directive through the other; wrong passwords split across both are limited
 * as if against one; nodes register and heartbeat through the balancer; an
 * item ingested through one is downloaded byte-exact through the balancer while
 * one main is SIGKILLed mid-download and another is killed in a burst of
 * sign-ups; after restarts every acknowledged account and licence is there,
 * and the stored rules versions and every version the balancer served only grew.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { createSigner, peerIdOf } from '../../protocol/keys.ts'
import { verifyDirective } from '../../protocol/documents.ts'
import { fromText } from '../../protocol/signing.ts'
import { fromBase64url } from '../../protocol/encoding.ts'
import { TEST_SCRYPT_LOG_N } from '../bin.ts'
import { Network, spawnReelnet, waitFor, createCustomer, runClient, waitJson, ADMIN_TOKEN, OPERATOR_TOKEN, type Proc } from './client-net.ts'
import { startPostgres, freshDatabase, type Postgres } from '../postgres.ts'
import { NGINX, startNginx, type Nginx } from '../nginx.ts'

/** 6 MiB read at 1 MiB/s by the client: several seconds in which to kill a main. */
const ITEM_BYTES = 6 * 1024 * 1024
const CLIENT_RATE = '1MiB'
const REGION = 'mm'
const PW = 'pw-multi-main-0123456789'
/** nginx reaches the mains from loopback: the one trusted proxy (so is the test itself, which then chooses its address by header). */
const TRUSTED_PROXY = '127.0.0.1/32'

interface MainProc { proc: Proc, url: string, port: number }

let pg: Postgres
let dir = ''
let dbUrl = ''
let nginx: Nginx | undefined
let lbUrl = ''
const mains: MainProc[] = []
let net: Network
/** Every rules version the balancer served, in the order seen. */
const seenVersions: number[] = []
let polling = true
let poller: Promise<void> = Promise.resolve()
/** Acknowledged writes to compare after every main is SIGKILLed and restarted. */
const acknowledged = { accounts: [] as string[], licenses: [] as Array<{ licenseId: string, token: string }> }

async function startMainProc (port: number): Promise<MainProc> {
  const proc = spawnReelnet(['main', '--plain', '--data', join(dir, 'main'), '--db', dbUrl, '--port', String(port), '--admin-token', ADMIN_TOKEN, '--operator-token', OPERATOR_TOKEN,
    '--heartbeat-timeout-ms', '4000', '--scrypt-log-n', TEST_SCRYPT_LOG_N, '--trusted-proxy', TRUSTED_PROXY], { name: `main-${port}` })
  const m = await waitFor(proc, /reelnet main listening on (http:\/\/\S+) key (\S+)/)
  return { proc, url: m[1] as string, port: Number(new URL(m[1] as string).port) }
}

async function api (base: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number, json: any }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(60_000)
  })
  const text = await res.text()
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
}

async function until (what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await check().catch(() => false)) return
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function restartMain (i: number): Promise<void> {
  const old = mains[i]!
  old.proc.kill('SIGKILL')
  await old.proc.exited
  mains[i] = await startMainProc(old.port)
}

const server = await startPostgres()
if (typeof server === 'string' || NGINX === undefined) {
  console.log(`SKIP multi-main: ${typeof server === 'string' ? server : 'nginx is not installed (.ci/run installs Debian\'s nginx)'}; no multi-main test ran`)
  if (typeof server !== 'string') await server.stop()
} else {
  pg = server
  test.before(async () => {
    try {
      await setUp()
    } catch (err) {
      // uvu reports a failed hook only as 0 passed: say why
      console.error('multi-main set-up failed:', err, mains.map(m => m.proc.output().slice(-2000)).join('\n---\n'))
      throw err
    }
  })

  async function setUp (): Promise<void> {
    dir = await mkdtemp(join(tmpdir(), 'reelnet-multi-main-'))
    dbUrl = await freshDatabase(pg, 'multi_main')
    // the first main creates the signing key in the shared data folder; the second starts on it
    mains.push(await startMainProc(0))
    mains.push(await startMainProc(0))
    assert.is(mains[0]!.proc.output().match(/listening on \S+ key (\S+)/)?.[1], mains[1]!.proc.output().match(/listening on \S+ key (\S+)/)?.[1], 'one signing key')
    nginx = await startNginx(join(dir, 'nginx'), mains.map(m => m.port))
    lbUrl = nginx.url
    net = new Network({ dir, regions: [] })
    net.mainUrl = lbUrl
    net.mainKeyText = (await api(lbUrl, 'GET', '/v1/keys')).json.keys[0].publicKey
    poller = (async () => {
      while (polling) {
        const r = await api(lbUrl, 'GET', '/v1/rules').catch(() => undefined)
        if (r?.status === 200) seenVersions.push(r.json.version as number)
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    })()
  }

  test.after(async () => {
    polling = false
    await poller
    await net?.stop().catch(() => {})
    for (const m of mains) m.proc.kill('SIGKILL')
    await nginx?.stop()
    await pg.stop()
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  test('signed up on one main, logged in on the other; a rental through one gives a directive through the other', async () => {
    const [a, b] = [mains[0]!.url, mains[1]!.url]
    assert.is((await api(a, 'POST', '/v1/accounts', { username: 'Cross', password: PW, region: REGION })).status, 201)
    const login = await api(b, 'POST', '/v1/sessions', { username: 'cross', password: PW })
    assert.is(login.status, 201, JSON.stringify(login.json))
    assert.is((await api(b, 'POST', '/v1/accounts', { username: 'CROSS', password: PW })).status, 409, 'the name is taken on the other main too')
    const itemId = await net.ingest(randomBytes(64 * 1024), 'small')
    // an item ingested through either main reaches the other's catalog within SHARED_SYNC_MS
    await until('both mains to list the item', async () => (await api(a, 'GET', `/v1/items/${itemId}`)).status === 200 && (await api(b, 'GET', `/v1/items/${itemId}`)).status === 200, 10_000)
    const rental = await api(a, 'POST', '/v1/rentals', { itemId }, login.json.token)
    assert.is(rental.status, 201, JSON.stringify(rental.json))
    acknowledged.accounts.push('Cross')
    acknowledged.licenses.push({ licenseId: rental.json.licenseId, token: login.json.token })
    const client = peerIdOf(createSigner(randomBytes(32)).publicKey)
    const d = await api(b, 'POST', '/v1/directives', { licenseId: rental.json.licenseId, clientPeerId: client, region: REGION }, login.json.token)
    assert.is(d.status, 201, JSON.stringify(d.json))
  })

  test('revoked through one main: the other refuses the licence, the account\'s sessions and counts the devices of both; list versions only grow', async () => {
    const [a, b] = [mains[0]!.url, mains[1]!.url]
    assert.is((await api(a, 'POST', '/v1/accounts', { username: 'revokee', password: PW, region: REGION })).status, 201)
    const login = await api(b, 'POST', '/v1/sessions', { username: 'revokee', password: PW })
    const token = login.json.token as string
    const itemId = await net.ingest(randomBytes(64 * 1024), 'revocable')
    await until('both mains to list the item', async () => (await api(a, 'GET', `/v1/items/${itemId}`)).status === 200 && (await api(b, 'GET', `/v1/items/${itemId}`)).status === 200, 10_000)
    const lic = (await api(a, 'POST', '/v1/rentals', { itemId }, token)).json.licenseId as string
    const lic2 = (await api(a, 'POST', '/v1/rentals', { itemId }, token)).json.licenseId as string
    const device = (): string => peerIdOf(createSigner(randomBytes(32)).publicKey)
    // two devices, one through each main; a third is refused by either
    assert.is((await api(a, 'POST', '/v1/directives', { licenseId: lic2, clientPeerId: device(), region: REGION }, token)).status, 201)
    assert.is((await api(b, 'POST', '/v1/directives', { licenseId: lic2, clientPeerId: device(), region: REGION }, token)).status, 201)
    const third = await api(a, 'POST', '/v1/directives', { licenseId: lic2, clientPeerId: device(), region: REGION }, token)
    assert.is(third.status, 409, JSON.stringify(third.json))
    const before = Math.max(...await Promise.all([a, b].map(async u => (await api(u, 'GET', '/v1/revocations')).json.version as number)))
    const r = await api(a, 'POST', '/v1/admin/revoke', { kind: 'license', id: lic }, ADMIN_TOKEN)
    assert.is(r.status, 201, JSON.stringify(r.json))
    assert.ok((r.json.revocationsVersion as number) > before)
    await until('the other main to refuse the revoked licence', async () => (await api(b, 'POST', '/v1/directives', { licenseId: lic, clientPeerId: device(), region: REGION }, token)).json?.error?.code === 'license_revoked', 10_000)
    await until('the other main to serve the newer list', async () => ((await api(b, 'GET', '/v1/revocations')).json.version as number) >= (r.json.revocationsVersion as number), 10_000)
    assert.is((await api(b, 'POST', '/v1/admin/revoke', { kind: 'account', id: 'revokee' }, ADMIN_TOKEN)).status, 201)
    await until('the first main to fail the account\'s session', async () => (await api(a, 'POST', '/v1/rentals', { itemId }, token)).json?.error?.code === 'account_revoked', 10_000)
  })

  test('wrong passwords split across two mains are limited as many against one', async () => {
    const a = mains[0]!.url
    assert.is((await api(a, 'POST', '/v1/accounts', { username: 'target', password: PW })).status, 201)
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) statuses.push((await api(mains[i % 2]!.url, 'POST', '/v1/sessions', { username: 'target', password: 'wrong-password-000' })).status)
    // the per-(account, source) limit is 5: five 401s, then 429 on whichever main is asked
    assert.equal(statuses, [401, 401, 401, 401, 401, 429])
    assert.is((await api(mains[1]!.url, 'POST', '/v1/sessions', { username: 'target', password: PW })).status, 429, 'even the right password waits out the lock-out')
  })

  test('a customer peer\'s holding reported to main A is offered in directives from main B', async () => {
    const [a, b] = [mains[0]!.url, mains[1]!.url]
    const itemId = await net.ingest(randomBytes(64 * 1024), 'held')
    const session = async (base: string, username: string): Promise<string> => {
      assert.is((await api(base, 'POST', '/v1/accounts', { username, password: PW, region: REGION })).status, 201)
      return (await api(base, 'POST', '/v1/sessions', { username, password: PW })).json.token as string
    }
    const [holder, asker] = [await session(a, 'holder'), await session(b, 'asker')]
    await until('both mains to list the item', async () => (await api(a, 'GET', `/v1/items/${itemId}`)).status === 200 && (await api(b, 'GET', `/v1/items/${itemId}`)).status === 200, 10_000)
    const [lh, la] = [await api(a, 'POST', '/v1/rentals', { itemId }, holder), await api(b, 'POST', '/v1/rentals', { itemId }, asker)]
    assert.is(lh.status, 201)
    assert.is(la.status, 201)
    const holderPeer = peerIdOf(createSigner(randomBytes(32)).publicKey)
    const askerPeer = peerIdOf(createSigner(randomBytes(32)).publicKey)
    assert.is((await api(a, 'POST', '/v1/directives', { licenseId: lh.json.licenseId, clientPeerId: holderPeer, region: REGION }, holder)).status, 201)
    const held = await api(a, 'POST', '/v1/holdings', { licenseId: lh.json.licenseId, peerId: holderPeer, addrs: ['/ip4/127.0.0.1/tcp/5999'], region: REGION, complete: true }, holder)
    assert.is(held.status, 200, JSON.stringify(held.json))
    const key = fromBase64url(net.mainKeyText)
    let peers: string[] = []
    // main B reads holdings with its 1 s sync
    await until('main B to offer the holder', async () => {
      const d = await api(b, 'POST', '/v1/directives', { licenseId: la.json.licenseId, clientPeerId: askerPeer, region: REGION }, asker)
      peers = verifyDirective(fromText(d.json.directive), { publicKey: key, now: Date.now(), clientPeerId: askerPeer }).peers.map(p => `${p.role}:${p.peerId}`)
      return peers.includes(`peer:${holderPeer}`)
    }, 20_000)
    assert.ok(peers.includes(`peer:${holderPeer}`))
  })

  test('nodes through the balancer; a download survives SIGKILL of a main; a sign-up burst survives another', async () => {
    await Promise.all([net.startNode('parent', REGION, 'mm-parent'), net.startNode('edge', REGION, 'mm-edge')])
    const bytes = randomBytes(ITEM_BYTES)
    const itemId = await net.ingest(bytes, 'big')
    await until('both mains to list both nodes up', async () => {
      for (const m of mains) {
        const { json } = await api(m.url, 'GET', '/v1/nodes', undefined, OPERATOR_TOKEN)
        if ((json.nodes as Array<{ status: string }>).filter(n => n.status === 'up').length !== 2) return false
      }
      return true
    }, 60_000)
    const alice = await createCustomer(net, 'mm-alice', REGION, { ownAccount: true })
    const out = join(alice.configDir, 'out.bin')
    const get = runClient(alice, ['get', itemId, '--rent', '--json', '--max-download', CLIENT_RATE, '-o', out])
    const mid = await waitJson(get, o => (o.type === 'progress' && o.doneBytes > 0) || o.type === 'done' || o.type === 'error', 120_000)
    assert.is(mid.type, 'progress', `killed mid-download: ${JSON.stringify(mid)}`)
    await restartMain(0)
    const done = await waitJson(get, o => o.type === 'done' || o.type === 'error', 180_000)
    assert.is(done.type, 'done', JSON.stringify(done))
    assert.is(await get.exited, 0, get.output().slice(-2000))
    assert.is(createHash('sha256').update(await readFile(out)).digest('hex'), createHash('sha256').update(bytes).digest('hex'), 'byte-exact')

    // a burst of sign-ups through the balancer with main 1 killed in the middle: every 201 must survive
    const acked: string[] = []
    const burst = Array.from({ length: 8 }, async (_, i) => {
      const name = `burst-${i}`
      const r = await api(lbUrl, 'POST', '/v1/accounts', { username: name, password: PW }).catch(() => undefined)
      if (r?.status === 201) acked.push(name)
    })
    await new Promise(resolve => setTimeout(resolve, 20))
    const killing = restartMain(1)
    await Promise.all([...burst, killing])
    assert.ok(acked.length > 0, 'some sign-ups were acknowledged')
    console.log(`multi-main: ${acked.length}/8 sign-ups acknowledged around a SIGKILL; download of ${ITEM_BYTES} bytes byte-exact across a SIGKILL`)
    acknowledged.accounts.push(...acked)
    for (const name of acked) {
      const r = await api(lbUrl, 'POST', '/v1/sessions', { username: name, password: PW })
      assert.is(r.status, 201, `${name}: ${JSON.stringify(r.json)}`)
    }
    const lic = await api(lbUrl, 'POST', '/v1/sessions', { username: 'mm-alice', password: 'pw-mm-alice-0123456789' })
    assert.is(lic.status, 201, 'the customer of the killed main logs in')
  })

  test('customers pinned one to each main (no balancer): an item ingested through main A is rented and downloaded through B too', async () => {
    const [a, b] = [mains[0]!.url, mains[1]!.url]
    const lb = net.mainUrl
    const bytes = randomBytes(768 * 1024)
    let itemId = ''
    const pinned: Array<Awaited<ReturnType<typeof createCustomer>>> = []
    try {
      net.mainUrl = a
      itemId = await net.ingest(bytes, 'pinned')
      pinned.push(await createCustomer(net, 'pin-a', REGION, { ownAccount: true }))
      net.mainUrl = b
      pinned.push(await createCustomer(net, 'pin-b', REGION, { ownAccount: true }))
    } finally {
      net.mainUrl = lb
    }
    const runs = pinned.map(c => ({ c, out: join(c.configDir, 'pinned.bin'), get: runClient(c, ['get', itemId, '--rent', '--json', '-o', join(c.configDir, 'pinned.bin')]) }))
    for (const r of runs) {
      const done = await waitJson(r.get, o => o.type === 'done' || o.type === 'error', 180_000)
      assert.is(done.type, 'done', `${r.c.name}: ${JSON.stringify(done)}`)
      assert.is(await r.get.exited, 0, r.get.output().slice(-2000))
      assert.is(createHash('sha256').update(await readFile(r.out)).digest('hex'), createHash('sha256').update(bytes).digest('hex'), `${r.c.name}: byte-exact`)
    }
    console.log(`multi-main: an item ingested through main A downloaded byte-exact by a customer pinned to A and one pinned to B`)
  })

  test('behind nginx with --trusted-proxy: log-in limits count each forwarded client, not the balancer', async () => {
    assert.is((await api(lbUrl, 'POST', '/v1/accounts', { username: 'proxied', password: PW })).status, 201)
    const as = async (client: string, password: string): Promise<number> => {
      const res = await fetch(`${lbUrl}/v1/sessions`, {
        method: 'POST',
        // nginx appends its peer (127.0.0.1, trusted): main counts the rightmost untrusted address, this one
        headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
        body: JSON.stringify({ username: 'proxied', password }),
        signal: AbortSignal.timeout(60_000)
      })
      await res.body?.cancel()
      return res.status
    }
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) statuses.push(await as('203.0.113.1', 'wrong-password-000'))
    // requests alternate between the mains through nginx; the shared limiter counts them as one history
    assert.equal(statuses, [401, 401, 401, 401, 401, 429])
    assert.is(await as('203.0.113.2', PW), 201, 'another customer behind the same balancer logs in')
    assert.is(await as('203.0.113.1', PW), 429, 'the one that failed waits')
  })

  test('rules versions: stored ones unique and growing; every one the balancer served never went back', async () => {
    const { default: pgc } = await import('pg')
    const c = new pgc.Client({ connectionString: dbUrl })
    await c.connect()
    const r = await c.query('select version::int as v from rules order by version')
    await c.end()
    const stored = r.rows.map(x => x.v as number)
    assert.equal(stored, Array.from({ length: stored.length }, (_, i) => i + 1), 'versions 1..N, none repeated or skipped')
    assert.ok(seenVersions.length > 10, `polled ${seenVersions.length} times`)
    console.log(`multi-main: ${stored.length} rules versions stored; ${seenVersions.length} served through nginx, ${seenVersions[0]} → ${seenVersions.at(-1)}, never back`)
    for (let i = 1; i < seenVersions.length; i++) {
      assert.ok(seenVersions[i]! >= seenVersions[i - 1]!, `served ${seenVersions[i - 1]} then ${seenVersions[i]} (at ${i})`)
    }
  })

  test('every main SIGKILLed and restarted on PostgreSQL: every acknowledged account, session, licence and rules version is there', async () => {
    const before = (await api(mains[0]!.url, 'GET', '/v1/rules')).json.version as number
    for (const m of mains) m.proc.kill('SIGKILL')
    await Promise.all(mains.map(async m => await m.proc.exited))
    for (let i = 0; i < mains.length; i++) mains[i] = await startMainProc(mains[i]!.port)
    for (const name of acknowledged.accounts) {
      const r = await api(mains[1]!.url, 'POST', '/v1/sessions', { username: name, password: PW })
      assert.is(r.status, 201, `${name}: ${JSON.stringify(r.json)}`)
    }
    const client = peerIdOf(createSigner(randomBytes(32)).publicKey)
    for (const l of acknowledged.licenses) {
      const d = await api(mains[0]!.url, 'POST', '/v1/directives', { licenseId: l.licenseId, clientPeerId: client, region: REGION }, l.token)
      assert.is(d.status, 201, `licence ${l.licenseId} with its old session: ${JSON.stringify(d.json)}`)
    }
    const after = (await api(mains[0]!.url, 'GET', '/v1/rules')).json.version as number
    assert.ok(after > before, `rules version ${before} → ${after} after the restarts`)
    console.log(`multi-main: after SIGKILL of both mains, ${acknowledged.accounts.length} accounts and ${acknowledged.licenses.length} licence(s) intact; rules ${before} → ${after}`)
  })

  test.run()
}
