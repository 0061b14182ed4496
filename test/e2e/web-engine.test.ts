/**
 * The web player's download engine (web/engine.ts) in Node, on loopback:
 * the browser's libp2p stack (WebSockets, Noise, yamux) against a libp2p host
 * of the test's own serving chunks with serveChunks, whose chunk source can
 * hold chunks back. Shows the seek policy (read-ahead in flight is cancelled
 * at the node, the seek's chunk is fetched alone, read-ahead resumes after
 * it) and main going away (the engine fetches on with the directive in hand,
 * and stops with main_unreachable only when that directive has ended).
 * The browser e2e (web-player.test.ts) shows the same through a page.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createLibp2p, type Libp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { createHost, bareAddrs, type ReelnetHost } from '../../node/host.ts'
import { serveChunks } from '../../node/chunk-server.ts'
import { PlayerEngine, FatalError, READ_AHEAD_PER_SOURCE, type DirectiveGrant } from '../../web/engine.ts'
import type { Manifest } from '../../protocol/types.ts'
import type { TraceEvent } from '../../web/trace.ts'

const CHUNK_SIZE = 64 * 1024
const CHUNKS = 40
/** Event waits: generous, the machine is shared. */
const DEADLINE_MS = 30_000

const bytes = randomBytes(CHUNK_SIZE * CHUNKS)
const chunkOf = (i: number): Uint8Array => bytes.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE)
const manifest: Manifest = {
  itemId: 'web-engine-item',
  title: 'engine',
  size: bytes.length,
  chunkSize: CHUNK_SIZE,
  chunkCount: CHUNKS,
  chunkHashes: Array.from({ length: CHUNKS }, (_, i) => new Uint8Array(createHash('sha256').update(chunkOf(i)).digest())),
  merkleRoot: new Uint8Array(32),
  version: 1
}

let server: ReelnetHost
let client: Libp2p
/** Chunks the source holds back until released (or until the asking stream is reset). */
const held = new Set<number>()
let release: () => void = () => {}
let released = new Promise<void>(resolve => { release = resolve })
const asked: number[] = []
const aborted: number[] = []
/** Resolves a waiter when `asked`/`aborted` change. */
let changed: () => void = () => {}

async function until (what: string, cond: () => boolean): Promise<void> {
  const end = Date.now() + DEADLINE_MS
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; asked ${JSON.stringify(asked)}, aborted ${JSON.stringify(aborted)}`)
    await new Promise<void>(resolve => { changed = resolve; setTimeout(resolve, 100) })
  }
}

const trace = (): TraceEvent[] => (globalThis as unknown as { reelnetTrace: TraceEvent[] }).reelnetTrace

function grantFor (expiresAt: number): DirectiveGrant {
  return {
    directive: {
      directiveId: randomBytes(8).toString('hex'), licenseId: 'l', itemId: manifest.itemId, clientPeerId: client.peerId.toString(), region: 'web',
      peers: [{ peerId: server.peerId.toString(), role: 'edge', addrs: bareAddrs(server).filter(a => a.includes('/ws')) }] as DirectiveGrant['directive']['peers'],
      rulesVersion: 1, issuedAt: Date.now(), expiresAt
    },
    bytes: new Uint8Array([1])
  }
}

test.before(async () => {
  server = await createHost({ privateKey: await generateKeyPair('Ed25519'), region: 'web', dht: false, listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  await serveChunks(server as unknown as Libp2p, {
    source: {
      async getChunk (_id, index, { signal }) {
        asked.push(index)
        changed()
        if (held.has(index)) {
          await Promise.race([released, new Promise<void>(resolve => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })])
          if (signal.aborted) { aborted.push(index); changed(); return null }
        }
        return chunkOf(index)
      },
      async have () { return null }
    },
    authorize: async () => {},
    mayAskHave: () => true
  })
  client = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: [] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false }
  })
})

test.after(async () => {
  release()
  await client?.stop()
  await server?.stop()
})

test('a seek cancels the read-ahead in flight at the node, its chunk is fetched alone, and read-ahead resumes after it', async () => {
  const engine = new PlayerEngine({ node: client, manifest, newDirective: async () => grantFor(Date.now() + 600_000), onEvent: () => {}, onStats: () => {}, onFatal: (e) => { throw e } })
  for (let i = 1; i < CHUNKS; i++) if (i !== 30) held.add(i)
  try {
    await engine.start()
    assert.equal(await engine.chunk(0), chunkOf(0))
    // read-ahead after chunk 0: READ_AHEAD_PER_SOURCE requests, held at the node
    await until('the read-ahead to reach the node', () => asked.filter(i => i !== 0).length >= READ_AHEAD_PER_SOURCE)
    const ahead = asked.filter(i => i !== 0)
    assert.equal(ahead, [1, 2].slice(0, READ_AHEAD_PER_SOURCE))
    const mark = trace().length
    // the seek: chunk 30 is not held, and comes while the read-ahead is still stuck
    assert.equal(await engine.chunk(30), chunkOf(30))
    const events = trace().slice(mark)
    const seek = events.findIndex(e => e.ev === 'seek' && e.index === 30)
    const verified = events.findIndex(e => e.ev === 'verified' && e.index === 30)
    assert.ok(seek >= 0 && verified > seek, `a seek, then chunk 30: ${JSON.stringify(events)}`)
    const between = events.slice(seek, verified)
    assert.equal(between.filter(e => e.ev === 'cancel').map(e => e.index).sort(), ahead, 'the read-ahead in flight was cancelled')
    assert.equal(between.filter(e => e.ev === 'fetch').map(e => e.index), [30], 'nothing else was asked for until chunk 30 was verified')
    await until('the node to see both cancelled', () => ahead.every(i => aborted.includes(i)))
    // and read-ahead goes on from the seek
    await until('read-ahead after the seek', () => asked.includes(31))
  } finally {
    engine.stop()
    held.clear()
    release()
    released = new Promise<void>(resolve => { release = resolve })
  }
})

test('main unreachable: the engine fetches on with the directive in hand, asks main again, and stops with main_unreachable only when that directive ends', async () => {
  /** The renewal comes a quarter of this before the end: that quarter is the window to fetch in while main is gone. */
  const TTL_MS = 8_000
  let calls = 0
  let expiresAt = 0
  const events: string[] = []
  let fatal: (e: Error) => void = () => {}
  const stopped = new Promise<Error>(resolve => { fatal = resolve })
  const engine = new PlayerEngine({
    node: client,
    manifest,
    newDirective: async () => {
      if (++calls === 1) { expiresAt = Date.now() + TTL_MS; return grantFor(expiresAt) }
      throw new FatalError('main cannot be reached: check the connection and reload the page.', 'main_unreachable')
    },
    onEvent: (kind) => { events.push(kind); changed() },
    onStats: () => {},
    onFatal: (e) => { fatal(e) }
  })
  try {
    await engine.start()
    assert.equal(await engine.chunk(0), chunkOf(0))
    await until('the page to be told main is unreachable', () => events.includes('main-unreachable'))
    // still fetching, on the directive in hand
    const before = asked.length
    assert.equal(await engine.chunk(20), chunkOf(20))
    assert.ok(asked.length > before, 'chunk 20 was fetched from the node after main had gone')
    const err = await stopped
    assert.ok(err instanceof FatalError && err.code === 'main_unreachable', String(err))
    assert.ok(Date.now() >= expiresAt, 'stopped no earlier than the directive\'s end')
    assert.match(err.message, /ended at/)
    assert.ok(calls >= 2, `main was asked again: ${calls} calls`)
    await engine.chunk(25).then(() => { assert.unreachable('a stopped engine reads nothing') }, (e: Error) => { assert.is((e as FatalError).code, 'main_unreachable') })
  } finally {
    engine.stop()
  }
})

test.run()
