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
import type { MainStore, ItemRecord, ItemTerms, ItemVersionRecord } from './store.ts'
import { contentKeyOf } from '../protocol/item-key.ts'
import { cryptChunk, CONTENT_KEY_BYTES, CONTENT_ALG } from '../protocol/content-crypto.ts'
import { nodeAesCtr } from '../protocol/aes-ctr-node.ts'
import { toBase64url, fromBase64url } from '../protocol/encoding.ts'
import { randomBytes } from 'node:crypto'
import type { OriginStore } from './origin.ts'
import { Lru } from './lru.ts'
import { ApiError, invalid, notFound, tooLarge } from './errors.ts'
import { MAX_ITEM_BYTES, MAX_CHUNK_COUNT } from './limits.ts'

/** Parsed manifests kept in memory for chunk serving; a manifest of a large item is a few MiB, so only a few. */
export const MANIFEST_CACHE_ENTRIES = 64

/**
 * Chunk files written at once during an ingest: overlaps disk latency
 * (write + sync + rename) with reading and hashing, while holding at most
 * this many chunks in memory (4 × 16 MiB at the largest chunk size).
 */
export const MAX_INFLIGHT_CHUNK_WRITES = 4

export interface IngestResult { item: ItemRecord, created: boolean, version: number }

export interface IngestOptions {
  title: string
  chunkSize?: number
  declaredSize?: number
  /** Make the next version of this item (same itemId, a new manifest) instead of a new item. */
  replace?: string
  /** Terms to store with a new item (validated by the route), before anyone can see it. */
  terms?: ItemTerms
}

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
  /** itemId → terms (issue 15); absent = none set. */
  readonly #terms = new Map<string, ItemTerms>()
  /** itemId → stored manifest versions, ascending (an item from before versions: its manifest's version alone). */
  readonly #versions = new Map<string, number[]>()
  /** wire key of an older version → until when a download runs on it (its latest directive's expiry). */
  readonly #inUse = new Map<string, number>()
  /** Called when something the rules carry changed (an item, its terms, its live versions). */
  onChange: () => Promise<void> = async () => {}
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
    await this.#loadLifecycle()
  }

  /** Terms of every item, and the stored versions of `only` (default: every item; a reload reads just the items that changed). */
  async #loadLifecycle (only?: Set<string>): Promise<boolean> {
    let changed = false
    for await (const [id, t] of this.#store.listItemTerms()) {
      if (JSON.stringify(this.#terms.get(id)) !== JSON.stringify(t)) { this.#terms.set(id, t); changed = true }
    }
    for (const item of this.#items.values()) {
      if (only !== undefined && !only.has(item.itemId)) continue
      const records = await this.#store.listItemVersions(item.itemId)
      this.#mergeHolds(records)
      const stored = records.map(v => v.version)
      const versions = stored.length > 0 ? stored : [this.#versionOf(item)]
      if ((this.#versions.get(item.itemId) ?? []).join() !== versions.join()) { this.#versions.set(item.itemId, versions); changed = true }
    }
    return changed
  }

  /** Take in holds other mains stored (directives they issued on a version). */
  #mergeHolds (records: ItemVersionRecord[]): void {
    for (const r of records) {
      if (r.heldUntil === undefined) continue
      const key = contentKeyOf(r.itemId, r.version)
      if ((this.#inUse.get(key) ?? 0) < r.heldUntil) this.#inUse.set(key, r.heldUntil)
    }
  }

  /** Re-read the holds of items with older versions (few: those replaced lately); true if a live set changed. */
  async #refreshHolds (skip: Set<string> = new Set()): Promise<boolean> {
    const now = this.#now()
    let changed = false
    for (const [itemId, versions] of this.#versions) {
      if (versions.length < 2 || skip.has(itemId)) continue
      const before = this.liveVersions(itemId, now).join()
      this.#mergeHolds(await this.#store.listItemVersions(itemId))
      if (this.liveVersions(itemId, now).join() !== before) changed = true
    }
    return changed
  }

  #versionOf (item: ItemRecord): number {
    return this.manifest(item.itemId)?.version ?? 1
  }

  /** Take in items another main ingested into a shared store, and storefront changes (description, poster) made there. */
  async reload (): Promise<void> {
    const changed = new Set<string>()
    for await (const item of this.#store.listItems()) {
      const cur = this.#items.get(item.itemId)
      if (cur === undefined || JSON.stringify(cur) !== JSON.stringify(item)) {
        this.#items.set(item.itemId, item)
        this.#manifests.delete(item.itemId)
        changed.add(item.itemId)
      }
    }
    const lifecycle = await this.#loadLifecycle(changed)
    const holds = await this.#refreshHolds(changed)
    if (lifecycle || holds || changed.size > 0) await this.onChange()
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

  /** The items not taken down. */
  list (): ItemRecord[] {
    return [...this.#items.values()].filter(i => this.#terms.get(i.itemId)?.removedAt === undefined).sort((a, b) => a.createdAt - b.createdAt || a.itemId.localeCompare(b.itemId))
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

  // ---- issue 15: terms, versions, takedown ----------------------------------------------

  terms (itemId: string): ItemTerms | undefined {
    return this.#terms.get(itemId)
  }

  allTerms (): Array<[string, ItemTerms]> {
    return [...this.#terms]
  }

  async setTerms (itemId: string, terms: ItemTerms): Promise<void> {
    await this.#store.putItemTerms(itemId, terms)
    this.#terms.set(itemId, terms)
    await this.onChange()
  }

  /** The newest version of an item (what new rentals and playbacks get). */
  newestVersion (itemId: string): number {
    const v = this.#versions.get(itemId)
    return v?.[v.length - 1] ?? 1
  }

  /** Stored versions, ascending. */
  versions (itemId: string): number[] {
    return [...(this.#versions.get(itemId) ?? [])]
  }

  /** Versions nodes must keep: the newest, and older ones a download still runs on. */
  liveVersions (itemId: string, now: number): number[] {
    const newest = this.newestVersion(itemId)
    return this.versions(itemId).filter(v => v === newest || (this.#inUse.get(contentKeyOf(itemId, v)) ?? 0) > now)
  }

  /**
   * A directive on a version keeps it live until it expires (a download finishes on the version it began). The
   * newest too: a replace may make it old while this download runs. Stored (holdItemVersion) so that the main
   * that collects versions, which may be another, sees it: ahead by half the directive's lifetime, so that a
   * busy version costs one write per half lifetime, not one per directive.
   */
  async noteInUse (itemId: string, version: number, until: number): Promise<void> {
    const key = contentKeyOf(itemId, version)
    const held = this.#inUse.get(key) ?? 0
    if (held >= until) return
    const now = this.#now()
    const ahead = until + Math.max(0, Math.floor((until - now) / 2))
    this.#inUse.set(key, ahead)
    await this.#store.holdItemVersion(itemId, version, ahead)
  }

  /** One version's signed manifest envelope and parsed manifest; undefined when not stored (or collected). */
  async manifestVersion (itemId: string, version: number): Promise<{ envelope: string, manifest: Manifest } | undefined> {
    const item = this.#items.get(itemId)
    if (item === undefined) return undefined
    if (version === this.newestVersion(itemId)) {
      const m = this.manifest(itemId)
      if (m !== undefined && m.version === version) return { envelope: item.manifest, manifest: m }
    }
    const key = `version:${contentKeyOf(itemId, version)}`
    const rec = (await this.#store.listItemVersions(itemId)).find(v => v.version === version)
    if (rec === undefined) return undefined
    let manifest = this.#manifests.get(key)
    if (manifest === undefined) {
      manifest = verifyManifest(fromText(rec.manifest), { publicKey: this.#signer.publicKey, itemId })
      this.#manifests.set(key, manifest)
    }
    return { envelope: rec.manifest, manifest }
  }

  /**
   * Take an item down: it leaves the catalog and the rules list it as removed (every node deletes its chunks);
   * main's origin chunks go too, except those another item shares.
   */
  async remove (itemId: string, reason: string | undefined): Promise<ItemTerms> {
    const item = this.#items.get(itemId)
    if (item === undefined) throw notFound(`no item ${itemId}`)
    const cur = this.#terms.get(itemId) ?? {}
    if (cur.removedAt !== undefined) return cur
    const next: ItemTerms = { ...cur, removedAt: this.#now(), ...(reason !== undefined ? { removedReason: reason } : {}) }
    await this.setTerms(itemId, next)
    const all = await this.#store.listItemVersions(itemId)
    await this.#collectChunks(itemId, all.length > 0 ? all.map(v => v.version) : [this.newestVersion(itemId)], [])
    return next
  }

  /** Forget older versions no download runs on any more, and their origin chunks; returns the versions collected. */
  async collectVersions (now: number): Promise<Array<{ itemId: string, version: number }>> {
    const out: Array<{ itemId: string, version: number }> = []
    // holds other mains stored since (their downloads' directives) keep a version too
    const held = await this.#refreshHolds()
    for (const [itemId, versions] of this.#versions) {
      const live = this.liveVersions(itemId, now)
      const dead = versions.filter(v => !live.includes(v))
      if (dead.length === 0) continue
      await this.#collectChunks(itemId, dead, live)
      await this.#store.deleteItemVersions(itemId, dead)
      this.#versions.set(itemId, live)
      for (const v of dead) { this.#inUse.delete(contentKeyOf(itemId, v)); this.#manifests.delete(`version:${contentKeyOf(itemId, v)}`); out.push({ itemId, version: v }) }
    }
    if (out.length > 0 || held) await this.onChange()
    return out
  }

  /** Remove the origin chunks of these versions that no kept version of this item, nor any other item's newest, uses. */
  async #collectChunks (itemId: string, versions: number[], keep: number[]): Promise<void> {
    const hashesOf = async (id: string, v: number): Promise<string[]> => {
      const m = await this.manifestVersion(id, v)
      return m === undefined ? [] : m.manifest.chunkHashes.map(hex)
    }
    const candidates = new Set<string>()
    for (const v of versions) for (const h of await hashesOf(itemId, v)) candidates.add(h)
    for (const v of keep) for (const h of await hashesOf(itemId, v)) candidates.delete(h)
    if (candidates.size === 0) return
    for (const other of this.#items.values()) {
      if (other.itemId === itemId || this.#terms.get(other.itemId)?.removedAt !== undefined) continue
      for (const h of this.manifest(other.itemId)?.chunkHashes ?? []) candidates.delete(hex(h))
    }
    for (const h of candidates) await this.#origin.remove(h)
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
    const replacing = opts.replace === undefined ? undefined : this.#items.get(opts.replace)
    if (opts.replace !== undefined && (replacing === undefined || this.#terms.get(opts.replace)?.removedAt !== undefined)) {
      await body.cancel().catch(() => {})
      throw notFound(`no item ${opts.replace} to replace`)
    }
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE
    const encrypt = opts.encrypt ?? this.encryptByDefault
    // an encrypted item's id and version must be known before its first byte is encrypted (the counter blocks name
    // them); a replace is the next version of the same itemId, with a fresh content key
    const version = replacing === undefined ? 1 : this.newestVersion(replacing.itemId) + 1
    const encItemId = encrypt ? (replacing?.itemId ?? randomBytes(ITEM_ID_BYTES).toString('hex')) : undefined
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
      const itemId = replacing?.itemId ?? encItemId ?? itemIdOf(draft.merkleRoot)
      const existing = this.#items.get(itemId)
      if (replacing !== undefined && Buffer.from(this.manifest(itemId)?.merkleRoot ?? []).equals(Buffer.from(draft.merkleRoot))) {
        throw new ApiError(409, 'same_bytes', `these bytes are already version ${this.newestVersion(itemId)} of ${itemId}`)
      }
      if (existing !== undefined && replacing === undefined) {
        created.length = 0
        const t = this.#terms.get(itemId)
        if (t?.removedAt !== undefined) {
          // the same bytes ingested again after a takedown bring the item back (its chunks were just written again)
          const { removedAt: _a, removedReason: _r, ...kept } = t
          await this.setTerms(itemId, { ...kept, ...opts.terms })
        }
        return { item: existing, created: false, version: this.newestVersion(itemId) }
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
      const now = this.#now()
      const item: ItemRecord = {
        ...(replacing ?? {}), itemId, title: opts.title, size: manifest.size, chunkSize, chunkCount: manifest.chunkCount, manifest: envelope, createdAt: replacing?.createdAt ?? now
      }
      if (replacing !== undefined && (await this.#store.listItemVersions(itemId)).length === 0) {
        // an item from before versions: keep its first manifest as version 1 while downloads may still run on it
        await this.#store.putItemVersion({ itemId, version: this.newestVersion(itemId), size: replacing.size, chunkSize: replacing.chunkSize, chunkCount: replacing.chunkCount, manifest: replacing.manifest, createdAt: replacing.createdAt })
      }
      const record: ItemVersionRecord = { itemId, version, size: manifest.size, chunkSize, chunkCount: manifest.chunkCount, manifest: envelope, createdAt: now }
      await this.#store.putItemVersion(record)
      if (replacing === undefined && opts.terms !== undefined) await this.#store.putItemTerms(itemId, opts.terms)
      await this.#store.putItem(item)
      if (replacing === undefined && opts.terms !== undefined) this.#terms.set(itemId, opts.terms)
      this.#items.set(itemId, item)
      this.#manifests.set(itemId, manifest)
      this.#versions.set(itemId, [...(this.#versions.get(itemId) ?? []).filter(v => v < version), version])
      created.length = 0
      await this.onChange()
      return { item, created: true, version }
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
