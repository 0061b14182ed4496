/**
 * The storefront and the web player in a real browser (playwright-core
 * driving Debian's chromium) against real processes on loopback: main, a
 * parent, and an edge that also listens on WebSockets. The test item is an
 * H.264/AAC MP4 with the moov atom first, made now by ffmpeg. A customer
 * signs up, logs in, rents and watches: the video plays past 3 s, a seek to
 * 75 % plays, and the bytes the Service Worker hands the page for a range are
 * the file's. Then an edge that corrupts every chunk joins (registered and heartbeating): the page
 * names the dropped source and the whole file still comes through verified.
 * Directives last 4 s, so the player renews them as it plays. Then an
 * expired rental: the page says so, offers Rent, asks for no chunk; and a
 * rental that runs out while it plays: the page stops with Rent. Last, main
 * is killed while a 60 s video plays: the player fetches on with the
 * directive in hand and stops with a message when that directive ends.
 * Without /usr/bin/chromium or ffmpeg the suite says so and runs nothing.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { BrowserContext, Page } from 'playwright-core'
import { ADMIN, OPERATOR, cleanup, startMain, startNode, status, tempDir, waitFor, type NodeProc, type Proc } from './node-kit.ts'
import { signHeartbeatRaw } from '../../protocol/documents.ts'
import { toText } from '../../protocol/signing.ts'
import { createHost, bareAddrs, type ReelnetHost } from '../../node/net/host.ts'
import { serveChunks } from '../../node/net/chunk-server.ts'

// page functions run in the browser; the test's own types have no DOM
declare const document: any
type HTMLVideoElement = any

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required']
const REGION = 'web'
/** Small chunks, so a few MiB of video are many chunks and a seek needs chunks the start did not fetch. */
const CHUNK_SIZE = 128 * 1024
const MEDIA_SECONDS = 12
const PASSWORD = 'correct horse battery'
/** Generous: the machine is shared and three times slower in CI. */
const PLAY_TIMEOUT_MS = 90_000
/** The player renews a directive a quarter of its life before it ends: every ~3 s here. */
const DIRECTIVE_TTL_MS = 4_000
/** The rental period of the expiry cases' main: a fresh rental still plays for a while on a slow machine. */
const SHORT_RENTAL_S = 15
/** The main-unreachable case's video: long enough that the browser is still fetching it when main goes. */
const LONG_MEDIA_SECONDS = 60

function haveFfmpeg (): boolean {
  try { execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' }); return true } catch { return false }
}

let dir: string
let main: { url: string, proc: Proc } | undefined
let parent: NodeProc | undefined
let edge: NodeProc | undefined
let browser: BrowserContext
let page: Page
let media: Buffer
let itemId: string
const hosts: ReelnetHost[] = []
const shortNodes: NodeProc[] = []
const chunkRequests: string[] = []
/** The pages' console errors and uncaught exceptions, shown when a test fails. */
const pageErrors: string[] = []
function watchErrors (p: Page): void {
  p.on('console', m => { if (m.type() === 'error' || m.type() === 'warning') pageErrors.push(`console ${m.type()}: ${m.text()}`) })
  p.on('pageerror', e => { pageErrors.push(`pageerror: ${e.message}`) })
}

async function ingestMedia (url: string, bytes: Buffer, title: string): Promise<string> {
  const res = await fetch(`${url}/v1/items?title=${encodeURIComponent(title)}&chunkSize=${CHUNK_SIZE}&description=${encodeURIComponent('A test card with a tone.')}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: bytes })
  if (!res.ok) throw new Error(`ingest: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { itemId: string }).itemId
}

async function signUpAndLogIn (p: Page, url: string, username: string): Promise<void> {
  await p.goto(`${url}/store`)
  await p.getByRole('link', { name: 'Sign up' }).click()
  await p.getByLabel('User name').fill(username)
  await p.getByLabel('Password').fill(PASSWORD)
  await p.getByRole('button', { name: 'Sign up' }).click()
  await p.getByLabel('User name').fill(username)
  await p.getByLabel('Password').fill(PASSWORD)
  await p.getByRole('button', { name: 'Log in' }).click()
  await p.getByRole('link', { name: 'My rentals' }).waitFor()
}

/** From the catalog: open the item, Rent, Watch; returns the licenseId. */
async function rentAndWatch (p: Page, url: string, title: string): Promise<string> {
  await p.goto(`${url}/store`)
  await p.getByRole('link', { name: title }).click()
  // a customer who rented it already is offered Watch instead (wait for the item page to show one or the other)
  await p.getByRole('button', { name: 'Rent' }).or(p.getByRole('link', { name: 'Watch' })).first().waitFor()
  if (await p.getByRole('button', { name: 'Rent' }).count() === 1) {
    await p.getByRole('button', { name: 'Rent' }).click()
    await p.getByText('it ends at').waitFor()
  }
  await p.getByRole('link', { name: 'Watch' }).click()
  await p.locator('#player').waitFor()
  return await p.locator('#player').getAttribute('data-license') ?? ''
}

/** What the player page shows, for a failure message. */
async function pageState (p: Page): Promise<string> {
  // a string, so tsx's helpers (__name) are not needed in the page
  return await p.evaluate(`JSON.stringify({
    status: document.querySelector('#status')?.textContent, problem: document.querySelector('#problem')?.textContent,
    events: [...document.querySelectorAll('#events li')].map(l => l.textContent),
    currentTime: document.querySelector('video')?.currentTime, readyState: document.querySelector('video')?.readyState,
    error: document.querySelector('video')?.error?.message, sources: globalThis.reelnetPlayer?.sourceStates?.(), verified: document.querySelector('#verified')?.textContent, media: document.querySelector('#player')?.dataset.media })`).then(v => `${String(v)} errors: ${JSON.stringify(pageErrors.slice(-10))}`).catch((err: Error) => `page state unavailable: ${err.message}`)
}

async function waitPlayedPast (p: Page, seconds: number): Promise<void> {
  try {
    await p.waitForFunction((s) => {
      const v = document.querySelector('video') as HTMLVideoElement
      if (v.error !== null) throw new Error(`media error ${v.error.code}: ${v.error.message}`)
      return v.currentTime > s
    }, seconds, { timeout: PLAY_TIMEOUT_MS, polling: 100 })
  } catch (err) {
    throw new Error(`${(err as Error).message.split('\n')[0]}; the page: ${await pageState(p)}`)
  }
}

/** SHA-256 (hex) and length of what the Service Worker answers for `range`, fetched from the page. */
async function rangeFromPage (p: Page, licenseId: string, start: number, end: number): Promise<{ status: number, contentRange: string | null, hash: string, length: number }> {
  const media = await p.locator('#player').getAttribute('data-media')
  assert.ok(media?.startsWith(`/store/media/${licenseId}/`), `the player's media URL: ${media}`)
  return await p.evaluate(async ({ media, start, end }: { media: string, start: number, end: number }) => {
    const res = await fetch(media, { headers: { range: `bytes=${start}-${end}` } })
    const bytes = new Uint8Array(await res.arrayBuffer())
    const hash = [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map(b => b.toString(16).padStart(2, '0')).join('')
    return { status: res.status, contentRange: res.headers.get('content-range'), hash, length: bytes.length }
  }, { media: media ?? "", start, end })
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

if (!existsSync(CHROMIUM) || !haveFfmpeg()) {
  console.log(`SKIP web-player: ${!existsSync(CHROMIUM) ? `${CHROMIUM} is missing` : 'ffmpeg is missing'} (apt-get install -y chromium ffmpeg); no browser test ran`)
} else {
  test.before(async () => {
    dir = await tempDir('web-player')
    const file = join(dir, 'test.mp4')
    // noise keeps x264 near the asked bitrate (a bare test card compresses to a few chunks): ~3 MiB, ~25 chunks
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=25:duration=${MEDIA_SECONDS},noise=alls=12:allf=t`,
      '-f', 'lavfi', '-i', `sine=frequency=440:duration=${MEDIA_SECONDS}`, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-profile:v', 'main',
      '-g', '25', '-b:v', '2000k', '-maxrate', '2500k', '-bufsize', '4000k', '-c:a', 'aac', '-b:a', '96k', '-movflags', '+faststart', '-shortest', file])
    media = await readFile(file)
    assert.ok(media.length > 8 * CHUNK_SIZE, `the test media is ${media.length} bytes`)
    assert.ok(media.subarray(0, 64).includes(Buffer.from('ftyp')) && media.indexOf('moov') < media.indexOf('mdat'), 'moov before mdat')
    // short directives, so the player must ask for new ones while it plays
    main = await startMain(dir, ['--directive-ttl-ms', String(DIRECTIVE_TTL_MS)])
    parent = await startNode(main.url, 'parent', REGION, join(dir, 'parent'))
    edge = await startNode(main.url, 'edge', REGION, join(dir, 'edge'), ['--listen', '/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/tcp/0/ws'])
    assert.ok(edge.addrs.some(a => a.includes('/ws/')), `the edge listens on WebSockets: ${edge.addrs.join(' ')}`)
    itemId = await ingestMedia(main.url, media, 'Test card')
    await waitFor('the parent holds the item', async () => (await status(parent!)).heldItems.includes(itemId), 120_000)
    const { chromium } = await import('playwright-core')
    browser = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS })
    page = browser.pages()[0] ?? await browser.newPage()
    page.setDefaultTimeout(60_000)
    watchErrors(page)
    page.on('request', r => { if (r.url().includes('/store/api/directives')) chunkRequests.push(r.url()) })
  })

  test.after(async () => {
    await browser?.close().catch(() => {})
    await Promise.all(hosts.map(async h => { await h.stop() }).map(p => p.catch(() => {})))
    if (dir !== undefined) await cleanup(dir, [edge?.proc, parent?.proc, main?.proc])
  })

  test('sign up, log in, rent and watch: the video plays past 3 s, a seek to 75 % plays, and a range is the file\'s bytes', async () => {
    await signUpAndLogIn(page, main!.url, 'wendy')
    const licenseId = await rentAndWatch(page, main!.url, 'Test card')
    assert.match(licenseId, /^[0-9a-f-]{36}$/)
    assert.is(await page.locator('video').count(), 1)
    await waitPlayedPast(page, 3)
    const duration = await page.evaluate(() => (document.querySelector('video') as HTMLVideoElement).duration)
    assert.ok(Math.abs(duration - MEDIA_SECONDS) < 1, `duration ${duration}`)
    await page.evaluate((d) => { (document.querySelector('video') as HTMLVideoElement).currentTime = d * 0.75 }, duration)
    await waitPlayedPast(page, duration * 0.75 + 0.5)
    const start = 1000
    const end = Math.min(media.length - 1, 3 * CHUNK_SIZE + 12345)
    const got = await rangeFromPage(page, licenseId, start, end)
    assert.is(got.status, 206)
    assert.is(got.contentRange, `bytes ${start}-${end}/${media.length}`)
    assert.is(got.length, end - start + 1)
    assert.is(got.hash, sha(media.subarray(start, end + 1)), 'the Service Worker handed the file\'s bytes')
    const st = await status(edge!)
    assert.ok(Object.values(st.served).reduce((a, b) => a + b, 0) > 0, `the edge served the browser: ${JSON.stringify(st.served)}`)
    // the player kept asking for directives as they ran out, and kept playing
    await page.locator('#events li[data-kind="directive"]').nth(1).waitFor({ timeout: PLAY_TIMEOUT_MS })
    const renewed = await page.locator('#events li[data-kind="directive"]').count()
    assert.ok(renewed >= 2, `directives renewed while playing: ${renewed}`)
    const problem = await page.locator('#problem').isVisible()
    assert.not.ok(problem, `no problem shown: ${await page.locator('#problem').textContent()}`)
  })

  test('an encrypted item (issue 14): the page unseals its key with its IndexedDB key, decrypts each verified chunk, plays, and a range is the original bytes', async () => {
    const res = await fetch(`${main!.url}/v1/items?title=${encodeURIComponent('Secret card')}&chunkSize=${CHUNK_SIZE}&encrypt=true`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: media })
    assert.is(res.status, 201)
    const secretId = ((await res.json()) as { itemId: string }).itemId
    await waitFor('the parent holds the encrypted item', async () => (await status(parent!)).heldItems.includes(secretId), 120_000)
    const p2 = await browser.newPage()
    watchErrors(p2)
    try {
      const licenseId = await rentAndWatch(p2, main!.url, 'Secret card')
      await waitPlayedPast(p2, 2)
      const start = 777
      const end = Math.min(media.length - 1, 2 * CHUNK_SIZE + 4321)
      const got = await rangeFromPage(p2, licenseId, start, end)
      assert.is(got.status, 206)
      assert.is(got.hash, sha(media.subarray(start, end + 1)), 'the page decrypted to the original bytes')
      assert.not.ok(await p2.locator('#problem').isVisible(), `no problem shown: ${await p2.locator('#problem').textContent()}`)
    } finally {
      await p2.close()
    }
  })

  test('an edge serving corrupted chunks: the page names the dropped source and the whole file comes through from the others', async () => {
    // mallory: an edge of the region, registered with main and heartbeating like any, on WebSockets, that flips a
    // byte in every chunk it serves (a libp2p host of the test's own: a real edge process has no way to lie)
    const api = async (method: string, path: string, body: unknown, token?: string): Promise<any> => {
      const res = await fetch(`${main!.url}${path}`, { method, headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) })
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
      return await res.json()
    }
    const evilKey = await generateKeyPair('Ed25519')
    const evil = await createHost({ privateKey: evilKey, region: REGION, dht: false, listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    hosts.push(evil)
    let served = 0
    await serveChunks(evil as any, {
      source: {
        async getChunk (_id, index) {
          const chunk = Buffer.from(media.subarray(index * CHUNK_SIZE, (index + 1) * CHUNK_SIZE))
          if (chunk.length === 0) return null
          chunk[0] = (chunk[0] ?? 0) ^ 0x01
          served++
          return chunk
        },
        async have () { return null }
      },
      authorize: async () => {},
      mayAskHave: () => true
    })
    const evilId = evil.peerId.toString()
    await api('POST', '/v1/nodes', { peerId: evilId, role: 'edge', region: REGION, addrs: bareAddrs(evil), capacityBytes: 1e9 }, OPERATOR)
    // it heartbeats (signed with its own key) so main keeps it up and in directives for as long as the test runs
    let seq = 0
    const beat = async (): Promise<void> => {
      const hb = signHeartbeatRaw({ peerId: evilId, seq: ++seq, sentAt: Date.now(), load: 0, freeBytes: 1e9, bytesServed: { edge: 0, parent: 0, peer: 0, client: 0 }, heldItems: [itemId] }, evilKey.raw)
      await fetch(`${main!.url}/v1/nodes/${evilId}/heartbeat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ heartbeat: toText(hb) }) }).then(async r => { await r.arrayBuffer() }, () => {})
    }
    await beat()
    const heartbeats = setInterval(() => { void beat() }, 500)
    await waitFor('main to name the corrupt edge up', async () => {
      const { nodes } = await (await fetch(`${main!.url}/v1/nodes`, { headers: { authorization: `Bearer ${OPERATOR}` } })).json() as { nodes: Array<{ peerId: string, status: string }> }
      return nodes.some(n => n.peerId === evilId && n.status === 'up')
    }, 60_000)

    const p2 = await browser.newPage()
    watchErrors(p2)
    try {
      const licenseId = await rentAndWatch(p2, main!.url, 'Test card')
      await p2.locator('#problem[data-kind="tampered"]').waitFor({ timeout: PLAY_TIMEOUT_MS }).catch(async (err: Error) => { throw new Error(`${err.message.split('\n')[0]}; served ${served}; the page: ${await pageState(p2)}`) })
      const text = await p2.locator('#problem').textContent() ?? ''
      const shortId = evil.peerId.toString().slice(0, 8)
      assert.ok(text.includes('failed verification') && text.includes('dropped') && text.includes(shortId), `the page names the dropped source: ${text}`)
      assert.ok(served >= 1, 'the corrupt edge was asked')
      // the whole file through the Service Worker, in the pieces it answers
      const parts: string[] = []
      let whole = Buffer.alloc(0)
      for (let at = 0; at < media.length; at += 2 * 1024 * 1024) {
        const end = Math.min(media.length - 1, at + 2 * 1024 * 1024 - 1)
        const r = await rangeFromPage(p2, licenseId, at, end)
        assert.is(r.status, 206)
        assert.is(r.hash, sha(media.subarray(at, end + 1)), `bytes ${at}-${end}`)
        parts.push(r.hash)
        whole = Buffer.concat([whole, media.subarray(at, end + 1)])
      }
      assert.is(whole.length, media.length)
      await waitPlayedPast(p2, 1)
    } finally {
      clearInterval(heartbeats)
      await p2.close()
    }
  })

  test('an expired rental: the watch page says so, offers Rent, and asks for no directive or chunk; rented again where no region has nodes, the page says so', async () => {
    // rentals of SHORT_RENTAL_S: long enough that a fresh one is still valid when its watch page asks, on a slow machine too
    const short = await startMain(join(dir, 'short'), ['--rental-seconds', String(SHORT_RENTAL_S)])
    try {
      const id = await ingestMedia(short.url, media.subarray(0, 300_000), 'Brief')
      const p3 = await browser.newPage()
      const asked: string[] = []
      p3.on('request', r => { if (/\/store\/(api|player\.js|media)/.test(r.url())) asked.push(r.url()) })
      try {
        await signUpAndLogIn(p3, short.url, 'ester')
        await p3.goto(`${short.url}/store/items/${id}`)
        await p3.getByRole('button', { name: 'Rent' }).click()
        const watchUrl = await p3.getByRole('link', { name: 'Watch' }).getAttribute('href')
        // wait for the rental to end: My rentals says so
        await waitFor('the rental to expire', async () => {
          await p3.goto(`${short.url}/store/rentals`)
          return await p3.getByRole('cell', { name: 'expired' }).count() === 1
        }, (SHORT_RENTAL_S + 60) * 1000)
        await p3.goto(`${short.url}${watchUrl ?? ''}`)
        await p3.getByText('expired at').waitFor()
        assert.is(await p3.getByRole('button', { name: 'Rent' }).count(), 1)
        assert.is(await p3.locator('video').count(), 0)
        assert.equal(asked, [], 'no player, no directive, no chunk')
        // Rent again on that page: this main has no node at all, and the player says so rather than wait
        await p3.getByRole('button', { name: 'Rent' }).click()
        await p3.getByRole('link', { name: 'Watch' }).click()
        await p3.locator('#problem[data-kind="no_region"]').waitFor({ timeout: PLAY_TIMEOUT_MS })
        assert.match(await p3.locator('#problem').textContent() ?? '', /No node serves your region yet/)
        assert.is(await p3.locator('#status').textContent(), 'Stopped.')

        // now the region gets nodes, and a rental runs out while it plays
        shortNodes.push(await startNode(short.url, 'parent', REGION, join(dir, 'short-parent')))
        shortNodes.push(await startNode(short.url, 'edge', REGION, join(dir, 'short-edge'), ['--listen', '/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/tcp/0/ws']))
        const cardId = await ingestMedia(short.url, media, 'Short card')
        await waitFor('the short main\'s parent holds the card', async () => (await status(shortNodes[0]!)).heldItems.includes(cardId), 120_000)
        await p3.goto(`${short.url}/store/items/${cardId}`)
        await p3.getByRole('button', { name: 'Rent' }).click()
        await p3.getByRole('link', { name: 'Watch' }).click()
        await p3.locator('#player').waitFor()
        // the card is shorter than the rental: looped, it is still playing when the rental ends
        await p3.evaluate(() => { (document.querySelector('video') as HTMLVideoElement).loop = true })
        await waitPlayedPast(p3, 0.5)
        const expiresAt = Number(await p3.locator('#player').getAttribute('data-expires'))
        assert.ok(expiresAt > Date.now(), 'the rental was still running while it played')
        await p3.locator('#problem[data-kind="license_expired"]').waitFor({ timeout: (SHORT_RENTAL_S + 60) * 1000 })
          .catch(async (err: Error) => { throw new Error(`${err.message.split('\n')[0]}; the page: ${await pageState(p3)}`) })
        assert.ok(Date.now() >= expiresAt, 'stopped when the rental ended, not before')
        assert.match(await p3.locator('#problem').textContent() ?? '', /Your rental has expired/)
        assert.is(await p3.locator('#problem').getByRole('link', { name: 'Rent' }).getAttribute('href'), `/store/items/${cardId}`)
        assert.is(await p3.locator('#status').textContent(), 'Stopped.')
        assert.ok(await p3.evaluate(() => (document.querySelector('video') as HTMLVideoElement).paused), 'the video stopped')
      } finally {
        await p3.close()
      }
    } finally {
      await Promise.all(shortNodes.map(async n => { await n.proc.kill('SIGKILL') }))
      await short.proc.kill('SIGTERM')
    }
  })

  test('main becomes unreachable while a rental plays: playback goes on with the directive in hand, fetching, then the page says main cannot be reached', async () => {
    const file = join(dir, 'long.mp4')
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=25:duration=${LONG_MEDIA_SECONDS},noise=alls=12:allf=t`,
      '-f', 'lavfi', '-i', `sine=frequency=440:duration=${LONG_MEDIA_SECONDS}`, '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-profile:v', 'main',
      '-g', '25', '-b:v', '1500k', '-maxrate', '2000k', '-bufsize', '3000k', '-c:a', 'aac', '-b:a', '96k', '-movflags', '+faststart', '-shortest', file])
    const long = await readFile(file)
    const longId = await ingestMedia(main!.url, long, 'Long card')
    await waitFor('the parent holds the long card', async () => (await status(parent!)).heldItems.includes(longId), 120_000)
    const p4 = await browser.newPage()
    watchErrors(p4)
    try {
      // cookies are per host, not per port: the expiry case's login on its own main replaced wendy's here
      await signUpAndLogIn(p4, main!.url, 'lena')
      await rentAndWatch(p4, main!.url, 'Long card')
      await waitPlayedPast(p4, 1)
      // main goes just after the player got a fresh directive: the one in hand has most of its life ahead
      const directives = p4.locator('#events li[data-kind="directive"]')
      await directives.nth(await directives.count()).waitFor({ timeout: PLAY_TIMEOUT_MS })
      await main!.proc.kill('SIGKILL')
      const atKill = await p4.evaluate(() => ({ t: performance.now(), time: (document.querySelector('video') as HTMLVideoElement).currentTime, until: (globalThis as any).reelnetPlayer.directiveExpiresAt as number }))
      // a seek far ahead, to bytes the player has not fetched: it must fetch them on the directive in hand (without
      // it, a fast data path may already hold all the player reads ahead before the directive ends)
      await p4.evaluate(() => { const v = document.querySelector('video') as HTMLVideoElement; v.currentTime = v.duration * 0.85 })
      await p4.locator('#problem[data-kind="main-unreachable"]').waitFor({ timeout: PLAY_TIMEOUT_MS })
      assert.match(await p4.locator('#problem').textContent() ?? '', /main cannot be reached: playing on/)
      await p4.locator('#problem[data-kind="main_unreachable"]').waitFor({ timeout: PLAY_TIMEOUT_MS })
        .catch(async (err: Error) => { throw new Error(`${err.message.split('\n')[0]}; the page: ${await pageState(p4)}`) })
      const end = await p4.evaluate(() => ({
        trace: (globalThis as any).reelnetTrace as Array<{ t: number, ev: string }>,
        origin: performance.timeOrigin,
        time: (document.querySelector('video') as HTMLVideoElement).currentTime,
        paused: (document.querySelector('video') as HTMLVideoElement).paused
      }))
      const verifiedAfter = end.trace.filter(e => e.ev === 'verified' && e.t > atKill.t).length
      if (verifiedAfter === 0) {
        const tail = end.trace.filter(e => e.t > atKill.t - 2000).slice(-40).map(e => `${Math.round(e.t - atKill.t)} ${JSON.stringify(e)}`)
        assert.unreachable(`no chunk was fetched and verified on the directive in hand after main had gone (directive until ${atKill.until - (end.origin + atKill.t)} ms after the kill); the page: ${await pageState(p4)}; trace around the kill: ${tail.join(' | ')}`)
      }
      const stoppedAt = end.trace.find(e => e.ev === 'fatal')
      assert.ok(stoppedAt !== undefined)
      assert.ok(end.origin + stoppedAt.t >= atKill.until, `stopped when the directive ended (${new Date(atKill.until).toISOString()}), not before`)
      assert.ok(end.time > atKill.time, `it played on: ${atKill.time} → ${end.time} s`)
      assert.match(await p4.locator('#problem').textContent() ?? '', /main cannot be reached, and the directive .* ended at .*reload the page/)
      assert.is(await p4.locator('#status').textContent(), 'Stopped.')
      assert.ok(end.paused, 'the video stopped')
    } finally {
      await p4.close()
    }
  })
}

test.run()
