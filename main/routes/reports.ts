/**
 * `POST /v1/reports?sha256=HEX` (a client or node reports a source that sent a bad chunk, signed with the
 * reporter's libp2p key: the ReelnetNode authorization over the method, the path and the body's SHA-256 in the
 * query, so the body is signed too), `GET /v1/quarantine` and `DELETE /v1/quarantine/:peerId` (operator).
 * See main/reports.ts for who counts and when a source is quarantined.
 */
import { createHash } from 'node:crypto'
import { Hono } from 'hono'
import { z } from 'zod'
import type { MainEnv } from '../auth.ts'
import { requireOperator } from '../auth.ts'
import { unauthorized, forbidden, invalid, notFound, tooLarge, tooManyRequests } from '../errors.ts'
import type { MainServices } from '../services.ts'
import { validate, peerIdSchema, regionSchema, itemIdSchema } from '../validate.ts'
import { parseNodeAuth, verifyNodeAuth } from '../../protocol/node-auth.ts'
import { MAX_CHUNK_COUNT } from '../../protocol/limits.ts'
import { MAX_CLOCK_SKEW_MS } from '../limits.ts'

/** A report is a few short fields; a larger body is not one. */
export const MAX_REPORT_BODY_BYTES = 2048

const reportBody = z.strictObject({
  itemId: itemIdSchema,
  source: peerIdSchema,
  region: regionSchema,
  chunkIndex: z.number().int().min(0).max(MAX_CHUNK_COUNT)
})
const reportQuery = z.strictObject({ sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 is the body\'s SHA-256 in hex') })
const peerParam = z.strictObject({ peerId: peerIdSchema })

export function reportRoutes (s: MainServices): Hono<MainEnv> {
  const app = new Hono<MainEnv>()

  app.post('/reports', validate('query', reportQuery), async (c) => {
    const header = c.req.header('authorization')
    let reporter: string
    try {
      const url = new URL(c.req.url)
      reporter = verifyNodeAuth(parseNodeAuth(header), { method: 'POST', pathWithQuery: url.pathname + url.search, now: s.now(), maxSkewMs: MAX_CLOCK_SKEW_MS })
    } catch (err) {
      s.metrics.sourceReports.inc({ outcome: 'unauthenticated' })
      throw unauthorized(`report authorization refused: ${(err as Error).message}`)
    }
    const text = await c.req.text()
    if (text.length > MAX_REPORT_BODY_BYTES) throw tooLarge(`a report is at most ${MAX_REPORT_BODY_BYTES} bytes`)
    if (createHash('sha256').update(text).digest('hex') !== c.req.valid('query').sha256) throw unauthorized('the report body is not the one signed (sha256 differs)')
    let json: unknown
    try { json = JSON.parse(text) } catch { throw invalid('the report is not JSON') }
    const parsed = reportBody.safeParse(json)
    if (!parsed.success) throw invalid(`bad report: ${parsed.error.issues.map(i => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`)
    const r = parsed.data
    if (r.source === reporter) throw invalid('a reporter cannot report itself')
    const node = s.registry.get(reporter)
    const identity = node !== undefined && node.region === r.region
      ? `node:${reporter}`
      : await (async () => { const a = await s.reports.clientAccount(reporter, r.region); return a === undefined ? undefined : `account:${a}` })()
    if (identity === undefined) {
      s.metrics.sourceReports.inc({ outcome: 'unlicensed' })
      throw forbidden(`only a node of region ${r.region} or a client holding an unexpired directive there may report its sources`)
    }
    if (!s.reports.allow(reporter)) {
      s.metrics.sourceReports.inc({ outcome: 'rate_limited' })
      throw tooManyRequests('too many reports; wait a minute', 60)
    }
    const sourceRole = s.registry.get(r.source)?.role ?? 'peer'
    const result = await s.reports.add({ reporter: identity, source: r.source, sourceRole, region: r.region, itemId: r.itemId, chunkIndex: r.chunkIndex })
    s.metrics.sourceReports.inc({ outcome: 'accepted' })
    return c.json(result, 202)
  })

  app.get('/quarantine', requireOperator(s), (c) => c.json({ quarantined: s.reports.quarantined(), open: s.reports.openReports() }))

  app.delete('/quarantine/:peerId', requireOperator(s), validate('param', peerParam), async (c) => {
    const { peerId } = c.req.valid('param')
    const cleared = await s.reports.clear(peerId)
    if (cleared === undefined) throw notFound(`${peerId} is not quarantined`)
    return c.json({ cleared })
  })
  return app
}
