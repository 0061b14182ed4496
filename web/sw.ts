/**
 * The player's Service Worker (scope /store/). It answers the <video>
 * element's requests for /store/media/<licenseId> with exactly the bytes of
 * the Range asked for (206, Content-Range), which it gets from the page over
 * a MessageChannel: libp2p lives in the page (a Service Worker has no
 * RTCPeerConnection, and the page owns the verified chunks), so the worker
 * never holds a byte that was not verified. Everything else passes through.
 *
 * The answer is a stream: the status and the first piece (the rest of the
 * chunk the range starts in) go as soon as that one chunk is verified, and
 * each further piece (a chunk) is asked of the page only when the browser
 * reads on (pull), so an open-ended range after a seek costs one chunk
 * before its first frame, not the whole range; when the browser drops the
 * request (another seek) the page is told and stops waiting for it.
 */

interface FetchEventLike extends Event {
  request: Request
  clientId: string
  respondWith (r: Promise<Response> | Response): void
}
interface ClientLike { id: string, url: string, postMessage (msg: unknown, transfer: Transferable[]): void }
interface SwScope {
  addEventListener (type: 'fetch', fn: (e: FetchEventLike) => void): void
  addEventListener (type: 'install' | 'activate', fn: (e: Event & { waitUntil (p: Promise<unknown>): void }) => void): void
  skipWaiting (): Promise<void>
  clients: { claim (): Promise<void>, get (id: string): Promise<ClientLike | undefined>, matchAll (o: { type: 'window' }): Promise<ClientLike[]> }
}

const sw = self as unknown as SwScope
/** /store/media/<licenseId>/<tab>: the tab's own id, so two tabs watching one rental each get their own bytes. */
const MEDIA_PATH = /^\/store\/media\/([0-9a-f-]{36})\/([A-Za-z0-9_-]{1,64})$/
/** The page must answer a range within this long (it may be fetching the chunks). */
const PAGE_ANSWER_TIMEOUT_MS = 60_000

/** The page's first answer: the status line's facts and the first piece of the body. */
interface RangeAnswer { ok: true, start: number, end: number, size: number, bytes: ArrayBuffer, type: string, last: boolean }
/** Each further piece, in order, one per pull. */
interface RangePiece { ok: true, bytes: ArrayBuffer, last: boolean }
interface RangeRefusal { ok: false, status: number, message: string, size?: number }

sw.addEventListener('install', (e) => { e.waitUntil(sw.skipWaiting()) })
sw.addEventListener('activate', (e) => { e.waitUntil(sw.clients.claim()) })

function parseRange (header: string | null): { start: number, end: number | undefined } | undefined {
  if (header === null) return { start: 0, end: undefined }
  const m = /^bytes=(\d{1,15})-(\d{0,15})$/.exec(header.trim())
  if (m === null) return undefined
  const start = Number(m[1])
  const end = m[2] === '' ? undefined : Number(m[2])
  if (end !== undefined && end < start) return undefined
  return { start, end }
}

/** The window clients that may be the player: the request's own client when the browser names it, else every watch page of this rental. */
async function candidates (e: FetchEventLike, licenseId: string): Promise<ClientLike[]> {
  if (e.clientId !== '') {
    const c = await sw.clients.get(e.clientId)
    if (c !== undefined) return [c]
  }
  const all = await sw.clients.matchAll({ type: 'window' })
  return all.filter(c => new URL(c.url).pathname === `/store/watch/${licenseId}`)
}

async function answer (e: FetchEventLike, licenseId: string, tab: string): Promise<Response> {
  const range = parseRange(e.request.headers.get('range'))
  if (range === undefined) return new Response('bad Range', { status: 416 })
  const pages = await candidates(e, licenseId)
  if (pages.length === 0) return new Response('the player page is not open', { status: 503 })
  // each candidate gets its own channel; only the tab whose id is in the URL answers
  const channels: MessageChannel[] = []
  const sentAt = performance.timeOrigin + performance.now()
  const replies = pages.map(page => {
    const channel = new MessageChannel()
    channels.push(channel)
    const reply = new Promise<{ answer: RangeAnswer | RangeRefusal, port: MessagePort }>((resolve) => { channel.port1.onmessage = (m) => { resolve({ answer: m.data as RangeAnswer | RangeRefusal, port: channel.port1 }) } })
    page.postMessage({ type: 'reelnet-range', licenseId, tab, start: range.start, end: range.end, sentAt }, [channel.port2])
    return reply
  })
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<{ answer: RangeRefusal, port: undefined }>((resolve) => { timer = setTimeout(() => { resolve({ answer: { ok: false, status: 504, message: 'the player did not answer in time' }, port: undefined }) }, PAGE_ANSWER_TIMEOUT_MS) })
  const { answer: r, port } = await Promise.race([...replies, timeout])
  clearTimeout(timer)
  for (const c of channels) if (c.port1 !== port) c.port1.close()
  if (!r.ok) {
    port?.close()
    const headers: Record<string, string> = { 'Content-Type': 'text/plain' }
    if (r.status === 416 && r.size !== undefined) headers['Content-Range'] = `bytes */${r.size}`
    return new Response(r.message, { status: r.status, headers })
  }
  if (r.last) port?.close()
  return new Response(r.last || port === undefined ? r.bytes : streamFrom(port, r.bytes), {
    status: 206,
    headers: {
      'Content-Type': r.type,
      'Content-Length': String(r.end - r.start + 1),
      'Content-Range': `bytes ${r.start}-${r.end}/${r.size}`,
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-store'
    }
  })
}

/** The body after the first piece: one pull, one piece from the page. */
function streamFrom (port: MessagePort, first: ArrayBuffer): ReadableStream<Uint8Array> {
  let onPiece: ((p: RangePiece | RangeRefusal) => void) | undefined
  port.onmessage = (m) => { onPiece?.(m.data as RangePiece | RangeRefusal) }
  return new ReadableStream<Uint8Array>({
    start (c) { c.enqueue(new Uint8Array(first)) },
    async pull (c) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { onPiece = undefined; c.error(new Error('the player did not answer in time')); port.close(); resolve() }, PAGE_ANSWER_TIMEOUT_MS)
        onPiece = (p) => {
          clearTimeout(timer)
          onPiece = undefined
          if (!p.ok) { c.error(new Error(p.message)); port.close() } else {
            c.enqueue(new Uint8Array(p.bytes))
            if (p.last) { c.close(); port.close() }
          }
          resolve()
        }
        port.postMessage({ type: 'pull' })
      })
    },
    cancel () { port.postMessage({ type: 'cancel' }); port.close() }
  })
}

sw.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url)
  if (url.origin !== location.origin) return
  const m = MEDIA_PATH.exec(url.pathname)
  if (m === null) return
  e.respondWith(answer(e, m[1]!, m[2]!))
})
