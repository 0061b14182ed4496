import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createSigner } from '../../protocol/keys.ts'
import { signDirective } from '../../protocol/documents.ts'
import { Bitfield } from '../../protocol/wire/have.ts'
import { createHost, listenAddrs, type ReelnetHost } from './host.ts'
import { serveChunks } from './chunk-server.ts'
import { fetchChunks } from './chunk-client.ts'
import { fetchHave } from './have-client.ts'
import { createAuthorizer } from './access.ts'

const mainSigner = createSigner(randomBytes(32))
const ITEM = 'item-1'
const chunks = Array.from({ length: 12 }, () => randomBytes(256 * 1024))

let server: ReelnetHost, member: ReelnetHost, stranger: ReelnetHost
const refused: string[] = []

function directive (client: string, over: Partial<{ itemId: string, expiresAt: number, peers: string[] }> = {}): Uint8Array {
  const now = Date.now()
  return signDirective({
    directiveId: 'd1', licenseId: 'l1', itemId: over.itemId ?? ITEM, clientPeerId: client, region: 'r1',
    peers: (over.peers ?? [server.peerId.toString()]).map(p => ({ peerId: p, addrs: [], role: 'edge' as const })),
    rulesVersion: 1, issuedAt: Math.min(now - 1000, (over.expiresAt ?? now) - 200_000), expiresAt: over.expiresAt ?? now + 60_000
  }, mainSigner)
}
const ref = (h: ReelnetHost) => ({ peerId: h.peerId.toString(), addrs: listenAddrs(h) })

test.before(async () => {
  server = await createHost({ privateKey: await generateKeyPair('Ed25519'), region: 'r1', dht: false })
  member = await createHost({ privateKey: await generateKeyPair('Ed25519'), region: 'r1', dht: false })
  stranger = await createHost({ privateKey: await generateKeyPair('Ed25519'), region: 'r1', dht: false })
  const auth = createAuthorizer({
    mainPublicKey: () => mainSigner.publicKey,
    selfPeerId: server.peerId.toString(),
    isMember: id => id === member.peerId.toString(),
    onRefused: id => refused.push(id)
  })
  await serveChunks(server, {
    source: {
      getChunk: async (itemId, index) => itemId === ITEM ? chunks[index] ?? null : null,
      have: async itemId => { if (itemId !== ITEM) return null; const b = new Bitfield(chunks.length); for (let i = 0; i < chunks.length; i += 2) b.set(i); return b }
    },
    authorize: auth.authorize,
    mayAskHave: auth.mayAskHave
  })
})

test.after(async () => { await Promise.all([server.stop(), member.stop(), stranger.stop()]) })

test('a rules member fetches chunks in order, byte for byte, with a slow consumer', async () => {
  const got = new Map<number, Buffer>()
  await fetchChunks(member, ref(server), { itemId: ITEM, indexes: [3, 0, 11, 7] }, {
    signal: AbortSignal.timeout(10_000),
    onChunk: async (i, b) => { got.set(i, Buffer.from(b)); await new Promise(r => setTimeout(r, 20)) }
  })
  assert.equal([...got.keys()], [3, 0, 11, 7])
  for (const [i, b] of got) assert.ok(b.equals(chunks[i]!), `chunk ${i}`)
})

test('a missing chunk is a ChunkNotFoundError after the others arrive', async () => {
  const got: number[] = []
  try {
    await fetchChunks(member, ref(server), { itemId: ITEM, indexes: [1, 40, 2] }, { signal: AbortSignal.timeout(10_000), onChunk: i => { got.push(i) } })
    assert.unreachable('should throw')
  } catch (e) {
    assert.is((e as Error).name, 'ChunkNotFoundError')
  }
  assert.equal(got, [1, 2])
})

test('a stranger without a directive is refused; with its own directive it is served', async () => {
  try {
    await fetchChunks(stranger, ref(server), { itemId: ITEM, indexes: [0] }, { signal: AbortSignal.timeout(10_000), onChunk: () => {} })
    assert.unreachable('should be refused')
  } catch (e) { assert.is((e as Error).name, 'AccessDeniedError') }
  const got: number[] = []
  await fetchChunks(stranger, ref(server), { itemId: ITEM, indexes: [5], credential: directive(stranger.peerId.toString()) }, { signal: AbortSignal.timeout(10_000), onChunk: i => { got.push(i) } })
  assert.equal(got, [5])
  // the have protocol is open to it on this connection now
  const bits = await fetchHave(stranger, ref(server), { itemId: ITEM }, { signal: AbortSignal.timeout(5000) })
  assert.is(bits?.count(), 6)
})

test("another peer's directive, an expired one, or one for another item is refused", async () => {
  const other = member.peerId.toString()
  const fresh = await createHost({ privateKey: await generateKeyPair('Ed25519'), region: 'r1', dht: false })
  const me = fresh.peerId.toString()
  const cases = [
    directive(other),
    directive(me, { expiresAt: Date.now() - 120_000 }),
    directive(me, { itemId: 'item-2' }),
    directive(me, { peers: [other] })
  ]
  for (const credential of cases) {
    try {
      await fetchChunks(fresh, ref(server), { itemId: ITEM, indexes: [0], credential }, { signal: AbortSignal.timeout(10_000), onChunk: () => {} })
      assert.unreachable('should be refused')
    } catch (e) { assert.is((e as Error).name, 'AccessDeniedError') }
  }
  assert.ok(refused.filter(r => r === me).length === 4)
  await fresh.stop()
})

test('over a /ws listener, a directive holder is served the same bytes and a stranger is refused the same way', async () => {
  const wsServer = await createHost({ privateKey: await generateKeyPair('Ed25519'), region: 'r1', dht: false, listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'] })
  const client = await createHost({ privateKey: await generateKeyPair('Ed25519'), region: 'r1', dht: false, listen: [] })
  try {
    const wsAuth = createAuthorizer({ mainPublicKey: () => mainSigner.publicKey, selfPeerId: wsServer.peerId.toString(), isMember: () => false })
    await serveChunks(wsServer, {
      source: { getChunk: async (itemId, index) => itemId === ITEM ? chunks[index] ?? null : null, have: async () => null },
      authorize: wsAuth.authorize,
      mayAskHave: wsAuth.mayAskHave
    })
    const wsAddrs = listenAddrs(wsServer).filter(a => a.includes('/ws/'))
    assert.is(wsAddrs.length, 1, `one /ws address among ${listenAddrs(wsServer).join(' ')}`)
    const wsRef = { peerId: wsServer.peerId.toString(), addrs: wsAddrs }
    try {
      await fetchChunks(client, wsRef, { itemId: ITEM, indexes: [0] }, { signal: AbortSignal.timeout(10_000), onChunk: () => {} })
      assert.unreachable('should be refused')
    } catch (e) { assert.is((e as Error).name, 'AccessDeniedError') }
    const credential = signDirective({
      directiveId: 'd2', licenseId: 'l1', itemId: ITEM, clientPeerId: client.peerId.toString(), region: 'r1',
      peers: [{ peerId: wsServer.peerId.toString(), addrs: wsAddrs, role: 'edge' }], rulesVersion: 1, issuedAt: Date.now() - 1000, expiresAt: Date.now() + 60_000
    }, mainSigner)
    const got = new Map<number, Buffer>()
    await fetchChunks(client, wsRef, { itemId: ITEM, indexes: [2, 9], credential }, { signal: AbortSignal.timeout(10_000), onChunk: (i, b) => { got.set(i, Buffer.from(b)) } })
    assert.ok(got.get(2)?.equals(chunks[2]!) === true && got.get(9)?.equals(chunks[9]!) === true)
    assert.ok(client.getConnections(wsServer.peerId).every(c => c.remoteAddr.toString().includes('/ws')), 'the connection is the WebSockets one')
  } finally {
    await Promise.all([wsServer.stop(), client.stop()])
  }
})

test.run()
