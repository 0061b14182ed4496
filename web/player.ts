/**
 * The watch page's player. It runs the customer side in the browser:
 * libp2p (WebSockets, Noise, yamux) with a key kept in IndexedDB, main's
 * signed manifest and directives checked with protocol/'s own verifiers
 * against main's key, chunks from the directive's nodes verified by
 * engine.ts, and a Service Worker (sw.ts) that turns the <video> element's
 * Range requests into reads of verified bytes. Every failure ends in a
 * message on the page.
 */
import { createLibp2p } from 'libp2p'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { verifyDirective, verifyManifest } from '../protocol/documents.ts'
import { fromText } from '../protocol/signing.ts'
import { fromBase64url } from '../protocol/encoding.ts'
import { MAX_DOCUMENT_BYTES } from '../protocol/limits.ts'
import { loadOrCreateKey } from './key-store.ts'
import { openContentKey } from '../protocol/seal.ts'
import { PlayerEngine, FatalError, type DirectiveGrant, type EventKind } from './engine.ts'
import { trace, wallMs } from './trace.ts'
/** main must answer a directive or manifest request within this long. */
export const MAIN_TIMEOUT_MS = 15_000
/** Events listed on the page (newest last); older ones scroll off. */
const MAX_EVENTS_SHOWN = 50

const root = document.getElementById('player') as HTMLElement
const video = document.getElementById('video') as HTMLVideoElement
const statusEl = document.getElementById('status') as HTMLElement
const problemEl = document.getElementById('problem') as HTMLElement
const eventsEl = document.getElementById('events') as HTMLElement
const licenseId = root.dataset.license ?? ''
/** This tab's id in its media URL: the Service Worker hands each tab's requests to that tab only. */
const tab = crypto.randomUUID()
const itemId = root.dataset.item ?? ''
const csrf = root.dataset.csrf ?? ''

function event (kind: EventKind | 'media', text: string): void {
  const li = document.createElement('li')
  li.dataset.kind = kind
  li.textContent = `${new Date().toISOString().slice(11, 19)} ${text}`
  eventsEl.appendChild(li)
  while (eventsEl.children.length > MAX_EVENTS_SHOWN) eventsEl.firstElementChild?.remove()
  if (kind === 'tampered' || kind === 'source-failed' || kind === 'main-unreachable') { problemEl.hidden = false; problemEl.textContent = text; problemEl.dataset.kind = kind }
  if (kind === 'main-back' && problemEl.dataset.kind === 'main-unreachable') { problemEl.hidden = true; delete problemEl.dataset.kind }
}

function fatal (err: Error): void {
  const code = err instanceof FatalError ? err.code : 'error'
  trace('fatal', { code })
  // what the element has buffered is not played on: the rental (or the right to fetch) has ended
  video.pause()
  video.controls = false
  problemEl.hidden = false
  problemEl.dataset.kind = code
  problemEl.textContent = err.message
  statusEl.textContent = 'Stopped.'
  root.dataset.state = 'stopped'
  if (code === 'license_expired') {
    const a = document.createElement('a')
    a.href = `/store/items/${itemId}`
    a.textContent = 'Rent'
    problemEl.append(' ', a)
  }
}

async function callMain (path: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(path, { ...init, signal: AbortSignal.timeout(MAIN_TIMEOUT_MS), credentials: 'same-origin' })
  } catch {
    throw new FatalError('main cannot be reached: check the connection and reload the page.', 'main_unreachable')
  }
}

async function errorOf (res: Response): Promise<FatalError> {
  let code = 'error'
  let message = `main answered HTTP ${res.status}`
  try {
    const body = await res.json() as { error?: { code?: string, message?: string } }
    code = body.error?.code ?? code
    message = body.error?.message ?? message
  } catch { /* not JSON: a proxy or a crash page */ }
  if (code === 'license_expired') return new FatalError('Your rental has expired: rent it again to keep watching.', code)
  if (code === 'license_foreign') return new FatalError('This rental belongs to another account.', code)
  if (code === 'no_regions') return new FatalError('No node serves your region yet, so there is nowhere to fetch from. Try again later.', 'no_region')
  if (res.status === 401) return new FatalError('Your session has ended: log in again.', 'unauthorized')
  if (res.status >= 500) return new FatalError(`main cannot serve the player just now (${message}). Try again later.`, 'main_unreachable')
  return new FatalError(message, code)
}

async function start (): Promise<void> {
  if (!('serviceWorker' in navigator)) throw new FatalError('This browser cannot run the player: it has no Service Worker support.', 'unsupported')
  statusEl.textContent = 'Starting the player…'
  trace('start')
  // the Service Worker, the browser's libp2p node, main's manifest and the first directive are got side by side
  const swReady = (async () => {
    await navigator.serviceWorker.register('/store/sw.js', { scope: '/store/' })
    await navigator.serviceWorker.ready
    if (navigator.serviceWorker.controller === null) {
      await new Promise<void>(resolve => { navigator.serviceWorker.addEventListener('controllerchange', () => { resolve() }, { once: true }) })
    }
    trace('sw-ready')
  })()

  const mainKey = fromBase64url(root.dataset.mainKey ?? '', 64)
  const privateKey = await loadOrCreateKey()
  const clientPeerId = peerIdFromPrivateKey(privateKey).toString()
  root.dataset.peer = clientPeerId
  root.dataset.media = `/store/media/${licenseId}/${tab}`

  const askDirective = async (): Promise<DirectiveGrant> => {
    const r = await callMain('/store/api/directives', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify({ licenseId, clientPeerId })
    })
    if (!r.ok) throw await errorOf(r)
    const { directive: text, contentKey: sealed } = await r.json() as { directive: string, contentKey?: unknown }
    const bytes = fromText(text, MAX_DOCUMENT_BYTES.directive)
    const directive = verifyDirective(bytes, { publicKey: mainKey, now: Date.now(), clientPeerId, itemId, licenseId, impl: 'noble' })
    trace('directive', { peers: directive.peers.length })
    if (sealed === undefined) return { directive, bytes }
    // the key was sealed to this browser's own key (IndexedDB): its Ed25519 seed is the first half of libp2p's raw form
    try {
      return { directive, bytes, contentKey: openContentKey(sealed, { seed: privateKey.raw.slice(0, 32), clientPeerId, licenseId }) }
    } catch (err) {
      throw new FatalError(`The key main sent for this item does not open here (${(err as Error).message}). Reload the page.`, 'content_key')
    }
  }
  let first: Promise<DirectiveGrant> | undefined = askDirective()
  first.catch(() => {}) // its failure is the engine's to show, when it starts
  const newDirective = async (): Promise<DirectiveGrant> => {
    const p = first ?? askDirective()
    first = undefined
    return await p
  }

  const manifestReady = (async () => {
    const res = await callMain(`/v1/items/${itemId}`, {})
    if (!res.ok) throw await errorOf(res)
    const { manifest: envelope } = await res.json() as { manifest: string }
    const m = verifyManifest(fromText(envelope), { publicKey: mainKey, itemId, impl: 'noble' })
    trace('manifest', { chunks: m.chunkCount })
    return m
  })()
  const nodeReady = createLibp2p({
    privateKey,
    addresses: { listen: [] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // the directive names the nodes to dial; on a private network or loopback they have private, plain ws addresses
    connectionGater: { denyDialMultiaddr: () => false }
  }).then(n => { trace('libp2p-ready'); return n })
  const [, node, manifest] = await Promise.all([swReady, nodeReady, manifestReady])

  const verifiedEl = document.getElementById('verified') as HTMLElement
  const sourcesEl = document.getElementById('sources') as HTMLElement
  const engine = new PlayerEngine({
    node,
    manifest,
    newDirective,
    onEvent: event,
    onStats: (s) => {
      verifiedEl.textContent = `${(s.verifiedBytes / 1048576).toFixed(1)} MiB in ${s.verifiedChunks} chunks`
      sourcesEl.textContent = s.sources.join(', ') || 'none'
      root.dataset.verifiedBytes = String(s.verifiedBytes)
      root.dataset.verifiedChunks = String(s.verifiedChunks)
    },
    onFatal: fatal
  })
  ;(globalThis as unknown as { reelnetPlayer: unknown }).reelnetPlayer = engine

  // the Service Worker's ranges, answered a piece (at most one chunk) at a time: the first piece as soon as
  // its chunk is verified, each next one when the worker pulls (the browser reads on); see sw.ts
  navigator.serviceWorker.addEventListener('message', (m: MessageEvent) => {
    const msg = m.data as { type?: string, licenseId?: string, tab?: string, start?: number, end?: number | null, sentAt?: number }
    const port = m.ports[0]
    if (msg?.type !== 'reelnet-range' || msg.licenseId !== licenseId || msg.tab !== tab || port === undefined) return
    const start = Number(msg.start)
    if (!Number.isSafeInteger(start) || start < 0 || start >= manifest.size) {
      port.postMessage({ ok: false, status: 416, message: 'range not satisfiable', size: manifest.size })
      return
    }
    const askedEnd = msg.end === undefined || msg.end === null ? manifest.size - 1 : Number(msg.end)
    if (!Number.isSafeInteger(askedEnd)) { port.postMessage({ ok: false, status: 416, message: 'range not satisfiable', size: manifest.size }); return }
    const end = Math.min(askedEnd, manifest.size - 1)
    const id = Math.floor(start / manifest.chunkSize)
    trace('range', { start, end: msg.end ?? null, chunk: id, swToPageMs: wallMs() - Number(msg.sentAt) })
    const dropped = new AbortController()
    let at = start
    const send = (first: boolean): void => {
      const i = Math.floor(at / manifest.chunkSize)
      engine.chunk(i, dropped.signal).then(chunk => {
        if (dropped.signal.aborted) return
        const from = at - i * manifest.chunkSize
        // a copy: the transfer detaches it, and the engine keeps its own
        const bytes = chunk.slice(from, Math.min(chunk.length, end + 1 - i * manifest.chunkSize))
        at += bytes.length
        const last = at > end
        trace(first ? 'answered' : 'piece', { start, chunk: i, bytes: bytes.length })
        port.postMessage(first ? { ok: true, start, end, size: manifest.size, type: 'video/mp4', bytes: bytes.buffer, last } : { ok: true, bytes: bytes.buffer, last }, [bytes.buffer])
        if (last) port.close()
      }, (err: Error) => {
        if (dropped.signal.aborted) return
        port.postMessage({ ok: false, status: 503, message: err.message })
        port.close()
      })
    }
    port.onmessage = (p: MessageEvent) => {
      const t = (p.data as { type?: string })?.type
      if (t === 'pull') send(false)
      if (t === 'cancel') { trace('range-dropped', { start, at }); dropped.abort(); port.close() }
    }
    send(true)
  })

  await engine.start()
  if (root.dataset.state === 'stopped') return
  statusEl.textContent = 'Loading…'
  video.addEventListener('playing', () => { statusEl.textContent = 'Playing.' })
  video.addEventListener('waiting', () => { statusEl.textContent = 'Fetching…' })
  for (const e of ['seeking', 'seeked', 'playing', 'waiting', 'loadeddata', 'canplay'] as const) video.addEventListener(e, () => { trace(`video-${e}`, { currentTime: video.currentTime }) })
  video.addEventListener('error', () => {
    const e = video.error
    if (root.dataset.state === 'stopped') return
    event('media', `The video could not play: ${e?.message ?? `media error ${e?.code ?? ''}`}`)
    problemEl.hidden = false
    problemEl.textContent = `The video could not play (${e?.message ?? `media error ${e?.code ?? ''}`}).`
  })
  video.src = `/store/media/${licenseId}/${tab}`
  trace('src')
  root.dataset.state = 'ready'
  // pressing Watch means play; a browser that wants a gesture for sound gets the play button instead
  video.play().catch(() => { if (root.dataset.state !== 'stopped') statusEl.textContent = 'Ready: press play.' })
}

start().catch((err: unknown) => { fatal(err instanceof Error ? err : new Error(String(err))) })
