/**
 * The catalog: `GET /v1/catalog`, `GET /v1/items/:id` (signed manifest),
 * `POST /v1/items` (admin ingest, streamed), and
 * `GET /v1/items/:id/chunks/:index` (origin chunks, for registered nodes).
 */
import { Hono } from 'hono'
import { z } from 'zod'
import type { MainEnv } from '../auth.ts'
import { requireAdmin, requireNode } from '../auth.ts'
import type { MainServices } from '../services.ts'
import { validate, itemIdSchema } from '../validate.ts'
import { ApiError, badRequest, invalid, notFound, tooLarge } from '../errors.ts'
import { MIN_CHUNK_SIZE, MAX_CHUNK_SIZE, MAX_TITLE_LENGTH, MAX_DESCRIPTION_LENGTH, MAX_POSTER_BYTES, MAX_TERMS_QUERY_LENGTH } from '../limits.ts'
import { regionSchema } from '../validate.ts'
import { RemovalSchema, TermsPatchSchema, applyTermsPatch, inWindow, offeredIn, publicTerms, removedError } from '../lifecycle.ts'
import { parseContentKey } from '../../protocol/item-key.ts'
import { MAX_ITEM_VERSION } from '../../protocol/limits.ts'

/** Poster types the storefront shows, recognised by their first bytes (the Content-Type alone is not trusted). */
export const POSTER_TYPES: ReadonlyArray<{ type: string, magic: number[] }> = [
  { type: 'image/png', magic: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { type: 'image/jpeg', magic: [0xff, 0xd8, 0xff] },
  { type: 'image/webp', magic: [0x52, 0x49, 0x46, 0x46] }
]

/** The poster type of these bytes, or undefined when they are none of POSTER_TYPES. */
export function posterTypeOf (bytes: Uint8Array): string | undefined {
  return POSTER_TYPES.find(p => p.magic.every((b, i) => bytes[i] === b) && (p.type !== 'image/webp' || String.fromCharCode(...bytes.subarray(8, 12)) === 'WEBP'))?.type
}

const ingestQuery = z.strictObject({
  title: z.string().trim().min(1, 'title is required').max(MAX_TITLE_LENGTH),
  description: z.string().trim().max(MAX_DESCRIPTION_LENGTH, `a description has at most ${MAX_DESCRIPTION_LENGTH} characters`).optional(),
  chunkSize: z.string().regex(/^\d{1,9}$/, 'chunkSize is a whole number of bytes').transform(Number)
    .pipe(z.number().int().min(MIN_CHUNK_SIZE).max(MAX_CHUNK_SIZE)).optional(),
  /** Make the next version of this item (issue 15). */
  replace: itemIdSchema.optional(),
  /** The new item's terms as JSON (TermsPatchSchema), stored before anyone can see the item. */
  terms: z.string().max(MAX_TERMS_QUERY_LENGTH).optional(),
  /** 'true': encrypt the item with a fresh content key; 'false': store it as it is; absent: main's default (`--encrypt`). */
  encrypt: z.enum(['true', 'false']).optional()
})

const catalogQuery = z.strictObject({ region: regionSchema.optional() })
const versionQuery = z.strictObject({ version: z.string().regex(/^[1-9]\d{0,6}$/, 'version is a whole number from 1').transform(Number).pipe(z.number().max(MAX_ITEM_VERSION)).optional() })
/** An item's wire key: the itemId (version 1) or itemId@N (protocol/item-key.ts), as nodes fill chunks by it. */
const itemKeySchema = z.string().regex(/^[0-9a-f]{32}(@[1-9][0-9]{0,6})?$/, 'an itemId is 32 hex characters (optionally @version)')

const itemParam = z.strictObject({ id: itemIdSchema })
const chunkParam = z.strictObject({ id: itemKeySchema, index: z.string().regex(/^\d{1,9}$/, 'index is a whole number').transform(Number) })

export function itemRoutes (s: MainServices): Hono<MainEnv> {
  const app = new Hono<MainEnv>()

  // what is available now (in `region` when asked: the storefront and `reelnet catalog` ask for the customer's)
  app.get('/catalog', validate('query', catalogQuery), (c) => {
    const { region } = c.req.valid('query')
    const now = s.now()
    const hours = Math.round(s.licenses.rentalMs / 3600_000)
    const items = s.catalog.list().filter(i => {
      const t = s.catalog.terms(i.itemId)
      return inWindow(t, now) && offeredIn(t, region)
    })
    return c.json({
      ...(region !== undefined ? { region } : {}),
      items: items.map(i => ({
        itemId: i.itemId, title: i.title, size: i.size, chunkSize: i.chunkSize, chunkCount: i.chunkCount,
        version: s.catalog.newestVersion(i.itemId), ...publicTerms(s.catalog.terms(i.itemId), hours)
      }))
    })
  })

  app.post('/items', requireAdmin(s), validate('query', ingestQuery), async (c) => {
    const { title, chunkSize, description, replace, encrypt } = c.req.valid('query')
    let terms
    if (c.req.valid('query').terms !== undefined) {
      let parsed: unknown
      try { parsed = JSON.parse(c.req.valid('query').terms!) } catch { throw invalid('terms must be JSON') }
      const r = TermsPatchSchema.safeParse(parsed)
      if (!r.success) throw invalid(`invalid terms: ${r.error.issues[0]?.path.join('.') ?? ''}: ${r.error.issues[0]?.message ?? 'does not match'}`)
      terms = applyTermsPatch({}, r.data, Math.round(s.licenses.rentalMs / 3600_000))
    }
    const body = c.req.raw.body
    if (body === null) throw badRequest('send the file as the request body')
    const length = c.req.header('content-length')
    let declaredSize: number | undefined
    if (length !== undefined) {
      if (!/^\d{1,20}$/.test(length)) throw badRequest('bad Content-Length')
      declaredSize = Number(length)
    }
    let { item, created, version } = await s.catalog.ingest(body, { title, chunkSize, declaredSize, replace, terms, encrypt: encrypt === undefined ? undefined : encrypt === 'true' })
    if (created) s.metrics.itemsIngested.inc()
    if (description !== undefined && description !== '' && description !== item.description) item = await s.catalog.describe(item.itemId, description)
    if (terms !== undefined && (!created || replace !== undefined)) await s.catalog.setTerms(item.itemId, applyTermsPatch(s.catalog.terms(item.itemId) ?? {}, TermsPatchSchema.parse(JSON.parse(c.req.valid('query').terms!)), Math.round(s.licenses.rentalMs / 3600_000)))
    return c.json({ itemId: item.itemId, title: item.title, size: item.size, chunkCount: item.chunkCount, manifest: item.manifest, version, encrypted: s.catalog.manifest(item.itemId)?.encryption !== undefined }, created ? 201 : 200)
  })

  app.put('/items/:id/poster', requireAdmin(s), validate('param', itemParam), async (c) => {
    const { id } = c.req.valid('param')
    if (s.catalog.get(id) === undefined) throw notFound(`no item ${id}`)
    const bytes = new Uint8Array(await c.req.arrayBuffer())
    if (bytes.length > MAX_POSTER_BYTES) throw tooLarge(`a poster is at most ${MAX_POSTER_BYTES} bytes`)
    const type = posterTypeOf(bytes)
    if (type === undefined) throw invalid('a poster is a PNG, JPEG or WebP image')
    await s.catalog.setPoster(id, type, bytes)
    return c.json({ itemId: id, posterType: type, size: bytes.length })
  })

  app.get('/items/:id', validate('param', itemParam), validate('query', versionQuery), async (c) => {
    const { id } = c.req.valid('param')
    const item = await s.catalog.lookup(id)
    if (item === undefined) throw notFound(`no item ${id}`)
    const terms = s.catalog.terms(id)
    if (terms?.removedAt !== undefined) throw removedError(id, terms)
    const newest = s.catalog.newestVersion(id)
    const version = c.req.valid('query').version ?? newest
    const m = await s.catalog.manifestVersion(id, version)
    if (m === undefined) throw new ApiError(version < newest ? 410 : 404, version < newest ? 'version_gone' : 'not_found', `item ${id} has no version ${version} (newest ${newest}; live ${s.catalog.liveVersions(id, s.now()).join(', ')})`)
    return c.json({ itemId: item.itemId, manifest: m.envelope, version, newestVersion: newest })
  })

  app.get('/items/:id/chunks/:index', requireNode(s.registry, s.now), validate('param', chunkParam), async (c) => {
    const { itemId, version } = parseContentKey(c.req.valid('param').id)
    const { index } = c.req.valid('param')
    const id = itemId
    await s.catalog.lookup(id)
    const terms = s.catalog.terms(id)
    if (terms?.removedAt !== undefined) throw removedError(id, terms)
    const manifest = (await s.catalog.manifestVersion(id, version))?.manifest
    if (manifest === undefined) throw notFound(`no item ${id} version ${version}`)
    const hash = manifest.chunkHashes[index]
    if (hash === undefined) throw notFound(`item ${id} has ${manifest.chunkCount} chunks; no chunk ${index}`)
    const bytes = await s.origin.get(Buffer.from(hash).toString('hex'))
    // readFile allocates a dedicated ArrayBuffer for a file this size, so the view covers exactly the chunk.
    return c.body(new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength), 200, {
      'Content-Type': 'application/octet-stream',
      'Cache-Control': 'private, max-age=31536000, immutable'
    })
  })
  // ---- issue 15: an admin changes terms, or takes an item down ----
  app.patch('/items/:id', requireAdmin(s), validate('param', itemParam), validate('json', TermsPatchSchema), async (c) => {
    const { id } = c.req.valid('param')
    const item = await s.catalog.lookup(id)
    if (item === undefined) throw notFound(`no item ${id}`)
    const cur = s.catalog.terms(id) ?? {}
    if (cur.removedAt !== undefined) throw removedError(id, cur)
    const next = applyTermsPatch(cur, c.req.valid('json'), Math.round(s.licenses.rentalMs / 3600_000))
    await s.catalog.setTerms(id, next)
    return c.json({ itemId: id, title: item.title, version: s.catalog.newestVersion(id), terms: next, rulesVersion: s.rules.version })
  })

  app.delete('/items/:id', requireAdmin(s), validate('param', itemParam), async (c) => {
    const { id } = c.req.valid('param')
    let reason: string | undefined
    const text = await c.req.text()
    if (text.trim() !== '') {
      let parsed: unknown
      try { parsed = JSON.parse(text) } catch { throw badRequest('the body, if any, is JSON: {"reason": "..."}') }
      const r = RemovalSchema.safeParse(parsed)
      if (!r.success) throw invalid(`invalid json: ${r.error.issues[0]?.path.join('.') ?? ''}: ${r.error.issues[0]?.message ?? ''}`)
      reason = r.data.reason
    }
    if (await s.catalog.lookup(id) === undefined) throw notFound(`no item ${id}`)
    const t = await s.catalog.remove(id, reason)
    return c.json({ itemId: id, removedAt: t.removedAt, reason: t.removedReason ?? null, rulesVersion: s.rules.version })
  })
  return app
}
