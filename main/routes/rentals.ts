/** `POST /v1/rentals`: a logged-in customer rents an item and receives its signed license. */
import { Hono } from 'hono'
import { z } from 'zod'
import type { MainEnv } from '../auth.ts'
import { requireSession } from '../auth.ts'
import type { MainServices } from '../services.ts'
import { validate, itemIdSchema, licenseIdSchema } from '../validate.ts'
import { notFound } from '../errors.ts'
import { rentChecked, rentalView } from '../lifecycle.ts'

/** Rentals one listing returns (newest first): a page of an account's history. */
export const MAX_RENTALS_LISTED = 200

const rentalBody = z.strictObject({ itemId: itemIdSchema, kind: z.enum(['rental', 'purchase']).optional() })

export function rentalRoutes (s: MainServices): Hono<MainEnv> {
  const app = new Hono<MainEnv>()
  app.post('/rentals', requireSession(s), validate('json', rentalBody), async (c) => {
    const { itemId, kind } = c.req.valid('json')
    const item = await s.catalog.lookup(itemId)
    if (item === undefined) throw notFound(`no item ${itemId}`)
    // windows, regions, takedowns and the offer's price (issue 15)
    const l = await rentChecked(s, c.get('accountId'), item, kind)
    return c.json({ licenseId: l.licenseId, itemId: l.itemId, license: l.license, expiresAt: l.expiresAt, price: l.price ?? null, kind: l.kind ?? 'rental' }, 201)
  })
  // the caller's own licences, newest first (`reelnet rentals`)
  // one of the caller's own rentals (e.g. rented on the storefront), for `reelnet get --license`
  app.get('/rentals/:licenseId', requireSession(s), validate('param', z.strictObject({ licenseId: licenseIdSchema })), async (c) => {
    const l = await s.licenses.get(c.req.valid('param').licenseId)
    if (l === undefined || l.accountId !== c.get('accountId')) throw notFound('you have no such rental')
    return c.json({ licenseId: l.licenseId, itemId: l.itemId, license: l.license, expiresAt: l.expiresAt, ...rentalView(s, l) })
  })
  // the caller's rentals, newest first, with what each charged and whether it still plays (`reelnet rentals`)
  app.get('/rentals', requireSession(s), async (c) => {
    const list = await s.licenses.forAccount(c.get('accountId'), MAX_RENTALS_LISTED)
    return c.json({ rentals: list.map(l => ({ licenseId: l.licenseId, itemId: l.itemId, notBefore: l.notBefore, expiresAt: l.expiresAt, ...rentalView(s, l) })) })
  })
  return app
}
