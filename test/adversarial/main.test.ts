/**
 * Adversarial cases against main's HTTP API (17, 18, 19) and clock skew
 * between nodes and main (30): in process through `app.request()` with a
 * fake clock, plus one real `reelnet main` process for oversized bodies
 * sent over a socket, with and without Content-Length.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { request as httpRequest } from 'node:http'
import { readFile } from 'node:fs/promises'
import { caseOf, throwsNamed, newSigner, directiveFor } from './kit.ts'
import { newKit, customer, ingest, nodeKey, OPERATOR, type Kit } from '../../main/test-kit.ts'
import { MAX_JSON_BODY_BYTES, DEFAULT_RENTAL_MS, LOGIN_FAILURES_PER_ACCOUNT, LOGIN_WINDOW_MS, MAX_CLOCK_SKEW_MS } from '../../main/limits.ts'
import { signDirective, signHeartbeat } from '../../protocol/documents.ts'
import { toText } from '../../protocol/signing.ts'
import { signNodeAuth } from '../../protocol/node-auth.ts'
import { peerIdOf } from '../../protocol/keys.ts'
import { CLOCK_SKEW_MS } from '../../protocol/limits.ts'
import { createAuthorizer } from '../../node/net/access.ts'
import { startMain, tempDir, cleanup, type Proc } from '../e2e/node-kit.ts'

let kit: Kit
let itemId = ''

test.before(async () => {
  kit = await newKit()
  itemId = await ingest(kit, new Uint8Array(200_000).fill(3), 'A film')
})

test.after(async () => {
  await kit.close()
})

async function json (res: Response): Promise<any> {
  return await res.json()
}

// ---- 17 ---------------------------------------------------------------------

caseOf(test, '17. a directive asked with someone else\'s license → 403; with an expired license → 403; with the own valid one → 201', async () => {
  const alice = await customer(kit, 'alice17', 'eu')
  const bob = await customer(kit, 'bob17', 'eu')
  const node = nodeKey()
  const reg = await kit.req('POST', '/v1/nodes', { json: { peerId: node.peerId, role: 'edge', region: 'eu', addrs: ['/ip4/127.0.0.1/tcp/4001'], capacityBytes: 1e9 }, token: OPERATOR })
  assert.ok(reg.status === 201 || reg.status === 200)
  const rental = await json(await kit.req('POST', '/v1/rentals', { json: { itemId }, token: alice.token })) as { licenseId: string }
  const client = peerIdOf(newSigner().publicKey)
  const ask = async (token: string, licenseId: string): Promise<Response> => await kit.req('POST', '/v1/directives', { json: { licenseId, clientPeerId: client, region: 'eu' }, token })

  const stolen = await ask(bob.token, rental.licenseId)
  assert.is(stolen.status, 403)
  assert.is((await json(stolen)).error.code, 'license_foreign')
  const unknown = await ask(bob.token, '00000000-0000-4000-8000-000000000000')
  assert.is(unknown.status, 403)
  const noSession = await kit.req('POST', '/v1/directives', { json: { licenseId: rental.licenseId, clientPeerId: client, region: 'eu' } })
  assert.is(noSession.status, 401)
  const own = await ask(alice.token, rental.licenseId)
  assert.is(own.status, 201, 'control: the owner gets one')

  const saved = kit.clock.now
  kit.clock.now += DEFAULT_RENTAL_MS + 1000
  try {
    // a fresh session for the same account (sessions last a week; this keeps the test about the license)
    const expired = await ask(alice.token, rental.licenseId)
    assert.is(expired.status, 403)
    assert.is((await json(expired)).error.code, 'license_expired')
  } finally { kit.clock.now = saved }
})

// ---- 18 ---------------------------------------------------------------------

caseOf(test, '18. brute-force login → 429 after a bounded number of attempts (before any hashing); the legitimate login works afterwards', async () => {
  const password = 'correct horse battery'
  const created = await kit.req('POST', '/v1/accounts', { json: { username: 'victim18', password, region: 'eu' } })
  assert.is(created.status, 201)
  const statuses: number[] = []
  for (let i = 0; i < 3 * LOGIN_FAILURES_PER_ACCOUNT; i++) {
    const res = await kit.req('POST', '/v1/sessions', { json: { username: 'victim18', password: `guess-${i}-xxxxxxxx` } })
    statuses.push(res.status)
    if (res.status === 429) assert.ok(Number(res.headers.get('retry-after')) > 0, 'Retry-After says when')
    await res.arrayBuffer()
  }
  assert.equal(statuses.slice(0, LOGIN_FAILURES_PER_ACCOUNT), Array(LOGIN_FAILURES_PER_ACCOUNT).fill(401))
  assert.ok(statuses.slice(LOGIN_FAILURES_PER_ACCOUNT).every(s => s === 429), `after ${LOGIN_FAILURES_PER_ACCOUNT} failures only 429: ${statuses.join(',')}`)
  // the right password during the lock-out is refused too (the guesser cannot tell)
  const during = await kit.req('POST', '/v1/sessions', { json: { username: 'victim18', password } })
  assert.is(during.status, 429)
  // refusals are cheap: no password is checked behind them (the failed-login counter counts checked passwords)
  const checked = async (): Promise<number> => Number(/^reelnet_logins_failed_total (\d+)$/m.exec(await (await kit.req('GET', '/metrics', { token: OPERATOR })).text())?.[1] ?? NaN)
  const checkedBefore = await checked()
  for (let i = 0; i < 50; i++) {
    const r = await kit.req('POST', '/v1/sessions', { json: { username: 'victim18', password: 'another-guess-000' } })
    assert.is(r.status, 429)
    await r.arrayBuffer()
  }
  assert.is(await checked(), checkedBefore, 'fifty refusals, no password hashed for any of them')
  // another customer is not locked out by the attack on this account
  const other = await kit.req('POST', '/v1/accounts', { json: { username: 'bystander18', password, region: 'eu' } })
  assert.is(other.status, 201)
  assert.is((await kit.req('POST', '/v1/sessions', { json: { username: 'bystander18', password } })).status, 201)
  // once the window has passed, the owner logs in
  const saved = kit.clock.now
  kit.clock.now += LOGIN_WINDOW_MS + 1000
  try {
    assert.is((await kit.req('POST', '/v1/sessions', { json: { username: 'victim18', password } })).status, 201)
  } finally { kit.clock.now = saved }
})

// ---- 19 ---------------------------------------------------------------------

/** POST `total` bytes to url+path over a raw socket, with or without Content-Length; resolves with the status (or the socket error). */
function rawPost (base: string, path: string, total: number, withLength: boolean): Promise<{ status: number, body: string } | { error: string }> {
  const url = new URL(path, base)
  return new Promise(resolve => {
    const headers: Record<string, string | number> = { 'content-type': 'application/json' }
    if (withLength) headers['content-length'] = total
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers, timeout: 30_000 }, res => {
      let body = ''
      res.on('data', (d: Buffer) => { if (body.length < 4096) body += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
      res.on('error', err => { resolve({ error: err.message }) })
    })
    req.on('error', err => { resolve({ error: err.message }) })
    req.on('timeout', () => { req.destroy(new Error('timeout')) })
    const piece = Buffer.alloc(64 * 1024, 0x20)
    piece[0] = 0x7b // '{', then spaces: valid-looking JSON that never ends
    let sent = 0
    const pump = (): void => {
      while (sent < total) {
        const n = Math.min(piece.length, total - sent)
        sent += n
        if (!req.write(n === piece.length ? piece : piece.subarray(0, n))) { req.once('drain', pump); return }
      }
      req.end()
    }
    pump()
  })
}

async function rssOf (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024
}

caseOf(test, '19. oversized request bodies, with and without Content-Length → 413; the main process is unaffected', async () => {
  // in process, every JSON route
  const big = JSON.stringify({ username: 'x'.repeat(MAX_JSON_BODY_BYTES), password: 'p' })
  for (const path of ['/v1/accounts', '/v1/sessions', '/v1/rentals', '/v1/directives', '/v1/nodes']) {
    const res = await kit.req('POST', path, { body: big, headers: { 'content-type': 'application/json' } })
    assert.is(res.status, 413, `${path}: ${res.status}`)
  }
  // a real process over a socket
  const dir = await tempDir('adv-main19')
  let proc: Proc | undefined
  try {
    const started = await startMain(dir)
    proc = started.proc
    const url = started.url
    const before = await rssOf(proc.child.pid!)
    const results = []
    for (const withLength of [true, false]) {
      for (const size of [MAX_JSON_BODY_BYTES + 1, 16 * 1024 * 1024]) {
        const r = await rawPost(url, '/v1/accounts', size, withLength)
        results.push({ withLength, size, r })
      }
    }
    for (const { withLength, size, r } of results) {
      // the server answers 413 (or, having answered, closes the socket while a huge body is still being sent)
      const ok = 'status' in r ? r.status === 413 : /EPIPE|ECONNRESET|socket hang up/.test(r.error)
      assert.ok(ok, `${size} bytes ${withLength ? 'with' : 'without'} Content-Length: ${JSON.stringify(r)}`)
    }
    assert.ok(results.some(x => 'status' in x.r && x.r.status === 413 && !x.withLength), 'a body without Content-Length got a 413 answer')
    assert.ok(results.some(x => 'status' in x.r && x.r.status === 413 && x.withLength), 'a body with Content-Length got a 413 answer')
    // still alive, still serving, memory not inflated by the bodies
    assert.is(proc.child.exitCode, null)
    const health = await fetch(`${url}/healthz`)
    assert.is(health.status, 200)
    const ok = await fetch(`${url}/v1/accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'after19', password: 'a long enough password' }) })
    assert.is(ok.status, 201, 'a normal request still works')
    const after = await rssOf(proc.child.pid!)
    assert.ok(after - before < 64 * 1024 * 1024, `RSS grew by ${((after - before) / 1048576).toFixed(1)} MiB`)
  } finally {
    await cleanup(dir, [proc])
  }
})

// ---- 30 ---------------------------------------------------------------------

caseOf(test, '30. clock skew between a node and main within the tolerance → works; beyond it → a clear error', async () => {
  const node = nodeKey()
  const reg = await kit.req('POST', '/v1/nodes', { json: { peerId: node.peerId, role: 'parent', region: 'eu', addrs: ['/ip4/127.0.0.1/tcp/4002'], capacityBytes: 1e9 }, token: OPERATOR })
  assert.ok(reg.status === 201 || reg.status === 200)
  const now = kit.clock.now
  const heartbeat = async (skew: number): Promise<Response> => {
    const hb = { peerId: node.peerId, seq: Math.abs(skew) + 1, sentAt: now + skew, load: 0, freeBytes: 1, bytesServed: { edge: 0, parent: 0, peer: 0, client: 0 }, heldItems: [] }
    return await kit.req('POST', `/v1/nodes/${node.peerId}/heartbeat`, { json: { heartbeat: toText(signHeartbeat(hb, node.signer)) } })
  }
  const within = MAX_CLOCK_SKEW_MS / 2
  const beyond = MAX_CLOCK_SKEW_MS * 3
  // (in increasing sentAt order: main refuses a heartbeat older than the last one, a replay)
  assert.is((await heartbeat(-within)).status, 200, 'a node behind within the tolerance')
  assert.is((await heartbeat(within)).status, 200, 'a node ahead within the tolerance')
  for (const skew of [beyond, -beyond]) {
    const res = await heartbeat(skew)
    assert.is(res.status, 401, `skew ${skew}`)
    const body = await json(res)
    assert.match(body.error.message, /heartbeat (is valid only from|expired)/, `a clear error: ${body.error.message}`)
  }
  // node authorization on origin chunks (a signed timestamp)
  const path = `/v1/items/${itemId}/chunks/0`
  const origin = async (skew: number): Promise<Response> => await kit.req('GET', path, { headers: { authorization: signNodeAuth(node.peerId, 'GET', path, now + skew, m => node.signer.sign(m)) } })
  assert.is((await origin(within)).status, 200)
  assert.is((await origin(-within)).status, 200)
  const far = await origin(beyond)
  assert.is(far.status, 401)
  assert.match((await json(far)).error.message, /clock skew/)

  // a node checking a customer's directive with its own clock off from main's
  const signer = kit.main.signer
  const self = peerIdOf(newSigner().publicKey)
  const client = peerIdOf(newSigner().publicKey)
  const d = signDirective(directiveFor(itemId, client, [{ peerId: self, addrs: [], role: 'edge' }], { issuedAt: now, expiresAt: now + 10 * 60_000 }), signer)
  const conn = { remotePeer: { toString: () => client } } as any
  const nodeAt = (t: number): ReturnType<typeof createAuthorizer> => createAuthorizer({ mainPublicKey: () => signer.publicKey, selfPeerId: self, isMember: () => false, now: () => t })
  await nodeAt(now - CLOCK_SKEW_MS / 2).authorize({ connection: conn, itemId, credential: d })
  await nodeAt(now + 10 * 60_000 + CLOCK_SKEW_MS / 2).authorize({ connection: conn, itemId, credential: d })
  await throwsNamed(() => nodeAt(now - 3 * CLOCK_SKEW_MS).authorize({ connection: conn, itemId, credential: d }), 'AccessDeniedError', /valid only from/)
  await throwsNamed(() => nodeAt(now + 10 * 60_000 + 3 * CLOCK_SKEW_MS).authorize({ connection: conn, itemId, credential: d }), 'AccessDeniedError', /expired/)
})

test.run()
