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
import { directiveRefusal, issueChecked } from '../lifecycle.ts'
import { MAX_ITEM_VERSION } from '../../protocol/limits.ts'
import { refuseRevoked } from './revocations.ts'
import { sealedKeyField } from '../content-keys.ts'

const directiveBody = z.strictObject({
  licenseId: licenseIdSchema,
  clientPeerId: peerIdSchema,
  region: regionSchema.optional(),
  /** Continue a download on this version (issue 15): granted while it is live, else the newest is given. */
  itemVersion: z.number().int().min(1).max(MAX_ITEM_VERSION).optional()
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
    const { licenseId, clientPeerId, region, itemVersion: asked } = c.req.valid('json')
    const accountId = c.get('accountId')
    const license = checkLicenseUse(await s.licenses.get(licenseId), accountId, s.now())
    refuseRevoked(s, license)
    const account = region === undefined ? await s.accounts.get(accountId) : undefined
    const r = s.directives.regionFor(region, account?.region)
    if (r === undefined) throw new ApiError(503, 'no_regions', 'no region has any node yet; try again later')
    // takedowns, regions and the version the download runs on (issue 15)
    const { directive, expiresAt, body, itemVersion } = await issueChecked(s, { license, accountId, clientPeerId, region: r, asked })
    s.reports.noteClient(clientPeerId, accountId, r, expiresAt)
    // an encrypted item's key, sealed to this directive's client (beside the directive, never logged)
    const sealed = await sealedKeyField(s.catalog, license, clientPeerId, itemVersion)
    // an empty directive says why beside it (unsigned, for the customer's message; the signed list is the authority)
    if (body.peers.length === 0) return c.json({ directive, expiresAt, unserved: s.registry.unservedReason(r), ...sealed }, 201)
    return c.json({ directive, expiresAt, ...sealed }, 201)
  })

  app.post('/holdings', requireSession(s), validate('json', holdingBody), async (c) => {
    const { licenseId, peerId, addrs, region, complete, fastLane } = c.req.valid('json')
    const license = checkLicenseUse(await s.licenses.get(licenseId), c.get('accountId'), s.now())
    const refusal = directiveRefusal(await s.catalog.lookup(license.itemId), license.itemId, s.catalog.terms(license.itemId), region)
    if (refusal !== undefined) throw refusal
    refuseRevoked(s, license)
    const { expiresAt } = await s.directives.reportHolding(license, { peerId, addrs, region, complete, ...(fastLane !== undefined ? { fastLane } : {}) })
    return c.json({ ok: true, expiresAt })
  })
  return app
}
