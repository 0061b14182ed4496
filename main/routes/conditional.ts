/**
 * A signed document that main re-signs now and then (the rules, the revocation list), answered with its
 * version as ETag: 304 when the caller's If-None-Match already names it, so polling nodes and clients
 * fetch the envelope only when it changed.
 */
import type { Context } from 'hono'

export function versionedDocument (c: Context, etag: string, body: Record<string, unknown>): Response {
  c.header('ETag', etag)
  c.header('Cache-Control', 'no-cache')
  const inm = c.req.header('if-none-match')
  if (inm !== undefined && inm.split(',').map(x => x.trim().replace(/^W\//, '')).includes(etag)) return c.body(null, 304)
  return c.json(body)
}
