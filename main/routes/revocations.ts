/**
 * Revocation (issue 14b): `GET /v1/revocations` (the current signed revocation list, with an ETag, polled by
 * nodes and clients like the rules), `POST /v1/admin/revoke` (admin: revoke a licence, an account or one
 * session) and `POST /v1/quarantine` (operator: quarantine a node or peer by decision; it enters the list's
 * `nodes`).
 */
import { Hono } from 'hono'
import { z } from 'zod'
import type { MainEnv } from '../auth.ts'
import { requireAdmin, requireOperator } from '../auth.ts'
import type { MainServices } from '../services.ts'
import { versionedDocument } from './conditional.ts'
import type { LicenseRecord } from '../store.ts'
import { validate, peerIdSchema, licenseIdSchema } from '../validate.ts'
import { ApiError, notFound } from '../errors.ts'
import { USERNAME_RE } from '../limits.ts'

const revokeBody = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('license'), id: licenseIdSchema }),
  // an accountId (a UUID), or the account's username
  z.strictObject({ kind: z.literal('account'), id: z.string().refine(v => /^[0-9a-f-]{36}$/.test(v) || USERNAME_RE.test(v), 'an accountId (UUID) or a username') }),
  // a session's id: the SHA-256 of its token in hex (the login answer's sessionId); main keeps no token
  z.strictObject({ kind: z.literal('session'), id: z.string().regex(/^[0-9a-f]{64}$/, 'a session id is 64 hex characters (sha256 of the token)') })
])
const quarantineBody = z.strictObject({ peerId: peerIdSchema })

/** 403 for a licence, or its account, that was revoked (what directives and holdings refuse). */
export function refuseRevoked (s: MainServices, license: LicenseRecord): void {
  if (s.revocations.isLicenseRevoked(license.licenseId)) throw new ApiError(403, 'license_revoked', `licence ${license.licenseId} has been revoked`)
  if (s.revocations.isAccountRevoked(license.accountId)) throw new ApiError(403, 'account_revoked', 'this account has been revoked')
}

export function revocationRoutes (s: MainServices): Hono<MainEnv> {
  const app = new Hono<MainEnv>()

  app.get('/revocations', async (c) => {
    await s.revocations.refreshIfAging()
    const cur = s.revocations.current
    return versionedDocument(c, `"r${cur.version}"`, { version: cur.version, revocations: cur.envelope })
  })

  app.post('/admin/revoke', requireAdmin(s), validate('json', revokeBody), async (c) => {
    const body = c.req.valid('json')
    let id = body.id
    let until: number | undefined
    let devices: string[] = []
    if (body.kind === 'license') {
      const l = await s.licenses.get(id)
      if (l === undefined) throw notFound(`no licence ${id}`)
      until = l.expiresAt
      devices = await s.store.licenseDevices(id, s.now())
    } else if (body.kind === 'account') {
      const accountId = /^[0-9a-f-]{36}$/.test(id) ? id : await s.accounts.byUsername(id)
      if (accountId === undefined || await s.accounts.get(accountId) === undefined) throw notFound(`no account ${id}`)
      id = accountId
    } else {
      const session = await s.accounts.sessionById(id)
      if (session === undefined) throw notFound(`no session ${id.slice(0, 12)}… (it may have expired)`)
      until = session.expiresAt
    }
    const { record, created, state } = await s.revocations.revoke(body.kind, id, until)
    // nodes refuse its directives from the list; main also stops vouching for its client peers at once
    if (devices.length > 0) s.directives.dropAdmissions(devices)
    return c.json({ kind: record.kind, id: record.id, revokedAt: record.at, created, revocationsVersion: state.version }, created ? 201 : 200)
  })

  app.post('/quarantine', requireOperator(s), validate('json', quarantineBody), async (c) => {
    const { peerId } = c.req.valid('json')
    const node = s.registry.get(peerId)
    const { entry, created } = await s.reports.quarantine(peerId, node?.role ?? 'peer', node?.region ?? '')
    await s.revocations.nodesChanged()
    return c.json({ quarantined: entry, created, revocationsVersion: s.revocations.version }, created ? 201 : 200)
  })
  return app
}
