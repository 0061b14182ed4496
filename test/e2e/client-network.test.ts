/**
 * The customer client end to end: a real main and real libp2p parent and
 * edges (separate processes) on 127.0.0.1, real `reelnet get` / `reelnet
 * play` processes, sharing one network startup. Edges are capped low so a
 * download lasts long enough to interfere with, and so peer-assist shows.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Network, createCustomer, runClient, jsonLines, waitJson, type CustomerInfo, type Proc } from './client-net.ts'
import { createHost, bareAddrs, type ReelnetHost } from '../../node/host.ts'
import { serveChunks } from '../../node/chunk-server.ts'
import { fetchChunks } from '../../node/chunk-client.ts'
import { signDirective } from '../../protocol/documents.ts'
import { createSigner } from '../../protocol/keys.ts'
import { fromBase64url } from '../../protocol/encoding.ts'
import { fromText } from '../../protocol/signing.ts'
import { Bitfield } from '../../protocol/wire/have.ts'

const MIB = 1024 * 1024
/** 24 chunks of 1 MiB: enough to interrupt, small enough for 2 cores. */
const SIZE = 24 * MIB
/** Each edge uploads at most this: three edges give ~9 MiB/s, so a download from edges alone takes seconds. */
const EDGE_CAP = '3MiB'
const REGION = 'eu'

const dir = mkdtempSync(join(tmpdir(), 'reelnet-client-e2e-'))
const net = new Network({ dir, regions: [{ name: REGION, parents: 1, edges: 3, edgeMaxUpload: EDGE_CAP }] })
const data = randomBytes(SIZE)
let itemId = ''
const hosts: ReelnetHost[] = []
const procs: Proc[] = []
let seeder: { proc: Proc, peerId: string, addrs: string[], customer: CustomerInfo } | undefined

function client (c: CustomerInfo, args: string[]): Proc {
  const p = runClient(c, args)
  procs.push(p)
  return p
}

async function intruderHost (): Promise<ReelnetHost> {
  const h = await createHost({ privateKey: await generateKeyPair('Ed25519'), region: REGION, dht: false })
  hosts.push(h)
  return h
}

test.before(async () => {
  try {
    await net.start()
    itemId = await net.ingest(data, 'movie.bin')
  } catch (err) {
    // uvu reports a failed hook without its reason: say it here
    console.error('network startup failed:', err)
    throw err
  }
})

test.after(async () => {
  for (const p of procs) p.kill('SIGKILL')
  for (const h of hosts) await Promise.resolve(h.stop()).catch(() => {})
  await net.stop()
  rmSync(dir, { recursive: true, force: true })
})

test('play: ranged requests are byte-exact, and the last MiB is answered before the download reaches it', async () => {
  const c = await createCustomer(net, 'viewer', REGION)
  const p = client(c, ['play', itemId, '--rent', '--json', '-o', join(c.configDir, 'movie.bin')])
  const { url } = await waitJson(p, o => o.type === 'listening')
  const res = await fetch(url, { headers: { range: `bytes=${SIZE - MIB}-` } })
  assert.equal(res.status, 206)
  assert.equal(res.headers.get('content-range'), `bytes ${SIZE - MIB}-${SIZE - 1}/${SIZE}`)
  assert.equal(res.headers.get('accept-ranges'), 'bytes')
  const tail = Buffer.from(await res.arrayBuffer())
  assert.ok(tail.equals(data.subarray(SIZE - MIB)), 'the last MiB is the item\'s')
  const lines = jsonLines(p)
  assert.not.ok(lines.some(o => o.type === 'done'), 'the download had not finished when the tail was served')
  const lastProgress = [...lines].reverse().find(o => o.type === 'progress')
  assert.ok(lastProgress === undefined || lastProgress.doneBytes < SIZE - MIB, `download was at ${lastProgress?.doneBytes}`)
  let seed = 11
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
  for (let k = 0; k < 5; k++) {
    const a = rnd(SIZE)
    const b = Math.min(SIZE - 1, a + rnd(3 * MIB))
    const r = await fetch(url, { headers: { range: `bytes=${a}-${b}` } })
    assert.equal(r.status, 206)
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(data.subarray(a, b + 1)), `bytes ${a}-${b}`)
  }
  const bad = await fetch(url, { headers: { range: `bytes=${SIZE}-` } })
  assert.equal(bad.status, 416)
  await bad.arrayBuffer()
  p.kill('SIGTERM')
  await p.exited
})

test('a client SIGKILLed mid-download resumes and fetches no more than the missing chunks plus those in flight', async () => {
  const c = await createCustomer(net, 'resumer', REGION)
  const out = join(c.configDir, 'movie.bin')
  const first = client(c, ['get', itemId, '--rent', '--json', '-o', out])
  const at = await waitJson(first, o => o.type === 'progress' && o.doneBytes >= SIZE * 0.3)
  first.kill('SIGKILL')
  await first.exited
  const progressed = [...jsonLines(first)].reverse().find(o => o.type === 'progress') ?? at
  assert.not.ok(existsSync(out), 'nothing renamed into place before the end')
  const second = client(c, ['get', itemId, '--json', '-o', out])
  const start = await waitJson(second, o => o.type === 'start')
  const done = await waitJson(second, o => o.type === 'done')
  await second.exited
  assert.equal(second.child.exitCode, 0)
  assert.ok(readFileSync(out).equals(data), 'byte-exact after resume')
  const chunksAtKill = Math.floor(progressed.doneBytes / MIB)
  // verified chunks not yet journaled when killed (at most one flush interval's worth) count as in flight
  const inFlightAllowance = 8
  assert.ok(start.resumedChunks >= chunksAtKill - inFlightAllowance, `resumed ${start.resumedChunks} of ${chunksAtKill} verified before the kill`)
  assert.ok(start.resumedChunks > 0)
  assert.equal(done.doneBytes - done.resumedBytes, SIZE - start.resumedChunks * MIB, 'fetched exactly the missing chunks')
  assert.ok(done.receivedBytes <= SIZE - start.resumedChunks * MIB + inFlightAllowance * MIB, `received ${done.receivedBytes}`)
})

test('a download from several edges is byte-exact, and survives an edge SIGKILLed mid-download', async () => {
  const c = await createCustomer(net, 'first', REGION)
  const out = join(c.configDir, 'movie.bin')
  const p = client(c, ['get', itemId, '--rent', '--json', '--seed', '-o', out])
  const start = await waitJson(p, o => o.type === 'start')
  await waitJson(p, o => o.type === 'progress' && o.doneBytes >= SIZE * 0.2)
  const victim = net.nodesOf(REGION, 'edge')[0]!
  victim.proc.kill('SIGKILL')
  const done = await waitJson(p, o => o.type === 'done')
  assert.ok(readFileSync(out).equals(data), 'byte-exact')
  const used = (done.sources as Array<{ id: string, kind: string, bytes: number }>).filter(s => s.bytes > 0)
  assert.ok(used.length >= 2, `sources used: ${JSON.stringify(used)}`)
  assert.ok(done.byKind.edge > 0, 'edges served')
  await waitJson(p, o => o.type === 'seeding')
  seeder = { proc: p, peerId: start.peerId, addrs: start.addrs, customer: c }
})

test('with edges capped low, a second customer gets at least half of its bytes from the first (peer-assist)', async () => {
  assert.ok(seeder !== undefined, 'the first customer seeds')
  const c = await createCustomer(net, 'second', REGION)
  const out = join(c.configDir, 'movie.bin')
  const p = client(c, ['get', itemId, '--rent', '--json', '-o', out])
  const done = await waitJson(p, o => o.type === 'done')
  await p.exited
  assert.ok(readFileSync(out).equals(data), 'byte-exact')
  const fromFirst = (done.sources as Array<{ id: string, bytes: number }>).find(s => s.id === seeder!.peerId)?.bytes ?? 0
  assert.ok(fromFirst >= SIZE / 2, `from the first customer: ${fromFirst} of ${SIZE} (byKind ${JSON.stringify(done.byKind)})`)
})

test('a peer serving corrupted chunks under a valid directive is penalised, and the download is still byte-exact', async () => {
  // mallory: a licensed customer whose peer flips a byte in every chunk it serves
  const m = await createCustomer(net, 'mallory', REGION)
  const rental = await net.api('POST', '/v1/rentals', { itemId }, m.token) as { licenseId: string }
  const evil = await intruderHost()
  await serveChunks(evil as any, {
    source: {
      async getChunk (_itemId, index) {
        const chunk = Buffer.from(data.subarray(index * MIB, (index + 1) * MIB))
        chunk[index % MIB] = (chunk[index % MIB] ?? 0) ^ 0x01
        return chunk
      },
      async have () { const b = new Bitfield(SIZE / MIB); for (let i = 0; i < SIZE / MIB; i++) b.set(i); return b }
    },
    authorize: async () => {},
    mayAskHave: () => true
  })
  await net.api('POST', '/v1/holdings', { licenseId: rental.licenseId, peerId: evil.peerId.toString(), addrs: bareAddrs(evil), region: REGION, complete: true }, m.token)

  const c = await createCustomer(net, 'victim', REGION)
  const out = join(c.configDir, 'movie.bin')
  const p = client(c, ['get', itemId, '--rent', '--json', '-o', out])
  const done = await waitJson(p, o => o.type === 'done')
  await p.exited
  assert.ok(readFileSync(out).equals(data), 'byte-exact despite the corrupt peer')
  const bad = (done.sources as Array<{ id: string, badChunks: number, bytes: number, dropped: unknown }>).find(s => s.id === evil.peerId.toString())
  assert.ok(bad !== undefined, `the corrupt peer was among the sources: ${JSON.stringify(done.sources)}`)
  assert.ok(bad.badChunks >= 1, 'its bad chunks were counted')
  assert.equal(bad.bytes, 0, 'none of its bytes were used')
  assert.ok(jsonLines(p).some(o => o.type === 'bad-chunk' && o.source === evil.peerId.toString()), 'reported as penalised')
})

test('peers without a directive, with another peer\'s, or with an expired one are refused by edges and by seeding clients', async () => {
  assert.ok(seeder !== undefined, 'the first customer seeds')
  const edge = net.nodesOf(REGION, 'edge').find(n => n.proc.child.exitCode === null && n.proc.child.signalCode === null)!
  const edgeAddrs = (/listening on (\S+)/.exec(edge.proc.output())?.[1] ?? '').split(',')
  const targets = [
    { name: 'edge', peerId: edge.peerId, addrs: edgeAddrs },
    { name: 'seeding client', peerId: seeder.peerId, addrs: seeder.addrs }
  ]
  const c = await createCustomer(net, 'intruder', REGION)
  const rental = await net.api('POST', '/v1/rentals', { itemId }, c.token) as { licenseId: string }
  const directiveFor = async (peerId: string): Promise<Uint8Array> => {
    const d = await net.api('POST', '/v1/directives', { licenseId: rental.licenseId, clientPeerId: peerId, region: REGION }, c.token) as { directive: string }
    return fromText(d.directive)
  }
  const keyFile = JSON.parse(readFileSync(join(dir, 'main', 'main-key.json'), 'utf8')) as { secretKey: string }
  const signer = createSigner(fromBase64url(keyFile.secretKey), 'node')
  const expiredFor = (peerId: string): Uint8Array => signDirective({
    directiveId: 'expired-directive', licenseId: rental.licenseId, itemId, clientPeerId: peerId, region: REGION,
    peers: targets.map(t => ({ peerId: t.peerId, addrs: [], role: t.name === 'edge' ? 'edge' as const : 'peer' as const })),
    rulesVersion: 1, issuedAt: Date.now() - 3 * 3600_000, expiresAt: Date.now() - 2 * 3600_000
  }, signer)

  const attempt = async (t: typeof targets[number], host: ReelnetHost, credential?: Uint8Array): Promise<string> => {
    try {
      let got = 0
      await fetchChunks(host as any, t, { itemId, indexes: [0], credential }, { signal: AbortSignal.timeout(15_000), onChunk: () => { got++ } })
      return got > 0 ? 'served' : 'empty'
    } catch (err) {
      return (err as Error).name
    }
  }
  for (const t of targets) {
    const none = await intruderHost()
    assert.not.equal(await attempt(t, none), 'served', `${t.name}: no directive`)
    const thief = await intruderHost()
    const other = await intruderHost()
    assert.not.equal(await attempt(t, thief, await directiveFor(other.peerId.toString())), 'served', `${t.name}: another peer's directive`)
    const late = await intruderHost()
    assert.not.equal(await attempt(t, late, expiredFor(late.peerId.toString())), 'served', `${t.name}: an expired directive`)
    // the control: the same request with the peer's own valid directive is served
    const honest = await intruderHost()
    assert.equal(await attempt(t, honest, await directiveFor(honest.peerId.toString())), 'served', `${t.name}: a valid directive`)
  }
})

test.run()
