/** `POST /v1/rentals`: a logged-in customer rents an item and receives its signed license. */
import { Hono } from 'hono'
import { z } from 'zod'
import type { MainEnv } from '../auth.ts'
import { requireSession } from '../auth.ts'
import type { MainServices } from '../services.ts'
import { validate, itemIdSchema, licenseIdSchema } from '../validate.ts'
import { notFound } from '../errors.ts'

/** `GET /v1/rentals` lists at most this many licences (newest first): a page of a customer's history. */
export const MAX_LISTED_RENTALS = 200

const rentalBody = z.strictObject({ itemId: itemIdSchema, kind: z.enum(['rental', 'purchase']).optional() })

export function rentalRoutes (s: MainServices): Hono<MainEnv> {
  const app = new Hono<MainEnv>()
  app.post('/rentals', requireSession(s), validate('json', rentalBody), async (c) => {
    const { itemId, kind } = c.req.valid('json')
    if (await s.catalog.lookup(itemId) === undefined) throw notFound(`no item ${itemId}`)
    const l = await s.licenses.rent(c.get('accountId'), itemId, kind)
    s.metrics.licensesIssued.inc()
    return c.json({ licenseId: l.licenseId, itemId: l.itemId, license: l.license, expiresAt: l.expiresAt, kind: l.kind ?? 'rental' }, 201)
  })
  // the caller's own licences, newest first (`reelnet rentals`)
  app.get('/rentals', requireSession(s), async (c) => {
    const list = await s.licenses.forAccount(c.get('accountId'), MAX_LISTED_RENTALS)
    return c.json({ rentals: list.map(l => ({ licenseId: l.licenseId, itemId: l.itemId, kind: l.kind ?? 'rental', notBefore: l.notBefore, expiresAt: l.expiresAt })) })
  })
  // one of the caller's own rentals (e.g. rented on the storefront), for `reelnet get --license`
  app.get('/rentals/:licenseId', requireSession(s), validate('param', z.strictObject({ licenseId: licenseIdSchema })), async (c) => {
    const l = await s.licenses.get(c.req.valid('param').licenseId)
    if (l === undefined || l.accountId !== c.get('accountId')) throw notFound('you have no such rental')
    return c.json({ licenseId: l.licenseId, itemId: l.itemId, license: l.license, expiresAt: l.expiresAt, kind: l.kind ?? 'rental' })
  })
  return app
}
