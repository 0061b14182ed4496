/**
 * `reelnet play`: the item on a local HTTP port while it downloads, with
 * the Range semantics media players rely on (RFC 9110: 206 with
 * Content-Range, 416 with `bytes *\/size`, Accept-Ranges, exact
 * Content-Length, HEAD). A request moves the chunks it needs to the front of
 * the download queue (a seek jumps the queue) and reads ahead of itself;
 * bytes go out only once their chunk is verified and on disk.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Manifest } from '../../protocol/types.ts'
import type { Scheduler } from '../download/engine.ts'
import type { PartFile } from './resume.ts'
import { cryptAt, placeOf } from '../../protocol/content-crypto.ts'
import { nodeAesCtr } from '../../protocol/aes-ctr-node.ts'

/** Chunks fetched ahead of the one a response is sending: keeps a player's buffer filling. */
export const READAHEAD_CHUNKS = 8
/** A response waiting this long for one chunk gives up (the player retries). */
export const CHUNK_WAIT_TIMEOUT_MS = 60_000
/** Headers longer than this are refused by node:http itself; a Range header longer than this is not one we parse. */
export const MAX_RANGE_HEADER = 256

export interface ByteRange { start: number, end: number }

/** The licence ended while a response was being sent. */
class LicenceEndedError extends Error { name = 'LicenceEndedError' }

/**
 * Parse a Range header for an item of `size` bytes: a single range, or
 * undefined (serve the whole item), or 'unsatisfiable'. Multiple ranges are
 * answered with the whole item, which RFC 9110 allows.
 */
export function parseRange (header: string | undefined, size: number): ByteRange | undefined | 'unsatisfiable' {
  if (header === undefined || header.length > MAX_RANGE_HEADER) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null) return undefined
  const [, a = '', b = ''] = m
  if (a === '' && b === '') return undefined
  if (a === '') {
    const n = Number(b)
    if (n === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(a)
  if (start >= size) return 'unsatisfiable'
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1)
  if (end < start) return undefined // syntactically invalid: ignore the header
  return { start, end }
}

/** The media type a title's extension names, or undefined when it names none we know. */
export function contentTypeOfTitle (title: string): string | undefined {
  const ext = /\.([a-z0-9]+)$/i.exec(title)?.[1]?.toLowerCase()
  const types: Record<string, string> = { mp4: 'video/mp4', m4v: 'video/mp4', webm: 'video/webm', mkv: 'video/x-matroska', mov: 'video/quicktime', mp3: 'audio/mpeg', ts: 'video/mp2t' }
  return ext !== undefined ? types[ext] : undefined
}

/** Bytes of an item's start that sniffing reads: an MP4 `ftyp` box and a Matroska EBML header's DocType both sit in the first few dozen. */
export const SNIFF_BYTES = 64
/** An MPEG transport stream packet: sync byte 0x47 every 188 bytes. */
const TS_PACKET = 188

/**
 * The container an item's first bytes show (MP4/QuickTime `ftyp`, WebM or Matroska EBML with its DocType,
 * MPEG-TS sync bytes, MP3 with an ID3 tag), for a title whose name says nothing; undefined if none.
 */
export function sniffContainer (head: Uint8Array): string | undefined {
  const ascii = (from: number, to: number): string => String.fromCharCode(...head.subarray(from, to))
  if (head.length >= 12 && ascii(4, 8) === 'ftyp') return ascii(8, 12) === 'qt  ' ? 'video/quicktime' : 'video/mp4'
  if (head.length >= 4 && head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) {
    // EBML header: the DocType element (0x42 0x82) says webm or matroska
    const text = ascii(4, Math.min(head.length, SNIFF_BYTES))
    if (text.includes('webm')) return 'video/webm'
    return 'video/x-matroska'
  }
  if (head.length > TS_PACKET && head[0] === 0x47 && head[TS_PACKET] === 0x47) return 'video/mp2t'
  if (head.length >= 3 && ascii(0, 3) === 'ID3') return 'audio/mpeg'
  return undefined
}

export interface PlayServerOptions {
  manifest: Manifest
  scheduler: Scheduler
  part: PartFile
  port?: number
  host?: string
  /**
   * An encrypted item's content key while the licence is valid, undefined after (then every request is 403 with
   * `endedMessage`). The part file holds ciphertext; each range is decrypted on its way out (CTR seeks per chunk).
   */
  contentKey?: () => Uint8Array | undefined
  /** True once the licence has ended: 403, for an encrypted item and a plaintext one alike. */
  ended?: () => boolean
  endedMessage?: () => string
}

export interface PlayServer {
  server: Server
  url: string
  close: () => Promise<void>
}

export async function startPlayServer (opts: PlayServerOptions): Promise<PlayServer> {
  const { manifest, scheduler, part } = opts
  const size = manifest.size
  const encrypted = manifest.encryption !== undefined
  const place = placeOf(manifest)
  /** The key now, or undefined when the licence has ended (or an encrypted item has none). */
  const keyNow = (): Uint8Array | undefined => opts.ended?.() === true ? undefined : opts.contentKey?.()
  const refused = (): boolean => opts.ended?.() === true || (encrypted && keyNow() === undefined)
  /** Bytes [offset, offset+length) of the item as the player must see them: decrypted when the item is encrypted. */
  async function readPlain (offset: number, length: number): Promise<Uint8Array> {
    const bytes = await part.read(offset, length)
    if (!encrypted) return bytes
    const key = keyNow()
    if (key === undefined) throw new LicenceEndedError()
    return await cryptAt(nodeAesCtr, key, place, offset, bytes)
  }
  const path = `/${encodeURIComponent(manifest.itemId)}`
  // a title without a known extension is typed by its first bytes (a browser downloads octet-stream instead of playing it)
  let contentType = contentTypeOfTitle(manifest.title)
  async function typeOfItem (signal: AbortSignal): Promise<string> {
    if (contentType !== undefined) return contentType
    if (size === 0) return 'application/octet-stream'
    if (!scheduler.isStored(0)) scheduler.prioritize(0, 0)
    await scheduler.waitFor(0, AbortSignal.any([signal, AbortSignal.timeout(CHUNK_WAIT_TIMEOUT_MS)]))
    contentType = sniffContainer(await readPlain(0, Math.min(size, TS_PACKET + 1, manifest.chunkSize))) ?? 'application/octet-stream'
    return contentType
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname !== path && url.pathname !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found; the item is at ${path}\n`)
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n')
      return
    }
    if (refused()) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
        .end(`${opts.endedMessage?.() ?? 'your licence for this item has ended'}\n`)
      return
    }
    const range = parseRange(req.headers.range, size)
    const typing = new AbortController()
    res.on('close', () => { typing.abort() })
    const common = { 'accept-ranges': 'bytes', 'content-type': await typeOfItem(typing.signal), 'cache-control': 'no-store' }
    if (range === 'unsatisfiable') {
      res.writeHead(416, { ...common, 'content-range': `bytes */${size}`, 'content-length': '0' }).end()
      return
    }
    const { start, end } = range ?? { start: 0, end: size - 1 }
    const length = size === 0 ? 0 : end - start + 1
    res.writeHead(range === undefined ? 200 : 206, {
      ...common,
      'content-length': String(length),
      ...(range !== undefined ? { 'content-range': `bytes ${start}-${end}/${size}` } : {})
    })
    if (req.method === 'HEAD' || length === 0) { res.end(); return }
    const ac = new AbortController()
    res.on('close', () => { ac.abort() })
    const first = Math.floor(start / manifest.chunkSize)
    const last = Math.floor(end / manifest.chunkSize)
    for (let i = first; i <= last && !ac.signal.aborted; i++) {
      if (!scheduler.isStored(i) || !scheduler.isStored(Math.min(last, i + READAHEAD_CHUNKS))) scheduler.prioritize(i, Math.min(manifest.chunkCount - 1, i + READAHEAD_CHUNKS))
      await scheduler.waitFor(i, AbortSignal.any([ac.signal, AbortSignal.timeout(CHUNK_WAIT_TIMEOUT_MS)]))
      const chunkStart = i * manifest.chunkSize
      const from = Math.max(start, chunkStart)
      const to = Math.min(end, chunkStart + manifest.chunkSize - 1)
      // the licence may end mid-response: the connection is cut (the next request gets the 403)
      if (refused()) { res.destroy(); return }
      const bytes = await readPlain(from, to - from + 1)
      if (!res.write(bytes)) await new Promise<void>(resolve => { res.once('drain', resolve); res.once('close', resolve) })
    }
    res.end()
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // headers are out already: cutting the connection is the only honest signal
      if (!res.headersSent) res.writeHead(503, { 'content-type': 'text/plain' }).end('download failed\n')
      else res.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const addr = server.address() as AddressInfo
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return {
    server,
    url: `http://${host}:${addr.port}${path}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
