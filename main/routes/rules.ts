/**
 * `GET /v1/keys` (main's public key), `GET /v1/rules` (the current signed
 * rules, with an ETag) and `PUT /v1/regions/:region/preposition` (operator).
 */
import { Hono } from 'hono'
import { z } from 'zod'
import type { MainEnv } from '../auth.ts'
import { requireOperator } from '../auth.ts'
import type { MainServices } from '../services.ts'
import { versionedDocument } from './conditional.ts'
import { validate, regionSchema, itemIdSchema } from '../validate.ts'
import { invalid } from '../errors.ts'
import { toBase64url } from '../../protocol/encoding.ts'
import { MAX_PREPOSITION_ITEMS } from '../limits.ts'

const regionParam = z.strictObject({ region: regionSchema })
const prepositionBody = z.strictObject({ itemIds: z.array(itemIdSchema).max(MAX_PREPOSITION_ITEMS) })

export function ruleRoutes (s: MainServices): Hono<MainEnv> {
  const app = new Hono<MainEnv>()
  const keys = { keys: [{ keyId: s.signer.keyId, publicKey: toBase64url(s.signer.publicKey), alg: 'ed25519' }] }

  app.get('/keys', (c) => c.json(keys))

  app.get('/rules', async (c) => {
    await s.rules.refreshIfAging()
    const cur = s.rules.current
    return versionedDocument(c, `"v${cur.version}"`, { version: cur.version, rules: cur.envelope })
  })

  app.put('/regions/:region/preposition', requireOperator(s), validate('param', regionParam), validate('json', prepositionBody), async (c) => {
    const { region } = c.req.valid('param')
    const itemIds = [...new Set(c.req.valid('json').itemIds)]
    const unknown = itemIds.filter(id => s.catalog.get(id) === undefined)
    if (unknown.length > 0) throw invalid(`unknown items: ${unknown.slice(0, 5).join(', ')}`)
    const state = await s.rules.setPreposition(region, itemIds)
    return c.json({ region, itemIds, rulesVersion: state.version })
  })
  return app
}
