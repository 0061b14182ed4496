import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:net'
import type { AddressInfo } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Bitfield } from '../../../protocol/wire/have.ts'
import { createHost, listenAddrs, type ReelnetHost } from '../host.ts'
import { serveChunks } from '../chunk-server.ts'
import { createAuthorizer } from '../access.ts'
import { fastLaneCredentials } from './certificate.ts'
import { startFastLaneServer, type FastLaneServer } from './server.ts'
import { FastLaneClient } from './client.ts'
import { createChunkTransport } from './transport.ts'
import { formatFastLaneAddr } from './address.ts'

const ITEM = 'item-1'
const chunks = Array.from({ length: 6 }, () => randomBytes(128 * 1024))
let server: ReelnetHost, member: ReelnetHost
let lane: FastLaneServer
let impostorLane: FastLaneServer
let closedPort: number
let blackHole: Server
let memberCreds: Awaited<ReturnType<typeof fastLaneCredentials>>

test.before(async () => {
  const serverKey = await generateKeyPair('Ed25519')
  const memberKey = await generateKeyPair('Ed25519')
  server = await createHost({ privateKey: serverKey, region: 'r1', dht: false })
  member = await createHost({ privateKey: memberKey, region: 'r1', dht: false })
  memberCreds = await fastLaneCredentials(memberKey)
  const auth = createAuthorizer({ mainPublicKey: () => new Uint8Array(32), selfPeerId: server.peerId.toString(), isMember: id => id === member.peerId.toString() })
  const source = { getChunk: async (itemId: string, index: number) => itemId === ITEM ? chunks[index] ?? null : null, have: async () => new Bitfield(0) }
  await serveChunks(server, { source, authorize: auth.authorize, mayAskHave: auth.mayAskHave })
  lane = await startFastLaneServer({ credentials: await fastLaneCredentials(serverKey), host: '127.0.0.1', port: 0, source, authorize: auth.authorize })
  // a TLS listener with another node's key: the client must not take it for `server`
  impostorLane = await startFastLaneServer({ credentials: await fastLaneCredentials(await generateKeyPair('Ed25519')), host: '127.0.0.1', port: 0, source, authorize: async () => {} })
  // a port with nothing behind it
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  closedPort = (s.address() as AddressInfo).port
  await new Promise<void>(resolve => s.close(() => { resolve() }))
  // a port that accepts TCP and never speaks TLS
  blackHole = createServer(() => {})
  await new Promise<void>(resolve => blackHole.listen(0, '127.0.0.1', resolve))
})

test.after(async () => { await Promise.all([server.stop(), member.stop(), lane.close(), impostorLane.close()]); blackHole.close() })

async function fetchVia (fastLane: string | undefined, lanes: FastLaneClient | undefined): Promise<{ stats: { fastLane: number, libp2p: number, fallbacks: number }, got: number[] }> {
  const t = createChunkTransport({ host: member, lanes })
  const got: number[] = []
  await t.fetch({ peerId: server.peerId.toString(), addrs: listenAddrs(server), fastLane }, { itemId: ITEM, indexes: [0, 3, 5] }, {
    signal: AbortSignal.timeout(20_000),
    onChunk: (i, b) => { assert.ok(Buffer.from(b).equals(chunks[i]!)); got.push(i) }
  })
  t.close()
  return { stats: { ...t.stats }, got }
}

test('the fast lane is used when the peer has one', async () => {
  const r = await fetchVia(formatFastLaneAddr('127.0.0.1', lane.port), new FastLaneClient({ credentials: memberCreds }))
  assert.equal(r.got, [0, 3, 5])
  assert.equal(r.stats, { fastLane: 1, libp2p: 0, fallbacks: 0 })
})

test('a fast lane that is closed, silent, or held by another PeerId falls back to libp2p; the bytes are the same', async () => {
  const silent = formatFastLaneAddr('127.0.0.1', (blackHole.address() as AddressInfo).port)
  for (const addr of [formatFastLaneAddr('127.0.0.1', closedPort), formatFastLaneAddr('127.0.0.1', impostorLane.port), silent]) {
    const r = await fetchVia(addr, new FastLaneClient({ credentials: memberCreds }))
    assert.equal(r.got, [0, 3, 5])
    assert.equal(r.stats, { fastLane: 0, libp2p: 1, fallbacks: 1 }, addr)
  }
})

test('with the lane off (no client) or no fastLane address, libp2p only', async () => {
  assert.equal((await fetchVia(formatFastLaneAddr('127.0.0.1', lane.port), undefined)).stats, { fastLane: 0, libp2p: 1, fallbacks: 0 })
  assert.equal((await fetchVia(undefined, new FastLaneClient({ credentials: memberCreds }))).stats, { fastLane: 0, libp2p: 1, fallbacks: 0 })
})

test.run()
