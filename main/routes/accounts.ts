/**
 * `POST /v1/accounts` (sign up), `POST /v1/sessions` (log in) and `GET /v1/regions` (the regions a customer
 * may choose: those with at least one parent).
 */
import { Hono } from 'hono'
import { z } from 'zod'
import { clientAddress } from '../client-address.ts'
import type { MainEnv } from '../auth.ts'
import type { MainServices } from '../services.ts'
import { validate, regionSchema } from '../validate.ts'
import { USERNAME_RE, MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH } from '../limits.ts'
import { invalid } from '../errors.ts'

/**
 * A customer's region must have at least one parent (the tier that holds every item), else `get` there could
 * only ever retry. While no parent is registered anywhere (a network being set up: main starts before its
 * nodes), any well-formed region is accepted, as before; once one exists, the choice is checked.
 */
export function checkRegion (s: MainServices, region: string | undefined): void {
  if (region === undefined) return
  const served = s.registry.servedRegions()
  if (served.length === 0 || served.includes(region)) return
  throw invalid(`region '${region}' has no parent node; choose one of: ${served.join(', ')}`)
}

const accountBody = z.strictObject({
  username: z.string().regex(USERNAME_RE, 'a username is 3–32 of A-Z, a-z, 0-9, _ . -'),
  password: z.string().min(MIN_PASSWORD_LENGTH, `a password has at least ${MIN_PASSWORD_LENGTH} characters`).max(MAX_PASSWORD_LENGTH),
  region: regionSchema.optional()
})

const sessionBody = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH)
})


export function accountRoutes (s: MainServices): Hono<MainEnv> {
  const app = new Hono<MainEnv>()
  app.post('/accounts', validate('json', accountBody), async (c) => {
    const { username, password, region } = c.req.valid('json')
    checkRegion(s, region)
    const a = await s.accounts.create(username, password, region, clientAddress(c, s.trustedProxies))
    return c.json({ accountId: a.accountId, username: a.username, region: a.region ?? null }, 201)
  })
  app.get('/regions', (c) => c.json({ regions: s.registry.servedRegions() }))
  app.post('/sessions', validate('json', sessionBody), async (c) => {
    const { username, password } = c.req.valid('json')
    const session = await s.accounts.login(username, password, clientAddress(c, s.trustedProxies))
    return c.json(session, 201)
  })
  return app
}
