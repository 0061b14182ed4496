/**
 * Peer-assist over real libp2p (two hosts in this process): a seeding
 * client serves verified chunks to a peer presenting a valid directive, and
 * refuses a peer with none, with another peer's, with an expired one, for
 * another region, or once its own license has expired.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createHost, listenAddrs, type ReelnetHost } from '../net/host.ts'
import { fetchChunks } from '../net/chunk-client.ts'
import { createSigner } from '../../protocol/keys.ts'
import { signDirective } from '../../protocol/documents.ts'
import { sha256, verifyChunk, verifiedChunk } from '../../protocol/chunking.ts'
import { merkleRoot } from '../../protocol/merkle.ts'
import type { Directive, Manifest } from '../../protocol/types.ts'
import { PartFile } from './resume.ts'
import { startSeeding } from './seeder.ts'
import { Scheduler } from '../download/engine.ts'
import { sourceOf } from './sources.ts'

const CHUNK = 64 * 1024
const data = randomBytes(CHUNK * 12 + 500)
const count = Math.ceil(data.length / CHUNK)
const chunkHashes = Array.from({ length: count }, (_, i) => sha256(data.subarray(i * CHUNK, Math.min(data.length, (i + 1) * CHUNK))))
const manifest: Manifest = { itemId: 'item-pa', title: 'x', size: data.length, chunkSize: CHUNK, chunkCount: count, chunkHashes, merkleRoot: merkleRoot(chunkHashes), version: 1 }
const main = createSigner(randomBytes(32))
const dir = mkdtempSync(join(tmpdir(), 'reelnet-peer-assist-'))
const hosts: ReelnetHost[] = []
let seederHost: ReelnetHost

async function host (): Promise<ReelnetHost> {
  const h = await createHost({ privateKey: await generateKeyPair('Ed25519'), region: 'eu', dht: false })
  hosts.push(h)
  return h
}

function directive (client: string, over: Partial<Directive> = {}): Uint8Array {
  const now = Date.now()
  return signDirective({
    directiveId: `d-${Math.random()}`, licenseId: 'lic-1', itemId: manifest.itemId, clientPeerId: client, region: 'eu',
    peers: [{ peerId: seederHost.peerId.toString(), addrs: [], role: 'peer' }], rulesVersion: 1, issuedAt: now, expiresAt: now + 600_000, ...over
  }, main)
}

async function attempt (client: ReelnetHost, credential?: Uint8Array): Promise<string> {
  try {
    let got = 0
    await fetchChunks(client as any, { peerId: seederHost.peerId.toString(), addrs: listenAddrs(seederHost) }, { itemId: manifest.itemId, indexes: [0, 1], credential }, { signal: AbortSignal.timeout(10_000), onChunk: (i, b) => { verifyChunk(manifest, i, b); got++ } })
    return got === 2 ? 'served' : `got ${got}`
  } catch (err) {
    return (err as Error).name
  }
}

test.before(async () => {
  const part = await PartFile.open(join(dir, 'seed.bin'), manifest)
  for (let i = 0; i < count; i++) await part.write(i, verifiedChunk(manifest, i, data.subarray(i * CHUNK, Math.min(data.length, (i + 1) * CHUNK))))
  await part.finish()
  seederHost = await host()
  await startSeeding({ host: seederHost as any, part, region: 'eu', mainKey: main.publicKey, licenseExpiresAt: Infinity, now: () => Date.now() })
})

test.after(async () => {
  for (const h of hosts) await Promise.resolve(h.stop()).catch(() => {})
  rmSync(dir, { recursive: true, force: true })
})

test('a peer with a valid directive downloads the whole item from a seeding client, byte-exact', async () => {
  const client = await host()
  const cred = directive(client.peerId.toString())
  const out = Buffer.alloc(data.length)
  const sched = new Scheduler({
    chunkCount: count,
    chunkLength: i => Math.min(CHUNK, data.length - i * CHUNK),
    verify: (i, b) => { try { verifyChunk(manifest, i, b); return true } catch { return false } },
    store: async (i, b) => { Buffer.from(b).copy(out, i * CHUNK) }
  })
  sched.addSources([sourceOf({ host: client as any, itemId: manifest.itemId, credential: () => cred }, { peerId: seederHost.peerId.toString(), addrs: listenAddrs(seederHost), role: 'peer' })])
  const stats = await sched.run()
  assert.ok(out.equals(data))
  assert.equal(stats.byKind.peer, data.length)
})

test('a seeding client refuses a peer with no directive', async () => {
  assert.equal(await attempt(await host()), 'AccessDeniedError')
})

test('a seeding client refuses a peer presenting another peer\'s directive', async () => {
  const other = await host()
  assert.equal(await attempt(await host(), directive(other.peerId.toString())), 'AccessDeniedError')
})

test('a seeding client refuses an expired directive', async () => {
  const late = await host()
  const now = Date.now()
  assert.equal(await attempt(late, directive(late.peerId.toString(), { issuedAt: now - 7200_000, expiresAt: now - 3600_000 })), 'AccessDeniedError')
})

test('a seeding client refuses a directive for another region, and one not signed by main', async () => {
  const far = await host()
  assert.equal(await attempt(far, directive(far.peerId.toString(), { region: 'us' })), 'AccessDeniedError')
  const forged = await host()
  const mallory = createSigner(randomBytes(32))
  const now = Date.now()
  const fake = signDirective({ directiveId: 'f', licenseId: 'l', itemId: manifest.itemId, clientPeerId: forged.peerId.toString(), region: 'eu', peers: [{ peerId: seederHost.peerId.toString(), addrs: [], role: 'peer' }], rulesVersion: 1, issuedAt: now, expiresAt: now + 60_000 }, mallory)
  assert.equal(await attempt(forged, fake), 'AccessDeniedError')
})

test('a seeding client whose own license has expired serves nothing', async () => {
  const part = await PartFile.open(join(dir, 'seed.bin'), manifest)
  const expiredSeeder = await host()
  await startSeeding({ host: expiredSeeder as any, part, region: 'eu', mainKey: main.publicKey, licenseExpiresAt: Date.now() - 1 })
  const client = await host()
  const now = Date.now()
  const cred = signDirective({ directiveId: 'e', licenseId: 'l', itemId: manifest.itemId, clientPeerId: client.peerId.toString(), region: 'eu', peers: [{ peerId: expiredSeeder.peerId.toString(), addrs: [], role: 'peer' }], rulesVersion: 1, issuedAt: now, expiresAt: now + 60_000 }, main)
  let name = 'served'
  try {
    await fetchChunks(client as any, { peerId: expiredSeeder.peerId.toString(), addrs: listenAddrs(expiredSeeder) }, { itemId: manifest.itemId, indexes: [0], credential: cred }, { signal: AbortSignal.timeout(10_000), onChunk: () => {} })
  } catch (err) { name = (err as Error).name }
  assert.equal(name, 'AccessDeniedError')
})

test.run()
