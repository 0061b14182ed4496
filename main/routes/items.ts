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
import { badRequest, invalid, notFound, tooLarge } from '../errors.ts'
import { MIN_CHUNK_SIZE, MAX_CHUNK_SIZE, MAX_TITLE_LENGTH, MAX_DESCRIPTION_LENGTH, MAX_POSTER_BYTES } from '../limits.ts'

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
  /** 'true': encrypt the item with a fresh content key; 'false': store it as it is; absent: main's default (`--encrypt`). */
  encrypt: z.enum(['true', 'false']).optional()
})

const itemParam = z.strictObject({ id: itemIdSchema })
const chunkParam = z.strictObject({ id: itemIdSchema, index: z.string().regex(/^\d{1,9}$/, 'index is a whole number').transform(Number) })

export function itemRoutes (s: MainServices): Hono<MainEnv> {
  const app = new Hono<MainEnv>()

  app.get('/catalog', (c) => {
    return c.json({ items: s.catalog.list().map(i => ({ itemId: i.itemId, title: i.title, size: i.size, chunkSize: i.chunkSize, chunkCount: i.chunkCount })) })
  })

  app.post('/items', requireAdmin(s), validate('query', ingestQuery), async (c) => {
    const { title, chunkSize, description, encrypt } = c.req.valid('query')
    const body = c.req.raw.body
    if (body === null) throw badRequest('send the file as the request body')
    const length = c.req.header('content-length')
    let declaredSize: number | undefined
    if (length !== undefined) {
      if (!/^\d{1,20}$/.test(length)) throw badRequest('bad Content-Length')
      declaredSize = Number(length)
    }
    let { item, created } = await s.catalog.ingest(body, { title, chunkSize, declaredSize, encrypt: encrypt === undefined ? undefined : encrypt === 'true' })
    if (created) s.metrics.itemsIngested.inc()
    if (description !== undefined && description !== '' && description !== item.description) item = await s.catalog.describe(item.itemId, description)
    return c.json({ itemId: item.itemId, title: item.title, size: item.size, chunkCount: item.chunkCount, manifest: item.manifest, encrypted: s.catalog.manifest(item.itemId)?.encryption !== undefined }, created ? 201 : 200)
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

  app.get('/items/:id', validate('param', itemParam), async (c) => {
    const { id } = c.req.valid('param')
    const item = await s.catalog.lookup(id)
    if (item === undefined) throw notFound(`no item ${id}`)
    return c.json({ itemId: item.itemId, manifest: item.manifest })
  })

  app.get('/items/:id/chunks/:index', requireNode(s.registry, s.now), validate('param', chunkParam), async (c) => {
    const { id, index } = c.req.valid('param')
    await s.catalog.lookup(id)
    const manifest = s.catalog.manifest(id)
    if (manifest === undefined) throw notFound(`no item ${id}`)
    const hash = manifest.chunkHashes[index]
    if (hash === undefined) throw notFound(`item ${id} has ${manifest.chunkCount} chunks; no chunk ${index}`)
    const bytes = await s.origin.get(Buffer.from(hash).toString('hex'))
    // readFile allocates a dedicated ArrayBuffer for a file this size, so the view covers exactly the chunk.
    return c.body(new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength), 200, {
      'Content-Type': 'application/octet-stream',
      'Cache-Control': 'private, max-age=31536000, immutable'
    })
  })
  return app
}
