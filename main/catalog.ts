/**
 * The catalog: items ingested from a byte stream into origin chunk files and
 * a signed manifest. Memory stays bounded whatever the item's size: the
 * stream is folded chunk by chunk and each chunk is written before more is
 * read. Ingests run one at a time (an admin operation that saturates the
 * disk anyway), which also makes the clean-up of a failed ingest safe.
 */
import type { Manifest } from '../protocol/types.ts'
import type { Signer } from '../protocol/keys.ts'
import { ManifestBuilder, DEFAULT_CHUNK_SIZE } from '../protocol/chunking.ts'
import { signManifest, verifyManifest } from '../protocol/documents.ts'
import { toText, fromText } from '../protocol/signing.ts'
import { cryptChunk, CONTENT_KEY_BYTES, CONTENT_ALG } from '../protocol/content-crypto.ts'
import { nodeAesCtr } from '../protocol/aes-ctr-node.ts'
import { toBase64url, fromBase64url } from '../protocol/encoding.ts'
import { randomBytes } from 'node:crypto'
import type { MainStore, ItemRecord } from './store.ts'
import type { OriginStore } from './origin.ts'
import { Lru } from './lru.ts'
import { invalid, notFound, tooLarge } from './errors.ts'
import { MAX_ITEM_BYTES, MAX_CHUNK_COUNT } from './limits.ts'

/** Parsed manifests kept in memory for chunk serving; a manifest of a large item is a few MiB, so only a few. */
export const MANIFEST_CACHE_ENTRIES = 64

/**
 * Chunk files written at once during an ingest: overlaps disk latency
 * (write + sync + rename) with reading and hashing, while holding at most
 * this many chunks in memory (4 × 16 MiB at the largest chunk size).
 */
export const MAX_INFLIGHT_CHUNK_WRITES = 4

export interface IngestResult { item: ItemRecord, created: boolean }

export interface IngestOptions {
  title: string
  chunkSize?: number
  declaredSize?: number
  /**
   * Encrypt: a fresh random content key and a random itemId, and the chunks main stores, nodes hold and peers
   * pass on are ciphertext (an encrypted ingest is never deduplicated). false: plaintext as before; the itemId
   * is then the Merkle root's, so the same bytes give the same item. Absent: main's encryptByDefault.
   */
  encrypt?: boolean
}

/** Bytes of an encrypted item's random itemId (hex): as long as a plaintext item's, so every itemId check holds. */
const ITEM_ID_BYTES = 16
/** Bytes of a content key's random keyId (base64url): unguessable, and names nothing about the key. */
const KEY_ID_BYTES = 16
/** Content keys kept in memory for sealing into directives (32 bytes each). */
export const CONTENT_KEY_CACHE_ENTRIES = 1024

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** The itemId: the first 16 bytes of the Merkle root in hex, so the same bytes (and chunk size) always give the same id. */
export function itemIdOf (merkleRoot: Uint8Array): string {
  return hex(merkleRoot.subarray(0, 16))
}

export class Catalog {
  readonly #store: MainStore
  readonly #origin: OriginStore
  readonly #signer: Signer
  readonly #now: () => number
  readonly #items = new Map<string, ItemRecord>()
  readonly #manifests = new Lru<string, Manifest>(MANIFEST_CACHE_ENTRIES)
  readonly #keys = new Lru<string, Uint8Array>(CONTENT_KEY_CACHE_ENTRIES)
  #ingesting: Promise<unknown> = Promise.resolve()
  readonly maxItemBytes: number
  /** Whether an ingest that does not say encrypts (`reelnet main --encrypt`). */
  readonly encryptByDefault: boolean

  constructor (store: MainStore, origin: OriginStore, signer: Signer, now: () => number, maxItemBytes = MAX_ITEM_BYTES, encryptByDefault = false) {
    this.maxItemBytes = maxItemBytes
    this.encryptByDefault = encryptByDefault
    this.#store = store
    this.#origin = origin
    this.#signer = signer
    this.#now = now
  }

  async load (): Promise<void> {
    for await (const item of this.#store.listItems()) this.#items.set(item.itemId, item)
  }

  /** Take in items another main ingested into a shared store, and storefront changes (description, poster) made there. */
  async reload (): Promise<void> {
    for await (const item of this.#store.listItems()) {
      const cur = this.#items.get(item.itemId)
      if (cur === undefined || JSON.stringify(cur) !== JSON.stringify(item)) this.#items.set(item.itemId, item)
    }
  }

  get (itemId: string): ItemRecord | undefined {
    return this.#items.get(itemId)
  }

  /**
   * The item, read from the store when this main has not seen it yet: with several mains on one database an item
   * ingested through another is known here only at the next reload (up to a second), and a customer who rents it
   * at once through this main must not get 404 meanwhile. Routes that name an item call this first.
   */
  async lookup (itemId: string): Promise<ItemRecord | undefined> {
    const known = this.#items.get(itemId)
    if (known !== undefined) return known
    const stored = await this.#store.getItem(itemId)
    if (stored !== undefined) this.#items.set(itemId, stored)
    return stored
  }

  list (): ItemRecord[] {
    return [...this.#items.values()].sort((a, b) => a.createdAt - b.createdAt || a.itemId.localeCompare(b.itemId))
  }

  /** Set or replace the storefront's description of an item (not part of the signed manifest). */
  async describe (itemId: string, description: string): Promise<ItemRecord> {
    const item = this.#items.get(itemId)
    if (item === undefined) throw notFound(`no item ${itemId}`)
    const next: ItemRecord = { ...item, description }
    await this.#store.putItem(next)
    this.#items.set(itemId, next)
    return next
  }

  /** Store an item's poster (type and bytes already checked by the route). */
  async setPoster (itemId: string, type: string, bytes: Uint8Array): Promise<void> {
    const item = this.#items.get(itemId)
    if (item === undefined) throw notFound(`no item ${itemId}`)
    const next: ItemRecord = { ...item, posterType: type }
    await this.#store.putPoster(next, { type, data: Buffer.from(bytes).toString('base64') })
    this.#items.set(itemId, next)
  }

  async poster (itemId: string): Promise<{ type: string, bytes: Buffer } | undefined> {
    const p = await this.#store.getPoster(itemId)
    return p === undefined ? undefined : { type: p.type, bytes: Buffer.from(p.data, 'base64') }
  }

  /** The parsed, verified manifest of an item (cached). */
  manifest (itemId: string): Manifest | undefined {
    const cached = this.#manifests.get(itemId)
    if (cached !== undefined) return cached
    const item = this.#items.get(itemId)
    if (item === undefined) return undefined
    const manifest = verifyManifest(fromText(item.manifest), { publicKey: this.#signer.publicKey, itemId })
    this.#manifests.set(itemId, manifest)
    return manifest
  }

  /** The content key of an encrypted item (by its manifest's keyId), or undefined for a plaintext item. */
  async contentKey (manifest: Manifest): Promise<Uint8Array | undefined> {
    const keyId = manifest.encryption?.keyId
    if (keyId === undefined) return undefined
    const cached = this.#keys.get(keyId)
    if (cached !== undefined) return cached
    const r = await this.#store.getContentKey(keyId)
    if (r === undefined || r.itemId !== manifest.itemId || r.version !== manifest.version) throw new Error(`the content key ${keyId} of item ${manifest.itemId} is missing from the store`)
    const key = fromBase64url(r.key, CONTENT_KEY_BYTES)
    this.#keys.set(keyId, key)
    return key
  }

  /** Ingest a stream; serialised with other ingests. `declaredSize` (Content-Length) is checked up front when known. */
  async ingest (body: ReadableStream<Uint8Array>, opts: IngestOptions): Promise<IngestResult> {
    const run = this.#ingesting.then(async () => await this.#ingestNow(body, opts))
    this.#ingesting = run.catch(() => {})
    return await run
  }

  async #ingestNow (body: ReadableStream<Uint8Array>, opts: IngestOptions): Promise<IngestResult> {
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE
    const encrypt = opts.encrypt ?? this.encryptByDefault
    // an encrypted item's id must be known before its first byte is encrypted (the counter blocks name it)
    const version = 1
    const encItemId = encrypt ? randomBytes(ITEM_ID_BYTES).toString('hex') : undefined
    const contentKey = encrypt ? new Uint8Array(randomBytes(CONTENT_KEY_BYTES)) : undefined
    const maxBytes = Math.min(this.maxItemBytes, MAX_CHUNK_COUNT * chunkSize)
    if (opts.declaredSize !== undefined && opts.declaredSize > maxBytes) {
      await body.cancel().catch(() => {})
      throw tooLarge(`item is ${opts.declaredSize} bytes; at most ${maxBytes} at chunk size ${chunkSize}`)
    }
    const builder = new ManifestBuilder(chunkSize)
    const ready: Array<{ hash: string, bytes: Uint8Array }> = []
    builder.onChunk = (_index, bytes, hash) => { ready.push({ hash: hex(hash), bytes }) }
    const created: string[] = []
    const inflight = new Set<Promise<void>>()
    let writeError: unknown
    const write = async (c: { hash: string, bytes: Uint8Array }): Promise<void> => {
      while (inflight.size >= MAX_INFLIGHT_CHUNK_WRITES) await Promise.race(inflight)
      if (writeError !== undefined) throw writeError
      const p: Promise<void> = this.#origin.put(c.hash, c.bytes).then(
        (isNew) => { if (isNew) created.push(c.hash) },
        (err: unknown) => { writeError ??= err }
      ).finally(() => { inflight.delete(p) })
      inflight.add(p)
    }
    const drain = async (): Promise<void> => {
      await Promise.all(inflight)
      if (writeError !== undefined) throw writeError
    }
    // an encrypted ingest gathers each chunk's plaintext and encrypts it in one call (AES per whole chunk, not
    // per body slice: about three times the rate of encrypting 16-64 KiB slices as they arrive)
    const plainChunk = contentKey === undefined ? undefined : new Uint8Array(chunkSize)
    let plainFilled = 0
    const flushPlain = async (): Promise<void> => {
      if (plainChunk === undefined || contentKey === undefined || encItemId === undefined) return
      const index = builder.chunksDone
      builder.push(await cryptChunk(nodeAesCtr, contentKey, { itemId: encItemId, version, chunkSize }, index, plainChunk.subarray(0, plainFilled)))
      plainFilled = 0
    }
    const encryptInto = async (bytes: Uint8Array): Promise<void> => {
      if (plainChunk === undefined) return
      let at = 0
      while (at < bytes.length) {
        const take = Math.min(chunkSize - plainFilled, bytes.length - at)
        plainChunk.set(bytes.subarray(at, at + take), plainFilled)
        plainFilled += take
        at += take
        if (plainFilled === chunkSize) {
          await flushPlain()
          for (const c of ready.splice(0)) await write(c)
        }
      }
    }
    const reader = body.getReader()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        if (builder.size + plainFilled + value.length > maxBytes) throw tooLarge(`item is larger than ${maxBytes} bytes at chunk size ${chunkSize}`)
        if (plainChunk === undefined) builder.push(value)
        else await encryptInto(value)
        for (const c of ready.splice(0)) await write(c)
      }
      if (plainChunk !== undefined && plainFilled > 0) await flushPlain()
      if (builder.size === 0) throw invalid('the item is empty')
      const draft = builder.finish({ itemId: 'pending', title: opts.title, version })
      for (const c of ready.splice(0)) await write(c)
      await drain()
      const itemId = encItemId ?? itemIdOf(draft.merkleRoot)
      const existing = this.#items.get(itemId)
      if (existing !== undefined) {
        created.length = 0
        return { item: existing, created: false }
      }
      const manifest: Manifest = { ...draft, itemId }
      if (contentKey !== undefined) {
        const keyId = randomBytes(KEY_ID_BYTES).toString('base64url')
        // the key is stored before the manifest that names it: no item is ever without its key
        if (!await this.#store.putContentKey({ keyId, itemId, version, key: toBase64url(contentKey), createdAt: this.#now() })) throw new Error('content keyId collision')
        manifest.encryption = { alg: CONTENT_ALG, keyId }
        this.#keys.set(keyId, contentKey)
      }
      const envelope = toText(signManifest(manifest, this.#signer))
      const item: ItemRecord = {
        itemId, title: opts.title, size: manifest.size, chunkSize, chunkCount: manifest.chunkCount, manifest: envelope, createdAt: this.#now()
      }
      await this.#store.putItem(item)
      this.#items.set(itemId, item)
      this.#manifests.set(itemId, manifest)
      created.length = 0
      return { item, created: true }
    } catch (err) {
      await Promise.allSettled(inflight)
      reader.releaseLock()
      await body.cancel().catch(() => {})
      throw err
    } finally {
      // Chunks written by a failed ingest belong to no item: remove them.
      for (const h of created) await this.#origin.remove(h)
    }
  }
}
