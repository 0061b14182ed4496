/**
 * The player's download engine: verified chunks from the sources a signed
 * directive names, several at once, the chunks a read (a seek) needs first
 * and then a read-ahead window. A chunk is used only after its SHA-256
 * (WebCrypto) matches the signed manifest; a source that sends a bad chunk is
 * dropped for the rest of the session, a source that fails is retried after
 * a back-off and given up after a few failures, and when every source is gone
 * or the directive runs out, main is asked for a new one.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { contentKeyOf } from '../protocol/item-key.ts'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Directive, Manifest } from '../protocol/types.ts'
import { fetchChunks, SourceError } from './chunk-fetch.ts'
import { cryptChunk, placeOf, webCryptoAesCtr } from '../protocol/content-crypto.ts'
import { trace } from './trace.ts'

/** Requests open to one source at once (each one chunk): below the 16 chunk streams a node answers per peer. */
export const REQUESTS_PER_SOURCE = 4
/**
 * Of those, requests for read-ahead (chunks nobody waits for yet): fewer, because when a seek cancels them
 * the bytes already on their way must still be received and decrypted before the seek's chunk gets through.
 */
export const READ_AHEAD_PER_SOURCE = 2
/** Chunks fetched ahead of the last one read, so playback does not wait on every chunk. */
export const READ_AHEAD_CHUNKS = 12
/** Verified chunks kept in memory (bytes); beyond this the ones farthest from the playhead go. */
export const MAX_CACHED_BYTES = 256 * 1024 * 1024
/** A chunk request that has not finished in this long is a stalled source. */
export const CHUNK_TIMEOUT_MS = 15_000
/** A source that failed this many times in a row is given up on (until a new directive names it again). */
export const MAX_SOURCE_FAILURES = 3
/** First retry delay after a failure, doubled each time. */
export const RETRY_BASE_MS = 500
/** New directives asked for because every source failed, with no chunk verified in between, before giving up. */
export const MAX_BARREN_DIRECTIVES = 2
/** Ask for a new directive this long before the current one expires. */
export const DIRECTIVE_REFRESH_MARGIN_MS = 30_000
/** While main cannot be reached, ask it again this often (playback goes on with the directive in hand until it ends). */
export const MAIN_RETRY_MS = 2_000

export type EventKind = 'directive' | 'tampered' | 'source-failed' | 'source-dropped' | 'no-source' | 'expired' | 'info' | 'main-unreachable' | 'main-back'

/** `contentKey`: an encrypted item's key, opened from main's sealed box with this browser's own key. */
export interface DirectiveGrant { directive: Directive, bytes: Uint8Array, contentKey?: Uint8Array }

/** WebCrypto's AES-CTR: chunks of an encrypted item are decrypted in the page, after their hash matched. */
const aesCtr = webCryptoAesCtr()

export interface EngineOptions {
  node: Libp2p
  manifest: Manifest
  /** Asks main for a fresh directive (verified); throws a FatalError the page shows. */
  newDirective: () => Promise<DirectiveGrant>
  onEvent: (kind: EventKind, text: string) => void
  onStats: (s: { verifiedBytes: number, verifiedChunks: number, sources: string[] }) => void
  onFatal: (err: Error) => void
  now?: () => number
}

/** Stops playback with a message for the page (expired licence, no source, main unreachable…). */
export class FatalError extends Error {
  name = 'FatalError'
  constructor (message: string, readonly code: string) { super(message) }
}

interface Source {
  key: string
  peerId: PeerId
  role: string
  inflight: number
  failures: number
  retryAt: number
  dropped: boolean
  /** Chunks asked of it and verified from it (shown by sourceStates). */
  asked: number
  verified: number
}

interface Waiter { resolve: (bytes: Uint8Array) => void, reject: (err: Error) => void }
/** A chunk request in flight: its source, and the means to cancel it when a seek leaves it behind. */
interface Inflight { source: Source, cancel: AbortController }

export function shortPeer (id: string): string {
  return id.length > 14 ? `${id.slice(0, 8)}…${id.slice(-5)}` : id
}

async function sha256 (bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>))
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!
  return d === 0
}

export class PlayerEngine {
  readonly #o: EngineOptions
  readonly #m: Manifest
  readonly #now: () => number
  readonly #chunks = new Map<number, Uint8Array>()
  #cachedBytes = 0
  readonly #inflight = new Map<number, Inflight>()
  readonly #waiters = new Map<number, Waiter[]>()
  /** Indexes a pending read needs, most recent read first (a seek jumps the queue). */
  #urgent: number[] = []
  /** A seek's chunks not yet verified: read-ahead waits for them. At the start, the first chunk (the moov of a faststart MP4) comes alone. */
  #hold = new Set<number>([0])
  #cursor = 0
  #sources: Source[] = []
  #grant: DirectiveGrant | undefined
  #refreshing: Promise<void> | undefined
  #refreshTimer: ReturnType<typeof setTimeout> | undefined
  /** While main cannot be reached: when the directive in hand ends, playback stops with a message. */
  #mainDownTimer: ReturnType<typeof setTimeout> | undefined
  #pumpTimer: ReturnType<typeof setTimeout> | undefined
  #fatal: Error | undefined
  #barren = 0
  readonly #stop = new AbortController()
  verifiedBytes = 0
  verifiedChunks = 0

  constructor (o: EngineOptions) {
    this.#o = o
    this.#m = o.manifest
    this.#now = o.now ?? Date.now
  }

  get size (): number { return this.#m.size }

  /** When the directive the player fetches with ends (ms since the epoch; 0 before the first). */
  get directiveExpiresAt (): number { return this.#grant?.directive.expiresAt ?? 0 }

  /** The sources as the engine sees them (for the page's tests and a curious customer's console). */
  sourceStates (): Array<{ peerId: string, role: string, inflight: number, failures: number, dropped: boolean, asked: number, verified: number }> {
    return this.#sources.map(s => ({ peerId: s.key, role: s.role, inflight: s.inflight, failures: s.failures, dropped: s.dropped, asked: s.asked, verified: s.verified }))
  }

  async start (): Promise<void> {
    await this.#refresh('start')
  }

  stop (): void {
    this.#stop.abort()
    clearTimeout(this.#refreshTimer)
    clearTimeout(this.#pumpTimer)
    clearTimeout(this.#mainDownTimer)
  }

  /** Bytes [start, end] (inclusive), verified. */
  async read (start: number, end: number): Promise<Uint8Array> {
    const cs = this.#m.chunkSize
    const first = Math.floor(start / cs)
    const last = Math.floor(end / cs)
    const need: number[] = []
    for (let i = first; i <= last; i++) need.push(i)
    const chunks = await Promise.all(this.#want(need))
    const out = new Uint8Array(end - start + 1)
    need.forEach((i, k) => {
      const bytes = chunks[k]!
      const at = i * cs
      const from = Math.max(start, at)
      const to = Math.min(end + 1, at + bytes.length)
      out.set(bytes.subarray(from - at, to - at), from - start)
    })
    return out
  }

  /**
   * Chunk `index`, verified: asked for before any read-ahead. The Service
   * Worker's streamed answers read this way, one chunk at a time; when the
   * browser drops the request, `signal` withdraws the wait (the chunk is no
   * longer urgent, and a later seek may cancel its fetch).
   */
  async chunk (index: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.#m.chunkCount) throw new RangeError(`no chunk ${index}`)
    return await this.#want([index], signal)[0]!
  }

  /**
   * One promise per index, in order. The missing ones go to the front of the
   * queue (the newest read first), read-ahead continues after the last. A
   * read that does not start where the last one ended and whose first chunk
   * is neither held nor coming is a seek: every request in flight that nobody waits for is
   * cancelled and read-ahead holds off until the seek's chunks are verified,
   * so they have the sources' whole bandwidth (measured: with eight requests
   * sharing a connection, the seek's chunk came in last of the eight).
   */
  #want (need: number[], signal?: AbortSignal): Array<Promise<Uint8Array>> {
    if (this.#fatal !== undefined) { const err = this.#fatal; return need.map(async () => { throw err }) }
    if (signal?.aborted === true) return need.map(async () => { throw signal.reason as Error })
    const first = need[0]!
    const last = need[need.length - 1]!
    const missing = need.filter(i => !this.#chunks.has(i))
    // (a chunk already coming is no seek: two streams read in turn must not cancel each other's read-ahead)
    if (missing[0] === first && first !== this.#cursor && !this.#inflight.has(first)) {
      trace('seek', { index: first, from: this.#cursor, inflight: [...this.#inflight.keys()] })
      this.#cancelStale(new Set(need))
      this.#hold = new Set(missing)
    }
    this.#cursor = last + 1
    this.#urgent = [...missing, ...this.#urgent.filter(i => !missing.includes(i))]
    const out = need.map(i => {
      const have = this.#chunks.get(i)
      if (have !== undefined) return Promise.resolve(have)
      trace('want', { index: i, inflight: this.#inflight.has(i) })
      return new Promise<Uint8Array>((resolve, reject) => {
        const waiter: Waiter = { resolve, reject }
        const list = this.#waiters.get(i) ?? []
        list.push(waiter)
        this.#waiters.set(i, list)
        signal?.addEventListener('abort', () => {
          const rest = (this.#waiters.get(i) ?? []).filter(w => w !== waiter)
          if (rest.length > 0) this.#waiters.set(i, rest)
          else if (this.#waiters.delete(i)) {
            this.#urgent = this.#urgent.filter(x => x !== i)
            this.#hold.delete(i)
            // a request the browser dropped during a seek: its chunk no longer competes with the seek's
            if (this.#hold.size > 0) this.#cancelStale(this.#hold)
            this.#pump()
          }
          reject(signal.reason as Error)
        }, { once: true })
      })
    })
    this.#evict(first)
    this.#pump()
    return out
  }

  /** Cancels the requests in flight for chunks nobody waits for, but those in `keep`. */
  #cancelStale (keep: Set<number>): void {
    for (const [i, f] of this.#inflight) {
      if (this.#waiters.has(i) || keep.has(i)) continue
      trace('cancel', { index: i, source: f.source.key })
      f.cancel.abort()
      // free at once for whoever wants it next; the source's slot frees when its stream has closed
      this.#inflight.delete(i)
    }
  }

  #usable (): Source[] {
    return this.#sources.filter(s => !s.dropped && s.failures < MAX_SOURCE_FAILURES)
  }

  #nextIndex (readAhead: boolean): number | undefined {
    const free = (i: number): boolean => i >= 0 && i < this.#m.chunkCount && !this.#chunks.has(i) && !this.#inflight.has(i)
    this.#urgent = this.#urgent.filter(i => !this.#chunks.has(i))
    const u = this.#urgent.find(free)
    if (u !== undefined) return u
    if (this.#hold.size > 0) return [...this.#hold].find(free)
    if (!readAhead) return undefined
    for (let i = this.#cursor; i < Math.min(this.#m.chunkCount, this.#cursor + READ_AHEAD_CHUNKS); i++) if (free(i)) return i
    return undefined
  }

  #pump (): void {
    if (this.#fatal !== undefined || this.#stop.signal.aborted || this.#grant === undefined) return
    const now = this.#now()
    const usable = this.#usable()
    if (usable.length === 0) {
      if (this.#waiters.size > 0 || this.#urgent.length > 0) void this.#refresh('no-source')
      return
    }
    let earliest = Infinity
    // directive order is main's ranking (edges first, parents last): fill better sources first
    for (const s of usable) {
      if (s.retryAt > now) { earliest = Math.min(earliest, s.retryAt); continue }
      while (s.inflight < REQUESTS_PER_SOURCE) {
        const i = this.#nextIndex(s.inflight < READ_AHEAD_PER_SOURCE)
        if (i === undefined) break
        this.#fetch(s, i)
      }
    }
    if (earliest !== Infinity) {
      clearTimeout(this.#pumpTimer)
      this.#pumpTimer = setTimeout(() => { this.#pump() }, Math.max(10, earliest - now))
    }
  }

  #fetch (s: Source, index: number): void {
    const grant = this.#grant
    if (grant === undefined) return
    s.inflight++
    s.asked++
    const cancel = new AbortController()
    this.#inflight.set(index, { source: s, cancel })
    trace('fetch', { index, source: s.key, role: s.role, urgent: this.#waiters.has(index) })
    const signal = AbortSignal.any([this.#stop.signal, cancel.signal, AbortSignal.timeout(CHUNK_TIMEOUT_MS)])
    let bad = false
    fetchChunks(this.#o.node, s.peerId, { itemId: contentKeyOf(this.#m.itemId, this.#m.version), indexes: [index], credential: grant.bytes }, signal, async (i, bytes) => {
      const expected = this.#m.chunkHashes[i]
      if (expected === undefined || !sameBytes(await sha256(bytes), expected)) {
        bad = true
        throw new SourceError(`chunk ${i} failed verification`, 'tampered')
      }
      s.verified++
      // verified ciphertext only reaches the cipher; what the player gets is the plaintext
      const key = this.#grant?.contentKey
      if (this.#m.encryption !== undefined && key === undefined) throw new FatalError('main sent no key for this encrypted item.', 'content_key')
      this.#store(i, this.#m.encryption === undefined || key === undefined ? bytes : await cryptChunk(aesCtr, key, placeOf(this.#m), i, bytes))
    }).then(() => {
      s.failures = 0
    }, (err: Error) => {
      // cancelled by a seek or by stop(): not the source's fault
      if (this.#stop.signal.aborted || cancel.signal.aborted) return
      if (bad) {
        s.dropped = true
        this.#o.onEvent('tampered', `Chunk ${index} from ${s.role} ${shortPeer(s.key)} failed verification: that source was dropped and the chunk is fetched from another.`)
        this.#stats()
        return
      }
      const code = err instanceof SourceError ? err.code : 'unreachable'
      if (code === 'unauthorized') {
        // the directive may have run out: a new one, then retry
        s.retryAt = this.#now() + RETRY_BASE_MS
        void this.#refresh('refused')
        return
      }
      s.failures++
      s.retryAt = this.#now() + RETRY_BASE_MS * 2 ** (s.failures - 1)
      if (s.failures >= MAX_SOURCE_FAILURES) {
        this.#o.onEvent('source-failed', `${s.role} ${shortPeer(s.key)} stopped answering (${err.message}); using the other sources.`)
        this.#stats()
      }
    }).finally(() => {
      s.inflight--
      if (this.#inflight.get(index)?.cancel === cancel) this.#inflight.delete(index)
      this.#pump()
    })
  }

  #store (i: number, bytes: Uint8Array): void {
    let own = this.#chunks.get(i)
    if (own === undefined) {
      own = bytes.slice()
      this.#chunks.set(i, own)
      this.#cachedBytes += own.length
      this.verifiedBytes += own.length
      this.verifiedChunks++
      this.#barren = 0
      this.#hold.delete(i)
      trace('verified', { index: i, waited: this.#waiters.has(i) })
    }
    const ws = this.#waiters.get(i)
    this.#waiters.delete(i)
    for (const w of ws ?? []) w.resolve(own)
    this.#stats()
  }

  #evict (near: number): void {
    if (this.#cachedBytes <= MAX_CACHED_BYTES) return
    const far = [...this.#chunks.keys()].sort((a, b) => Math.abs(b - near) - Math.abs(a - near))
    for (const i of far) {
      if (this.#cachedBytes <= MAX_CACHED_BYTES) break
      const b = this.#chunks.get(i)!
      this.#chunks.delete(i)
      this.#cachedBytes -= b.length
    }
  }

  #stats (): void {
    this.#o.onStats({ verifiedBytes: this.verifiedBytes, verifiedChunks: this.verifiedChunks, sources: this.#usable().map(s => `${s.role} ${shortPeer(s.key)}`) })
  }

  #fail (err: Error): void {
    if (this.#fatal !== undefined) return
    this.#fatal = err
    for (const ws of this.#waiters.values()) for (const w of ws) w.reject(err)
    this.#waiters.clear()
    this.stop()
    this.#o.onFatal(err)
  }

  /**
   * main cannot be reached but the directive in hand is still valid: the
   * nodes keep serving on it, so playback goes on, main is asked again every
   * MAIN_RETRY_MS, and when the directive ends the page stops with a message.
   */
  #playOn (until: number): void {
    const at = `${new Date(until).toISOString().slice(11, 19)} UTC`
    if (this.#mainDownTimer === undefined) {
      this.#o.onEvent('main-unreachable', `main cannot be reached: playing on with the directive in hand, valid until ${at}, and asking main again.`)
      this.#mainDownTimer = setTimeout(() => {
        this.#fail(new FatalError(`main cannot be reached, and the directive the player fetched with ended at ${at}: no node may serve this rental without a new one. Check the connection and reload the page.`, 'main_unreachable'))
      }, Math.max(0, until - this.#now()))
    }
    clearTimeout(this.#refreshTimer)
    this.#refreshTimer = setTimeout(() => { void this.#refresh('retry') }, Math.min(MAIN_RETRY_MS, Math.max(0, until - this.#now())))
  }

  async #refresh (why: 'start' | 'expiring' | 'refused' | 'no-source' | 'retry'): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        if (why === 'no-source' && ++this.#barren > MAX_BARREN_DIRECTIVES) {
          throw new FatalError(`No source can be reached: ${this.#sources.map(s => `${s.role} ${shortPeer(s.key)}`).join(', ') || 'main named none'} did not answer. Try again later.`, 'no_source')
        }
        const grant = await this.#o.newDirective()
        if (this.#mainDownTimer !== undefined) {
          clearTimeout(this.#mainDownTimer)
          this.#mainDownTimer = undefined
          this.#o.onEvent('main-back', 'main answers again.')
        }
        const dropped = new Set(this.#sources.filter(s => s.dropped).map(s => s.key))
        const sources: Source[] = []
        for (const p of grant.directive.peers) {
          const ws = p.addrs.filter(a => a.includes('/ws'))
          if (ws.length === 0) continue
          const peerId = peerIdFromString(p.peerId)
          await this.#o.node.peerStore.merge(peerId, { multiaddrs: ws.map(a => multiaddr(a)) })
          sources.push({ key: p.peerId, peerId, role: p.role, inflight: 0, failures: 0, retryAt: 0, dropped: dropped.has(p.peerId), asked: 0, verified: 0 })
        }
        const before = this.#sources.filter(s => s.inflight > 0)
        if (this.#m.encryption !== undefined && grant.contentKey === undefined) throw new FatalError('main sent no key for this encrypted item, so it cannot play here.', 'content_key')
        this.#grant = grant
        // requests in flight finish on their old source objects; new requests use the new list
        this.#sources = sources.map(n => before.find(b => b.key === n.key && !b.dropped) ?? n)
        const usable = this.#usable()
        if (why === 'no-source' && usable.length === 0) throw new FatalError(`No source can be reached: ${grant.directive.peers.length === 0 ? 'main named no node for this item' : 'none of the nodes main named can be reached from a browser (WebSockets)'}. Try again later.`, 'no_source')
        if (usable.length === 0) throw new FatalError(grant.directive.peers.length === 0 ? 'No node serves your region yet: main named no source for this item. Try again later.' : 'No source can be reached: none of the nodes main named listens on WebSockets, which a browser needs.', 'no_source')
        this.#o.onEvent('directive', `Directive ${grant.directive.directiveId.slice(0, 8)} from main: ${usable.map(s => `${s.role} ${shortPeer(s.key)}`).join(', ')}; valid until ${new Date(grant.directive.expiresAt).toISOString().slice(11, 19)} UTC.`)
        this.#stats()
        clearTimeout(this.#refreshTimer)
        const ttl = grant.directive.expiresAt - this.#now()
        this.#refreshTimer = setTimeout(() => { void this.#refresh('expiring') }, Math.max(1_000, ttl - Math.min(DIRECTIVE_REFRESH_MARGIN_MS, ttl / 4)))
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err))
        const until = this.#grant?.directive.expiresAt ?? 0
        if (e instanceof FatalError && e.code === 'main_unreachable' && until > this.#now()) this.#playOn(until)
        else this.#fail(e)
      }
    })().finally(() => { this.#refreshing = undefined; this.#pump() })
    await this.#refreshing
  }
}
