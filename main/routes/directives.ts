/**
 * `POST /v1/directives` (a signed list of where to fetch a licensed item)
 * and `POST /v1/holdings` (a customer peer reports what it holds, so others
 * of its region may be directed to it).
 */
import { Hono } from 'hono'
import { z } from 'zod'
import type { MainEnv } from '../auth.ts'
import { requireSession } from '../auth.ts'
import type { MainServices } from '../services.ts'
import { validate, peerIdSchema, regionSchema, addrsSchema, addrSchema, licenseIdSchema } from '../validate.ts'
import { checkLicenseUse } from '../directives.ts'
import { ApiError } from '../errors.ts'

const directiveBody = z.strictObject({
  licenseId: licenseIdSchema,
  clientPeerId: peerIdSchema,
  region: regionSchema.optional()
})

const holdingBody = z.strictObject({
  licenseId: licenseIdSchema,
  peerId: peerIdSchema,
  addrs: addrsSchema.min(1),
  region: regionSchema,
  complete: z.boolean(),
  /** The seeding client's fast lane (issue 17). */
  fastLane: addrSchema.optional()
})

export function directiveRoutes (s: MainServices): Hono<MainEnv> {
  const app = new Hono<MainEnv>()
  app.post('/directives', requireSession(s), validate('json', directiveBody), async (c) => {
    const { licenseId, clientPeerId, region } = c.req.valid('json')
    const accountId = c.get('accountId')
    const license = checkLicenseUse(await s.licenses.get(licenseId), accountId, s.now())
    const account = region === undefined ? await s.accounts.get(accountId) : undefined
    const r = s.directives.regionFor(region, account?.region)
    if (r === undefined) throw new ApiError(503, 'no_regions', 'no region has any node yet; try again later')
    const { directive, expiresAt, body } = await s.directives.issue({ license, accountId, clientPeerId, region: r })
    s.reports.noteClient(clientPeerId, accountId, r, expiresAt)
    // an empty directive says why beside it (unsigned, for the customer's message; the signed list is the authority)
    if (body.peers.length === 0) return c.json({ directive, expiresAt, unserved: s.registry.unservedReason(r) }, 201)
    return c.json({ directive, expiresAt }, 201)
  })

  app.post('/holdings', requireSession(s), validate('json', holdingBody), async (c) => {
    const { licenseId, peerId, addrs, region, complete, fastLane } = c.req.valid('json')
    const license = checkLicenseUse(await s.licenses.get(licenseId), c.get('accountId'), s.now())
    const { expiresAt } = s.directives.reportHolding(license, { peerId, addrs, region, complete, ...(fastLane !== undefined ? { fastLane } : {}) })
    return c.json({ ok: true, expiresAt })
  })
  return app
}
