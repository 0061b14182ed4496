/**
 * The never-ending varint (cases 30–35): a length prefix made only of
 * continuation bytes (0xff…) on every reader of a length prefix — the chunk
 * and have protocols on both sides, identify and the region DHT — in one
 * process with real libp2p hosts on 127.0.0.1. Before the fix, 400 KiB of
 * 0xff froze the reading process for seconds (lpStream read it byte by byte
 * without yielding). Each case checks the reader gives up at once (the
 * stream is reset, the sender penalised), that a legitimate request on the
 * same node is answered meanwhile, that the event loop shows no long block,
 * and that memory stays bounded.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection, Stream } from '@libp2p/interface'
import { caseOf, itemOf } from './kit.ts'
import { createHost, bareAddrs, dhtProtocol, routingTablePeers, IDENTIFY_PROTOCOL, type HostOptions, type ReelnetHost } from '../../node/net/host.ts'
import { serveChunks } from '../../node/net/chunk-server.ts'
import { fetchChunks } from '../../node/net/chunk-client.ts'
import { fetchHave } from '../../node/net/have-client.ts'
import { penaltyFor } from '../../node/net/errors.ts'
import { chunkLength, verifyChunk } from '../../protocol/chunking.ts'
import { CHUNK_PROTOCOL } from '../../protocol/wire/chunk.ts'
import { Bitfield, HAVE_PROTOCOL } from '../../protocol/wire/have.ts'

const CHUNK = 64 * 1024
const N = 16
const { manifest, data } = itemOf('film-varint', N * CHUNK, CHUNK)
const ITEM = manifest.itemId
/** What the attacker sent in the report: 400 KiB of continuation bytes. */
const ATTACK_BYTES = 400 * 1024
/** The bound: no block of the event loop longer than this while under attack. */
const MAX_BLOCK_MS = 50
/** Memory the attack may add to the process (before the fix: +120 MiB for 400 KiB). */
const MAX_RSS_GROWTH_BYTES = 64 * 1024 * 1024
/** Generous: on a slow machine the reset still arrives long before this (before the fix: 5.5 s for 400 KiB, and growing with the bytes). */
const RESET_DEADLINE_MS = 20_000

const hosts: ReelnetHost[] = []
async function host (opts: Partial<HostOptions> = {}): Promise<ReelnetHost> {
  const h = await createHost({ privateKey: await generateKeyPair('Ed25519'), region: 'eu', dht: false, ...opts })
  hosts.push(h)
  return h
}
const ref = (h: ReelnetHost): { peerId: string, addrs: string[] } => ({ peerId: h.peerId.toString(), addrs: bareAddrs(h) })
const chunkOf = (i: number): Uint8Array => data.subarray(i * CHUNK, i * CHUNK + chunkLength(manifest, i))
function fullBits (): Bitfield {
  const b = new Bitfield(N)
  for (let i = 0; i < N; i++) b.set(i)
  return b
}

/** Send `total` bytes of 0xff in 64 KiB pieces, as fast as the stream takes them; stops when the stream closes. */
async function flood (stream: Stream, total = ATTACK_BYTES): Promise<number> {
  const piece = new Uint8Array(64 * 1024).fill(0xff)
  let sent = 0
  try {
    while (sent < total && stream.status === 'open') {
      const p = piece.subarray(0, Math.min(piece.length, total - sent))
      if (!stream.send(p)) await stream.onDrain({ signal: AbortSignal.timeout(RESET_DEADLINE_MS) })
      sent += p.length
    }
  } catch { /* reset under us: what we want */ }
  return sent
}

/** Resolves when the stream has closed or been reset (the remote cut it off), or fails after the deadline. */
async function closed (stream: Stream): Promise<void> {
  if (stream.status !== 'open') return
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error(`stream still open after ${RESET_DEADLINE_MS} ms of 0xff`)) }, RESET_DEADLINE_MS)
    stream.addEventListener('close', () => { clearTimeout(t); resolve() }, { once: true })
  })
}

interface Watch { maxBlockMs: number, rssGrowth: number }
/** Run `fn` with an event-loop delay monitor and an RSS reading around it. */
async function watched<T> (fn: () => Promise<T>): Promise<T & Watch> {
  const h = monitorEventLoopDelay({ resolution: 5 })
  const rss0 = process.memoryUsage().rss
  h.enable()
  try {
    const out = await fn()
    h.disable()
    return { ...out, maxBlockMs: h.max / 1e6, rssGrowth: process.memoryUsage().rss - rss0 }
  } finally {
    h.disable()
  }
}

/**
 * Run `attempt` (which makes its own hosts, attacks, and asserts what it must) and check the event loop and
 * memory around it. A block caused by the attack happens on every attempt; a scheduler hiccup or a GC pause of a
 * loaded machine rarely three times in a row: so up to three attempts, and the best one must be within bounds.
 */
async function healthyUnder (what: string, attempt: () => Promise<Watch>): Promise<void> {
  const seen: string[] = []
  for (let k = 0; k < 3; k++) {
    const w = await attempt()
    seen.push(`${w.maxBlockMs.toFixed(1)} ms / ${(w.rssGrowth / 2 ** 20).toFixed(1)} MiB`)
    console.log(`     ${what}: longest event-loop block ${w.maxBlockMs.toFixed(1)} ms, RSS ${(w.rssGrowth / 2 ** 20).toFixed(1)} MiB more`)
    if (w.maxBlockMs < MAX_BLOCK_MS && w.rssGrowth < MAX_RSS_GROWTH_BYTES) return
  }
  assert.unreachable(`${what}: every attempt blocked the event loop for ${MAX_BLOCK_MS} ms or more, or grew RSS by ${MAX_RSS_GROWTH_BYTES / 2 ** 20} MiB or more (block / RSS growth: ${seen.join('; ')})`)
}

/** A licensed fetch of the whole item from `server`, started while the attack runs. */
async function honestFetch (client: ReelnetHost, server: ReelnetHost): Promise<number> {
  let got = 0
  await fetchChunks(client as any, ref(server), { itemId: ITEM, indexes: Array.from({ length: N }, (_, i) => i) }, {
    signal: AbortSignal.timeout(RESET_DEADLINE_MS),
    onChunk: (i, b) => { verifyChunk(manifest, i, b); got++ }
  })
  return got
}

interface Malformed { peerId: string, protocol: string, err: string }
/** A real chunk server (node/net/chunk-server.ts) that serves the item to everyone and records framing violations. */
async function victimServer (): Promise<{ h: ReelnetHost, malformed: Malformed[] }> {
  const malformed: Malformed[] = []
  const h = await host()
  await serveChunks(h, {
    source: { async getChunk (_id, i) { return i < N ? chunkOf(i) : null }, async have () { return fullBits() } },
    authorize: async () => {},
    mayAskHave: () => true,
    onMalformed: (c: Connection, protocol, err) => { malformed.push({ peerId: c.remotePeer.toString(), protocol, err: err.name }) }
  })
  return { h, malformed }
}

async function dial (from: ReelnetHost, to: ReelnetHost, protocol: string): Promise<Stream> {
  await from.peerStore.merge(to.peerId, { multiaddrs: to.getMultiaddrs() })
  return await from.dialProtocol(to.peerId, protocol, { signal: AbortSignal.timeout(RESET_DEADLINE_MS) })
}

for (const protocol of [CHUNK_PROTOCOL, HAVE_PROTOCOL]) {
  caseOf(test, `${protocol === CHUNK_PROTOCOL ? 30 : 31}. a never-ending varint on ${protocol} to a server: the sender is cut off at once and penalised; a licensed request meanwhile is served`, async () => {
    await healthyUnder(protocol, async () => {
      const { h: server, malformed } = await victimServer()
      const attacker = await host()
      const customer = await host()
      const w = await watched(async () => {
        const stream = await dial(attacker, server, protocol)
        const [sent, got] = await Promise.all([flood(stream), honestFetch(customer, server), closed(stream)])
        return { sent, got }
      })
      assert.is(w.got, N, 'the licensed request got every chunk')
      // the prefix check or, for the small have request, the read buffer's bound may cut it off first
      assert.equal(malformed.map(m => [m.peerId, m.protocol]), [[attacker.peerId.toString(), protocol]])
      assert.ok(['OverlongLengthPrefixError', 'StreamBufferError'].includes(malformed[0]!.err), malformed[0]!.err)
      assert.ok(w.sent <= ATTACK_BYTES)
      return w
    })
  })
}

caseOf(test, '32. a seeding peer answers a chunk request with a never-ending varint: the downloader drops it as a protocol error (banned) at once', async () => {
  await healthyUnder('chunk client', async () => {
    const evil = await host()
    await evil.handle(CHUNK_PROTOCOL, (stream) => { void flood(stream) })
    const client = await host()
    const w = await watched(async () => {
      let err: Error | undefined
      try { await fetchChunks(client as any, ref(evil), { itemId: ITEM, indexes: [0, 1] }, { signal: AbortSignal.timeout(RESET_DEADLINE_MS), onChunk: () => {} }) } catch (e) { err = e as Error }
      return { err }
    })
    assert.is(w.err?.name, 'PeerProtocolError', `got ${w.err?.name}: ${w.err?.message}`)
    assert.match(w.err?.message ?? '', /length prefix/)
    assert.is(penaltyFor(w.err), 'ban')
    return w
  })
})

caseOf(test, '33. a peer answers a have request with a never-ending varint: the asker gets a protocol error at once', async () => {
  await healthyUnder('have client', async () => {
    const evil = await host()
    await evil.handle(HAVE_PROTOCOL, (stream) => { void flood(stream) })
    const client = await host()
    const w = await watched(async () => {
      let err: Error | undefined
      try { await fetchHave(client as any, ref(evil), { itemId: ITEM }, { signal: AbortSignal.timeout(RESET_DEADLINE_MS) }) } catch (e) { err = e as Error }
      return { err }
    })
    assert.is(w.err?.name, 'PeerProtocolError', `got ${w.err?.name}: ${w.err?.message}`)
    assert.is(penaltyFor(w.err), 'ban')
    return w
  })
})

const serveAll = async (h: ReelnetHost): Promise<void> => {
  await serveChunks(h, { source: { async getChunk (_id, i) { return i < N ? chunkOf(i) : null }, async have () { return fullBits() } }, authorize: async () => {}, mayAskHave: () => true })
}

caseOf(test, '34. a peer answers identify with a never-ending varint: the dialer resets the stream, hangs up, and keeps serving', async () => {
  await healthyUnder('identify', async () => {
    const violations: string[] = []
    // the victim dials the evil peer (as a customer dials a seeding peer); identify runs on every new connection
    const victim = await host({ onMalformedFrame: (c, protocol, err) => { violations.push(`${protocol} ${err.name}`); void c.close() } })
    await serveAll(victim)
    const evil = await host()
    await evil.handle(IDENTIFY_PROTOCOL, (stream) => { void flood(stream) }, { force: true })
    const customer = await host()
    const w = await watched(async () => {
      await victim.peerStore.merge(evil.peerId, { multiaddrs: evil.getMultiaddrs() })
      const conn = await victim.dial(evil.peerId, { signal: AbortSignal.timeout(RESET_DEADLINE_MS) })
      const got = await honestFetch(customer, victim)
      await waitFor(() => violations.length > 0 && conn.status !== 'open', 'the identify violation and the hang-up')
      return { got }
    })
    assert.is(w.got, N)
    assert.equal(violations, [`${IDENTIFY_PROTOCOL} OverlongLengthPrefixError`])
    return w
  })
})

caseOf(test, '35. a peer floods the region DHT protocol with a never-ending varint: the stream is reset at once and the node keeps serving', async () => {
  await healthyUnder('region DHT', async () => {
    const violations: string[] = []
    const victim = await host({ dht: true, onMalformedFrame: (c, protocol, err) => { violations.push(`${protocol} ${err.name}`); void c.close() } })
    await serveAll(victim)
    const attacker = await host({ dht: true })
    const customer = await host()
    const w = await watched(async () => {
      const stream = await dial(attacker, victim, dhtProtocol('eu'))
      const [, got] = await Promise.all([flood(stream), honestFetch(customer, victim), closed(stream)])
      return { got }
    })
    assert.is(w.got, N)
    assert.equal(violations, [`${dhtProtocol('eu')} OverlongLengthPrefixError`])
    return w
  })
})

caseOf(test, '36. stream middleware stays as registered however many streams arrive (libp2p 3.3 appended the handler per inbound stream)', async () => {
  const victim = await host({ dht: true })
  const client = await host({ dht: true })
  const registrar = (victim as unknown as { components: { registrar: { getMiddleware: (p: string) => unknown[] } } }).components.registrar
  const before = registrar.getMiddleware(dhtProtocol('eu')).length
  for (let i = 0; i < 20; i++) {
    const s = await dial(client, victim, dhtProtocol('eu'))
    await s.close().catch(() => {})
  }
  await waitFor(() => victim.getConnections(client.peerId)[0]?.streams.filter(s => s.protocol === dhtProtocol('eu')).length === 0, 'the DHT streams to end')
  assert.is(registrar.getMiddleware(dhtProtocol('eu')).length, before)
})

caseOf(test, '38. with the guards in front of identify and the DHT, honest peers lose no byte: identify completes and both routing tables fill', async () => {
  const a = await host({ dht: true })
  const b = await host({ dht: true })
  await a.peerStore.merge(b.peerId, { multiaddrs: b.getMultiaddrs() })
  await a.dial(b.peerId, { signal: AbortSignal.timeout(RESET_DEADLINE_MS) })
  const knows = async (x: ReelnetHost, y: ReelnetHost): Promise<boolean> => {
    try { return (await x.peerStore.get(y.peerId)).protocols.includes(dhtProtocol('eu')) } catch { return false }
  }
  let ok = false
  const until = Date.now() + RESET_DEADLINE_MS
  while (!ok && Date.now() < until) {
    ok = await knows(a, b) && await knows(b, a) && routingTablePeers(a).includes(b.peerId.toString()) && routingTablePeers(b).includes(a.peerId.toString())
    if (!ok) await new Promise(resolve => setTimeout(resolve, 50))
  }
  assert.ok(ok, `identify and the DHT worked both ways: a sees ${routingTablePeers(a).length}, b sees ${routingTablePeers(b).length}`)
})

async function waitFor (cond: () => boolean, what: string, deadlineMs = RESET_DEADLINE_MS): Promise<void> {
  const until = Date.now() + deadlineMs
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

test.after(async () => {
  await Promise.all(hosts.map(async h => { await h.stop() }))
})

test.run()
