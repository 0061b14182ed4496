/**
 * The node registry: `POST /v1/nodes` (operator registers a parent or edge),
 * `POST /v1/nodes/:peerId/heartbeat` (signed by the node's own key),
 * `POST /v1/nodes/:peerId/drain`, `DELETE /v1/nodes/:peerId` (out of the rules, its tokens spent) and
 * `GET /v1/nodes` (operator).
 */
import { Hono } from 'hono'
import { z } from 'zod'
import type { MainEnv } from '../auth.ts'
import { requireOperator, bearerOf, secretEquals } from '../auth.ts'
import type { MiddlewareHandler } from 'hono'
import { forbidden } from '../errors.ts'
import type { MainServices } from '../services.ts'
import { removeNode } from '../node-removal.ts'
import { validate, peerIdSchema, regionSchema, addrsSchema, addrSchema } from '../validate.ts'
import { verifyHeartbeat } from '../../protocol/documents.ts'
import { fromText } from '../../protocol/signing.ts'
import { MAX_DOCUMENT_BYTES } from '../../protocol/limits.ts'

/** A node may declare at most 1 PiB of capacity: larger is a typo, and keeps sums exact in doubles. */
export const MAX_CAPACITY_BYTES = 2 ** 50

const registerBody = z.strictObject({
  peerId: peerIdSchema,
  role: z.enum(['parent', 'edge']),
  region: regionSchema,
  addrs: addrsSchema.min(1, 'at least one address'),
  capacityBytes: z.number().int().min(0).max(MAX_CAPACITY_BYTES),
  /** The node's TLS 1.3 chunk listener, /ip4/A/tcp/P (issue 17). */
  fastLane: addrSchema.optional()
})
const peerParam = z.strictObject({ peerId: peerIdSchema })
const heartbeatBody = z.strictObject({ heartbeat: z.string().min(1).max(Math.ceil(MAX_DOCUMENT_BYTES.heartbeat / 3) * 4) })
const drainBody = z.strictObject({ drained: z.boolean() })

function isOperator (s: MainServices, token: string): boolean {
  return secretEquals(token, s.operatorToken) || secretEquals(token, s.adminToken)
}

/** Registration: the operator (or admin) token, or a node token minted for one node (its scope is checked against the body). */
function requireRegistrar (s: MainServices): MiddlewareHandler<MainEnv> {
  const operator = requireOperator(s)
  return async function requireOperatorOrNodeToken (c, next) {
    const token = bearerOf(c.req.header('authorization'))
    if (token !== undefined && !isOperator(s, token) && await s.nodeTokens.find(token) !== undefined) return await next()
    return await operator(c, next)
  }
}

export function nodeRoutes (s: MainServices): Hono<MainEnv> {
  const app = new Hono<MainEnv>()

  app.post('/nodes', requireRegistrar(s), validate('json', registerBody), async (c) => {
    const reg = c.req.valid('json')
    const token = bearerOf(c.req.header('authorization'))!
    if (!isOperator(s, token)) {
      const refused = await s.nodeTokens.use(token, reg)
      if (refused !== undefined) throw forbidden(refused)
    }
    const { node, created } = await s.registry.register(reg)
    return c.json({ node: s.registry.view(node), rulesVersion: s.rules.version }, created ? 201 : 200)
  })

  app.get('/nodes', requireOperator(s), (c) => {
    const now = s.now()
    const nodes = s.registry.all().sort((a, b) => a.region.localeCompare(b.region) || a.peerId.localeCompare(b.peerId))
    return c.json({ nodes: nodes.map(n => s.registry.view(n, now)), rulesVersion: s.rules.version })
  })

  app.post('/nodes/:peerId/heartbeat', validate('param', peerParam), validate('json', heartbeatBody), async (c) => {
    const { peerId } = c.req.valid('param')
    const bytes = fromText(c.req.valid('json').heartbeat, MAX_DOCUMENT_BYTES.heartbeat)
    const hb = verifyHeartbeat(bytes, { now: s.now(), peerId })
    const node = await s.registry.heartbeat(hb)
    return c.json({ ok: true, rulesVersion: s.rules.version, admittedPeers: s.directives.admittedPeers(node.region) })
  })

  app.post('/nodes/:peerId/drain', requireOperator(s), validate('param', peerParam), validate('json', drainBody), async (c) => {
    const { peerId } = c.req.valid('param')
    const node = await s.registry.drain(peerId, c.req.valid('json').drained)
    return c.json({ node: s.registry.view(node) })
  })

  app.delete('/nodes/:peerId', requireOperator(s), validate('param', peerParam), async (c) => {
    const { peerId } = c.req.valid('param')
    const { node, tokensSpent } = await removeNode(s, peerId, 'operator')
    return c.json({ removed: { peerId: node.peerId, role: node.role, region: node.region }, tokensSpent, rulesVersion: s.rules.version })
  })

  return app
}
