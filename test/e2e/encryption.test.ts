/**
 * Issue 14, encryption end to end on real processes (main --encrypt, a parent
 * and an edge, customers running `reelnet get` and `reelnet play`):
 *  - no file under the parent's, the edge's or a seeding customer's folder
 *    holds a plaintext marker the item contains, while `reelnet play` serves
 *    bytes identical to the original (whole and by Range);
 *  - a rental that ends during `play` and during `get --seed`: playback
 *    answers 403 with a message, seeding stops, the content key file is gone.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Network, createCustomer, runClient, waitJson, nodeStatus, type Proc } from './client-net.ts'

const MIB = 1024 * 1024
const MARKER = 'REELNET-PLAINTEXT-MARKER-must-never-leave-main-unencrypted'

/** A film with the marker every 64 KiB, so any chunk (or large piece of one) of plaintext would contain it. */
function film (size: number): Buffer {
  const b = randomBytes(size)
  for (let at = 1000; at + MARKER.length < size; at += 64 * 1024) b.write(MARKER, at, 'latin1')
  return b
}

/** Every regular file under `dir`, recursively. */
function filesUnder (dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...filesUnder(p))
    else if (e.isFile()) out.push(p)
  }
  return out
}

/** The files under `dir` that contain `needle` (the grep of Must show 1). */
function grep (dir: string, needle: Buffer): string[] {
  return filesUnder(dir).filter(f => readFileSync(f).includes(needle))
}

async function fetchBytes (url: string, range?: string): Promise<{ status: number, body: Buffer, text: string }> {
  const res = await fetch(url, { headers: range === undefined ? {} : { range }, signal: AbortSignal.timeout(120_000) })
  const body = Buffer.from(await res.arrayBuffer())
  return { status: res.status, body, text: body.toString('utf8') }
}

async function until (what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const started = Date.now()
  while (!(await fn())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

function stopAll (procs: Proc[]): Promise<unknown> {
  for (const p of procs) p.kill('SIGTERM')
  return Promise.race([Promise.all(procs.map(async p => await p.exited)), new Promise(resolve => setTimeout(resolve, 10_000))])
}

test('after a real download through parent and edge, no parent, edge or seeding customer file holds the plaintext marker, and reelnet play serves the original bytes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reelnet-e2e-crypt-'))
  const net = new Network({ dir, regions: [{ name: 'eu', parents: 1, edges: 1 }], mainArgs: ['--encrypt'] })
  const procs: Proc[] = []
  try {
    await net.start()
    const original = film(3 * MIB + 12_345)
    const needle = Buffer.from(MARKER, 'latin1')
    const itemId = await net.ingest(original, 'Secret film.mp4')
    const manifest = await net.api('GET', `/v1/items/${itemId}`) as { manifest: string }
    assert.ok(manifest.manifest.length > 0)
    const [parent] = net.nodesOf('eu', 'parent')
    const [edge] = net.nodesOf('eu', 'edge')
    await until('the parent to hold the item', async () => ((await nodeStatus(parent!)).heldItems as string[]).includes(itemId), 120_000)

    // a customer downloads (through the edge, which fills from the parent) and keeps seeding
    const seeder = await createCustomer(net, 'seeder', 'eu', { ownAccount: true })
    const get = runClient(seeder, ['get', itemId, '--rent', '--seed', '--json', '-o', 'film.bin'])
    procs.push(get)
    const done = await waitJson(get, o => o.type === 'done', 180_000)
    assert.ok(done.byKind.edge > 0, `the edge served the download: ${JSON.stringify(done.byKind)}`)
    await waitJson(get, o => o.type === 'seeding')
    const kept = readFileSync(join(seeder.configDir, 'film.bin'))
    assert.is(kept.length, original.length)
    assert.not.ok(kept.equals(original), 'reelnet get keeps the ciphertext')
    assert.ok(existsSync(join(seeder.configDir, 'content-keys', `${itemId}.json`)), 'the content key is kept while the licence is valid')

    // a second customer plays it: bytes identical to the original, whole and by ranges
    const viewer = await createCustomer(net, 'viewer', 'eu', { ownAccount: true })
    const play = runClient(viewer, ['play', itemId, '--rent', '--json', '-o', 'film.bin'])
    procs.push(play)
    const { url } = await waitJson(play, o => o.type === 'listening')
    const whole = await fetchBytes(url as string)
    assert.is(whole.status, 200)
    assert.ok(whole.body.equals(original), 'reelnet play serves the original bytes')
    for (const [a, b] of [[0, 0], [15, 16], [MIB - 7, MIB + 9], [2 * MIB + 100, original.length - 1], [12_345, 3 * MIB]] as const) {
      const r = await fetchBytes(url as string, `bytes=${a}-${b}`)
      assert.is(r.status, 206)
      assert.ok(r.body.equals(original.subarray(a, b + 1)), `bytes ${a}-${b}`)
    }
    await waitJson(play, o => o.type === 'done', 180_000)

    // the grep: the edge really holds the item's chunks, yet no file of parent, edge or seeding customer holds the marker
    const origin = join(dir, 'main', 'origin')
    const chunk0 = readdirSync(origin).map(f => readFileSync(join(origin, f))).find(b => b.length === MIB)
    assert.ok(chunk0 !== undefined)
    const probe = chunk0.subarray(4096, 4096 + 64)
    assert.ok(grep(edge!.dataDir, probe).length > 0, 'the edge holds ciphertext chunks of the item (the grep below looks at real data)')
    assert.ok(grep(parent!.dataDir, probe).length > 0, 'the parent holds them too')
    for (const folder of [parent!.dataDir, edge!.dataDir, seeder.configDir, viewer.configDir, origin]) {
      assert.equal(grep(folder, needle), [], `no file under ${folder} holds the plaintext marker`)
    }
    assert.ok(statSync(edge!.dataDir).isDirectory())

    // main's own output (its logs) never holds the key, in any encoding
    const keyText = (JSON.parse(readFileSync(join(seeder.configDir, 'content-keys', `${itemId}.json`), 'utf8')) as { key: string }).key
    const keyBytes = Buffer.from(keyText, 'base64url')
    assert.is(keyBytes.length, 32)
    for (const form of [keyText, keyBytes.toString('hex'), keyBytes.toString('base64')]) assert.not.ok(net.main.output().includes(form), 'main logged the content key')

    // export: a rental is refused with the reason; a purchase writes the plaintext
    const refused = runClient(seeder, ['export', itemId, '-o', 'plain.bin'])
    procs.push(refused)
    assert.is(await refused.exited, 1)
    assert.match(refused.output(), /only a purchase may be exported/)
    assert.not.ok(existsSync(join(seeder.configDir, 'plain.bin')))
    const buyer = await createCustomer(net, 'buyer', 'eu', { ownAccount: true })
    const buy = runClient(buyer, ['rent', itemId, '--purchase'])
    procs.push(buy)
    assert.is(await buy.exited, 0, buy.output())
    assert.match(buy.output(), /bought/)
    const fetchIt = runClient(buyer, ['get', itemId, '--json', '-o', 'film.bin'])
    procs.push(fetchIt)
    assert.is(await fetchIt.exited, 0, fetchIt.output())
    const exported = runClient(buyer, ['export', itemId, '-o', 'plain.bin'])
    procs.push(exported)
    assert.is(await exported.exited, 0, exported.output())
    assert.ok(readFileSync(join(buyer.configDir, 'plain.bin')).equals(original), 'the purchase exports the original bytes')
    const listed = runClient(buyer, ['rentals', '--json'])
    procs.push(listed)
    assert.is(await listed.exited, 0, listed.output())
    const rows = (JSON.parse(listed.output()) as { rentals: Array<{ kind: string, keyKept: boolean, timeLeftMs: number | null }> }).rentals
    assert.equal(rows.map(r => [r.kind, r.keyKept, r.timeLeftMs]), [['purchase', true, null]])
  } finally {
    await stopAll(procs)
    await net.stop()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a rental ending during reelnet play and during get --seed: play answers 403 with a message, seeding stops, the content key leaves the config folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reelnet-e2e-crypt-exp-'))
  // long enough to rent and download 1 MiB on a slow machine, short enough to wait for
  const RENTAL_S = 25
  const net = new Network({ dir, regions: [{ name: 'eu', parents: 1, edges: 0 }], mainArgs: ['--encrypt', '--rental-seconds', String(RENTAL_S)] })
  const procs: Proc[] = []
  try {
    await net.start()
    const original = film(MIB + 777)
    const itemId = await net.ingest(original, 'Short rental.mp4')
    const seeder = await createCustomer(net, 'seed-exp', 'eu', { ownAccount: true })
    const viewer = await createCustomer(net, 'play-exp', 'eu', { ownAccount: true })
    const get = runClient(seeder, ['get', itemId, '--rent', '--seed', '--json', '-o', 'film.bin'])
    const play = runClient(viewer, ['play', itemId, '--rent', '--json', '-o', 'film.bin'])
    procs.push(get, play)
    const { url } = await waitJson(play, o => o.type === 'listening', 120_000)
    const first = await fetchBytes(url as string)
    assert.is(first.status, 200)
    assert.ok(first.body.equals(original), 'plays while the rental runs')
    await waitJson(get, o => o.type === 'seeding', 120_000)
    const seedKey = join(seeder.configDir, 'content-keys', `${itemId}.json`)
    const playKey = join(viewer.configDir, 'content-keys', `${itemId}.json`)
    assert.ok(existsSync(seedKey) && existsSync(playKey), 'both keep the key while the rental runs')
    const keyText = (JSON.parse(readFileSync(playKey, 'utf8')) as { key: string }).key

    // the rental ends: play says so and answers 403 with the reason
    const ended = await waitJson(play, o => o.type === 'ended', (RENTAL_S + 90) * 1000)
    assert.match(String(ended.message), /ended/)
    const after = await fetchBytes(url as string)
    assert.is(after.status, 403)
    assert.match(after.text, /your rental of Short rental\.mp4 ended at .*rent it again/)
    assert.is((await fetchBytes(url as string, 'bytes=0-99')).status, 403, 'a Range request too')
    assert.not.ok(existsSync(playKey), 'the player\'s key file is gone')

    // get --seed: seeding stops, the process ends by itself, the key is gone
    const seeded = await waitJson(get, o => o.type === 'seeded', 90_000)
    assert.ok(seeded.licenseEnded !== undefined, JSON.stringify(seeded))
    assert.is(await get.exited, 0)
    assert.not.ok(existsSync(seedKey), 'the seeder\'s key file is gone')
    for (const c of [seeder, viewer]) {
      assert.equal(filesUnder(c.configDir).filter(f => readFileSync(f, 'latin1').includes(keyText)), [], 'the key is nowhere in the config folder')
    }
    // and a new play of the ended rental is refused with the reason, before any download
    const again = runClient(viewer, ['play', itemId, '--json'])
    procs.push(again)
    assert.is(await again.exited, 1)
    assert.match(again.output(), /expired[:;] rent (it|the item) again/, again.output())
  } finally {
    await stopAll(procs)
    await net.stop()
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
