import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import tls from 'node:tls'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { createSigner } from '../../../protocol/keys.ts'
import { signDirective } from '../../../protocol/documents.ts'
import { Bitfield } from '../../../protocol/wire/have.ts'
import { encodeFastLaneRequest, FAST_LANE_ALPN } from '../../../protocol/wire/fast-lane.ts'
import { createAuthorizer } from '../access.ts'
import { fastLaneCredentials, type FastLaneCredentials } from './certificate.ts'
import { startFastLaneServer, type FastLaneServer } from './server.ts'
import { FastLaneClient } from './client.ts'
import { formatFastLaneAddr } from './address.ts'
import { FAST_LANE_TLS } from './tls-options.ts'
import { penaltyFor } from '../errors.ts'
import type { AddressInfo } from 'node:net'

const mainSigner = createSigner(randomBytes(32))
const ITEM = 'item-1'
const chunks = Array.from({ length: 24 }, () => randomBytes(256 * 1024))
/** Short, so the slowloris and stranger cases finish quickly; the production value is REQUEST_TIMEOUT_MS. */
const REQUEST_TIMEOUT_MS = 600
/** A raw client gives up on a connection the server keeps open this long. */
const RAW_GIVE_UP_MS = 20_000
/** The request timeout of a server that must cut a malformed frame by itself: far past the raw client's patience. */
const PATIENT_REQUEST_TIMEOUT_MS = 3 * RAW_GIVE_UP_MS
/** A fetch on loopback that takes this long has hung (a generous bound: the batch may run on a loaded machine). */
const FETCH_TIMEOUT_MS = 30_000

interface Party { key: PrivateKey, peerId: string, creds: FastLaneCredentials }
async function party (): Promise<Party> {
  const key = await generateKeyPair('Ed25519')
  return { key, peerId: peerIdFromPrivateKey(key).toString(), creds: await fastLaneCredentials(key) }
}

let serverParty: Party, member: Party, stranger: Party, other: Party
let server: FastLaneServer
let addr: string
const malformed: string[] = []
const requests: string[] = []

function directive (client: string, over: Partial<{ itemId: string, peers: string[] }> = {}): Uint8Array {
  const now = Date.now()
  return signDirective({
    directiveId: 'd1', licenseId: 'l1', itemId: over.itemId ?? ITEM, clientPeerId: client, region: 'r1',
    peers: (over.peers ?? [serverParty.peerId]).map(p => ({ peerId: p, addrs: [], role: 'edge' as const })),
    rulesVersion: 1, issuedAt: now - 1000, expiresAt: now + 60_000
  }, mainSigner)
}

function client (p: Party): FastLaneClient { return new FastLaneClient({ credentials: p.creds }) }

async function fetchAll (c: FastLaneClient, indexes: number[], credential?: Uint8Array, peerId = serverParty.peerId): Promise<Map<number, Buffer>> {
  const got = new Map<number, Buffer>()
  await c.fetch({ peerId, fastLane: addr }, { itemId: ITEM, indexes, credential }, {
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    onChunk: (i, b) => { got.set(i, Buffer.from(b)) }
  })
  return got
}

async function errorOf (p: Promise<unknown>): Promise<Error> {
  try { await p } catch (e) { return e as Error }
  throw new Error('expected a failure')
}

/**
 * A TLS client with a valid libp2p certificate that writes raw bytes; resolves with how the connection ended
 * (`gaveUp`: the server had not closed it after RAW_GIVE_UP_MS, and the client did).
 */
async function raw (p: Party, bytes: Uint8Array[], opts: { maxVersion?: tls.SecureVersion, minVersion?: tls.SecureVersion, port?: number } = {}): Promise<{ closedAfterMs: number, error?: string, received: number, gaveUp: boolean }> {
  const started = Date.now()
  return await new Promise(resolve => {
    let received = 0
    let error: string | undefined
    let gaveUp = false
    const s = tls.connect({
      host: '127.0.0.1', port: opts.port ?? Number(addr.split('/')[4]), cert: p.creds.cert, key: p.creds.key, rejectUnauthorized: false,
      ALPNProtocols: [FAST_LANE_ALPN], maxVersion: opts.maxVersion ?? 'TLSv1.3', minVersion: opts.minVersion ?? 'TLSv1.2'
    })
    s.on('secureConnect', () => { for (const b of bytes) s.write(b) })
    s.on('data', d => { received += d.length })
    s.on('error', e => { error = e.message })
    const giveUp = setTimeout(() => { gaveUp = true; s.destroy() }, RAW_GIVE_UP_MS)
    s.on('close', () => { clearTimeout(giveUp); resolve({ closedAfterMs: Date.now() - started, error, received, gaveUp }) })
  })
}

test.before(async () => {
  [serverParty, member, stranger, other] = await Promise.all([party(), party(), party(), party()])
  const auth = createAuthorizer({
    mainPublicKey: () => mainSigner.publicKey,
    selfPeerId: serverParty.peerId,
    isMember: id => id === member.peerId
  })
  server = await startFastLaneServer({
    credentials: serverParty.creds,
    host: '127.0.0.1',
    port: 0,
    source: {
      getChunk: async (itemId, index) => { requests.push(`${itemId}#${index}`); return itemId === ITEM ? chunks[index] ?? null : null },
      have: async () => new Bitfield(0)
    },
    authorize: auth.authorize,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    onMalformed: (peer, err) => { malformed.push(`${peer}: ${err.name}`) }
  })
  addr = formatFastLaneAddr(server.host, server.port)
})

test.after(async () => { await server.close() })

test('a rules member fetches chunks byte for byte, several requests in flight on one connection', async () => {
  const c = client(member)
  const parts = await Promise.all([[0, 1, 2, 3], [10, 5], [23, 22, 21], [7], [8, 9, 11, 12, 13, 14]].map(async ix => await fetchAll(c, ix)))
  for (const got of parts) for (const [i, b] of got) assert.ok(b.equals(chunks[i]!), `chunk ${i}`)
  assert.equal(parts.map(m => [...m.keys()]), [[0, 1, 2, 3], [10, 5], [23, 22, 21], [7], [8, 9, 11, 12, 13, 14]])
  assert.is(c.connections, 1)
  assert.is(server.connections, 1)
  c.close()
})

test('a missing chunk is a ChunkNotFoundError after the others arrive', async () => {
  const c = client(member)
  const got: number[] = []
  const e = await errorOf(c.fetch({ peerId: serverParty.peerId, fastLane: addr }, { itemId: ITEM, indexes: [1, 400, 2] }, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), onChunk: i => { got.push(i) } }))
  assert.is(e.name, 'ChunkNotFoundError')
  assert.equal(got, [1, 2])
  c.close()
})

test('a server whose certificate names another PeerId is refused by the client before anything is asked', async () => {
  const c = client(member)
  const before = requests.length
  const e = await errorOf(fetchAll(c, [0], undefined, other.peerId))
  assert.is(e.name, 'FastLaneUnreachableError')
  assert.match(e.message, /another PeerId/)
  assert.is(requests.length, before)
  c.close()
})

test('a client without a directive gets nothing and is cut off', async () => {
  const c = client(stranger)
  const before = requests.length
  const e = await errorOf(fetchAll(c, [0]))
  assert.is(e.name, 'AccessDeniedError')
  assert.is(requests.length, before, 'no chunk was read for it')
  // cut off: the next request on the same client fails on a closed connection or reconnects and is refused again
  const again = await errorOf(fetchAll(c, [1]))
  assert.ok(['AccessDeniedError', 'ConnectionLostError'].includes(again.name), again.name)
  assert.is(requests.length, before)
  c.close()
})

test('a client presenting another peer\'s directive gets nothing', async () => {
  const c = client(stranger)
  const before = requests.length
  const e = await errorOf(fetchAll(c, [0], directive(other.peerId)))
  assert.is(e.name, 'AccessDeniedError')
  assert.is(requests.length, before)
  c.close()
})

test('a directive for another item, or not naming this node, gets nothing; its own directive is served', async () => {
  const c = client(stranger)
  assert.is((await errorOf(fetchAll(c, [0], directive(stranger.peerId, { itemId: 'item-2' })))).name, 'AccessDeniedError')
  c.close()
  const c2 = client(stranger)
  assert.is((await errorOf(fetchAll(c2, [0], directive(stranger.peerId, { peers: [other.peerId] })))).name, 'AccessDeniedError')
  c2.close()
  const c3 = client(stranger)
  const got = await fetchAll(c3, [4, 6], directive(stranger.peerId))
  assert.ok(got.get(4)?.equals(chunks[4]!) === true && got.get(6)?.equals(chunks[6]!) === true)
  c3.close()
})

test('TLS below 1.3 is refused in the handshake', async () => {
  const r = await raw(member, [], { maxVersion: 'TLSv1.2' })
  assert.ok(r.error !== undefined, 'the handshake failed')
  assert.is(r.received, 0)
})

test('the lane negotiates the suites it names, AES-128-GCM first (not Node\'s default order)', async () => {
  const name = await new Promise<string | undefined>((resolve, reject) => {
    const s = tls.connect({ ...FAST_LANE_TLS, host: '127.0.0.1', port: Number(addr.split('/')[4]), cert: member.creds.cert, key: member.creds.key })
    s.once('secureConnect', () => { resolve(s.getCipher().name); s.destroy() })
    s.once('error', reject)
  })
  assert.is(name, 'TLS_AES_128_GCM_SHA256')
})

test('a slowloris request (a prefix, then nothing) is cut off', async () => {
  const r = await raw(member, [Uint8Array.of(0x90)])
  assert.ok(r.closedAfterMs >= REQUEST_TIMEOUT_MS - 50, `cut after ${r.closedAfterMs} ms`)
  assert.is(r.received, 0)
})

test('a stranger that never asks is cut off', async () => {
  const r = await raw(stranger, [])
  assert.ok(r.closedAfterMs >= REQUEST_TIMEOUT_MS - 50)
})

test('an oversized frame and a never-ending length prefix are cut off at once and reported', async () => {
  // A server whose request timeout is far past the raw client's patience: a cut by that timeout would come after
  // the client gave up, so a connection the server closed was cut for the frame. (Compared with the 600 ms timeout,
  // the cut's time held the TLS handshake too, which a loaded machine can stretch.)
  const seen: string[] = []
  const patient = await startFastLaneServer({
    credentials: serverParty.creds,
    host: '127.0.0.1',
    port: 0,
    source: { getChunk: async () => { throw new Error('nothing is read for a malformed frame') }, have: async () => new Bitfield(0) },
    authorize: async () => {},
    requestTimeoutMs: PATIENT_REQUEST_TIMEOUT_MS,
    onMalformed: (peer, err) => { seen.push(`${peer}: ${err.name}`) }
  })
  try {
    // a length prefix announcing 64 MiB, far above a request's bound
    const big = await raw(member, [Uint8Array.of(0x80, 0x80, 0x80, 0x20), new Uint8Array(1000)], { port: patient.port })
    assert.not.ok(big.gaveUp, `the server kept the connection open (${big.closedAfterMs} ms)`)
    const endless = await raw(member, [new Uint8Array(64).fill(0xff)], { port: patient.port })
    assert.not.ok(endless.gaveUp, `the server kept the connection open (${endless.closedAfterMs} ms)`)
    assert.is(seen.length, 2, seen.join(', '))
    assert.ok(seen.every(m => m.startsWith(member.peerId)))
  } finally {
    await patient.close()
  }
})

test('a request beyond the in-flight limit is answered busy; the node stays up and serves', async () => {
  // 40 requests at once from one peer: 16 in flight at most, the others `busy` (MAX_STREAMS_PER_PEER)
  const c = client(member)
  const results = await Promise.allSettled(Array.from({ length: 40 }, async (_, k) => await fetchAll(c, [k % 24])))
  const busy = results.filter(r => r.status === 'rejected' && (r.reason as Error).name === 'BusyError').length
  const ok = results.filter(r => r.status === 'fulfilled').length
  assert.ok(ok >= 16 && ok + busy === 40, `${ok} served, ${busy} busy`)
  c.close()
  const c2 = client(member)
  const got = await fetchAll(c2, [0, 23])
  assert.ok(got.get(23)?.equals(chunks[23]!) === true)
  c2.close()
})

test('a server that closes the connection under a request: a lost connection (the peer avoided), not a protocol error (banned)', async () => {
  // the server's own certificate and ALPN, so the client's checks pass; it reads the request and hangs up, as a
  // restarting edge does
  const raw = tls.createServer({ ...FAST_LANE_TLS, cert: serverParty.creds.cert, key: serverParty.creds.key, requestCert: true }, s => {
    s.once('data', () => { s.destroy() })
  })
  await new Promise<void>(resolve => raw.listen(0, '127.0.0.1', resolve))
  const c = client(member)
  try {
    const err = await errorOf(c.fetch({ peerId: serverParty.peerId, fastLane: formatFastLaneAddr('127.0.0.1', (raw.address() as AddressInfo).port) }, { itemId: ITEM, indexes: [0, 1], credential: directive(member.peerId) }, {
      signal: AbortSignal.timeout(10_000), onChunk: () => {}
    }))
    assert.is(err.name, 'ConnectionLostError', err.message)
    assert.is(penaltyFor(err), 'avoid')
  } finally {
    c.close()
    await new Promise(resolve => raw.close(resolve))
  }
})

test.run()
