/**
 * The operator page in a real browser (playwright-core driving Debian's
 * chromium): main and two nodes of a region as processes, the operator logs
 * in, mints a node token on the page and starts the edge with the command it
 * shows, sees both nodes up, kills the parent and sees it go down within the
 * heartbeat timeout, drains the edge and sees a new directive omit it. A
 * screenshot of the page is saved under artifacts/ (gitignored).
 * Without /usr/bin/chromium the suite says so and runs nothing.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Network, OPERATOR_TOKEN, ROOT, createCustomer, spawnReelnet, waitFor, type CustomerInfo, type Proc } from './client-net.ts'
import { createSigner, peerIdOf } from '../../protocol/keys.ts'
import { verifyDirective } from '../../protocol/documents.ts'
import { fromText } from '../../protocol/signing.ts'
import { fromBase64url } from '../../protocol/encoding.ts'
import type { BrowserContext, Page } from 'playwright-core'

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
/** client-net starts main with this heartbeat timeout. */
const HEARTBEAT_TIMEOUT_MS = 4_000
/**
 * After the timeout, the page shows "down" on its next poll (every second); the last heartbeat may have come up
 * to 500 ms before the kill; a loaded machine adds some: seen in a full run, main left the parent out of
 * directives 5.4 s after the kill and the browser, starved beside two other suites, drew "down" 2.3 s later.
 */
const PAGE_SLACK_MS = 5_000
const REGION = 'web'
export const SCREENSHOT = join(ROOT, 'artifacts', 'operator-page.png')

const NODE_FLAGS = ['--heartbeat-ms', '500', '--rules-poll-ms', '300']

let dir: string
let net: Network
let browser: BrowserContext
let page: Page
const procs: Proc[] = []
const peers: Record<'parent' | 'edge', string> = { parent: '', edge: '' }
let alice: CustomerInfo
let licenseId: string

async function startNode (args: string[], name: string): Promise<string> {
  const proc = spawnReelnet(args, { name })
  procs.push(proc)
  const m = await waitFor(proc, /reelnet node \w+ \S+ (\S+) listening on/)
  return m[1] as string
}

/** One client key for every directive this test asks: a licence admits at most 2 devices at once (issue 14). */
const clientPeerId = peerIdOf(createSigner(crypto.getRandomValues(new Uint8Array(32))).publicKey)

async function directivePeers (): Promise<string[]> {
  const { directive } = await net.api('POST', '/v1/directives', { licenseId, clientPeerId, region: REGION }, alice.token) as { directive: string }
  const d = verifyDirective(fromText(directive), { publicKey: fromBase64url(net.mainKeyText), now: Date.now() })
  return d.peers.map(p => p.peerId)
}

function row (peerId: string): ReturnType<Page['locator']> {
  return page.locator(`tr[data-peer="${peerId}"]`)
}

if (!existsSync(CHROMIUM)) {
  console.log(`SKIP operator-page: ${CHROMIUM} is missing (apt-get install -y chromium); no browser test ran`)
} else {
  test.before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reelnet-operator-page-'))
    net = new Network({ dir, regions: [] })
    await net.start()
    peers.parent = await startNode(['node', '--role', 'parent', '--region', REGION, '--main', net.mainUrl, '--data', join(dir, 'parent'),
      '--operator-token', OPERATOR_TOKEN, `--main-key=${net.mainKeyText}`, ...NODE_FLAGS], 'parent')
    const itemId = await net.ingest(crypto.getRandomValues(new Uint8Array(64 * 1024)), 'page item')
    alice = await createCustomer(net, 'page-alice', REGION)
    licenseId = (await net.api('POST', '/v1/rentals', { itemId }, alice.token) as { licenseId: string }).licenseId
    const { chromium } = await import('playwright-core')
    browser = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS })
    page = browser.pages()[0] ?? await browser.newPage()
    page.setDefaultTimeout(30_000)
  })

  test.after(async () => {
    await browser?.close().catch(() => {})
    for (const p of procs) p.kill('SIGTERM')
    await net?.stop()
    await Promise.race([Promise.all(procs.map(p => p.exited)), new Promise(resolve => setTimeout(resolve, 5_000))])
    for (const p of procs) p.kill('SIGKILL')
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  test('an operator logs in, adds an edge with a minted token, sees a killed node go down and a drained one left out of directives', async () => {
    await page.goto(net.mainUrl + '/')
    await page.fill('#token', 'not-the-operator-token-at-all')
    await page.click('#login')
    await page.locator('#login-error').filter({ hasText: /operator token/ }).waitFor()

    await page.fill('#token', OPERATOR_TOKEN)
    await page.click('#login')
    await row(peers.parent).locator('td.status').filter({ hasText: /^up$/ }).waitFor()

    // mint a node token on the page and run the command it shows
    await page.selectOption('#mint-role', 'edge')
    await page.fill('#mint-region', REGION)
    await page.click('#mint')
    const shown = await page.locator('#mint-command').filter({ hasText: /reelnet node/ }).textContent() ?? ''
    const command = shown.split('\n').find(l => l.startsWith('reelnet node')) ?? ''
    const args = command.split(' ').slice(1)
    const dataAt = args.indexOf('--data')
    assert.ok(dataAt > 0 && args.includes('--operator-token') && !args.includes(OPERATOR_TOKEN), `a node command with its own token: ${command}`)
    args[dataAt + 1] = join(dir, 'edge')
    peers.edge = await startNode([...args, ...NODE_FLAGS], 'edge')

    await row(peers.edge).locator('td.status').filter({ hasText: /^up$/ }).waitFor()
    await row(peers.parent).locator('td.status').filter({ hasText: /^up$/ }).waitFor()
    assert.ok((await directivePeers()).includes(peers.edge), 'a directive names the edge while it serves')

    // kill the parent: the page shows it down within the heartbeat timeout
    const parentProc = procs[0]!
    parentProc.kill('SIGKILL')
    await parentProc.exited
    const killedAt = Date.now()
    // A heartbeat already on the wire when the kill landed can still reach a
    // busy main and refresh the node once (seen in CI: the page showed "down"
    // 11 ms after the kill, from a late heartbeat, and a directive taken after
    // it still named the parent). So: poll directives until the parent is
    // left out, then the page must show it down, all within the bound.
    const bound = HEARTBEAT_TIMEOUT_MS + PAGE_SLACK_MS
    while ((await directivePeers()).includes(peers.parent) && Date.now() - killedAt <= bound) await new Promise(resolve => setTimeout(resolve, 100))
    const omittedAfterMs = Date.now() - killedAt
    await row(peers.parent).locator('td.status').filter({ hasText: /^down$/ }).waitFor({ timeout: bound + 5_000 })
    const downAfterMs = Date.now() - killedAt
    console.log(`parent left out of directives ${omittedAfterMs} ms and shown down ${downAfterMs} ms after SIGKILL (heartbeat timeout ${HEARTBEAT_TIMEOUT_MS} ms, page poll 1000 ms)`)
    assert.ok(omittedAfterMs <= bound, `left out of directives after ${omittedAfterMs} ms`)
    assert.ok(downAfterMs <= HEARTBEAT_TIMEOUT_MS + PAGE_SLACK_MS, `shown down after ${downAfterMs} ms`)
    assert.is(await row(peers.edge).locator('td.status').textContent(), 'up')

    // drain the edge from the page: new directives leave it out
    await row(peers.edge).locator('button.drain').click()
    await row(peers.edge).locator('td.status').filter({ hasText: /drained/ }).waitFor()
    const after = await directivePeers()
    assert.not.ok(after.includes(peers.edge), `a new directive omits the drained edge: ${JSON.stringify(after)}`)
    assert.not.ok(after.includes(peers.parent), 'nor the dead parent')

    await page.locator('#dpm15').filter({ hasText: /^[1-9]/ }).waitFor()
    await mkdir(join(ROOT, 'artifacts'), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    console.log(`screenshot: ${SCREENSHOT}`)
  })
}

test.run()
