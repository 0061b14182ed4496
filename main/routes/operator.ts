/**
 * What the operator page reads and does beyond the node and rules routes:
 * `GET /v1/operator/overview` (regions with their nodes, items with who holds
 * them, directives per minute, recent errors) and `POST /v1/node-tokens`
 * (mint a registration token for one new node, with the command to run it).
 */
import { Hono } from 'hono'
import { contentKeyOf } from '../../protocol/item-key.ts'
import { z } from 'zod'
import type { MainEnv } from '../auth.ts'
import { requireOperator } from '../auth.ts'
import type { MainServices } from '../services.ts'
import { validate, regionSchema } from '../validate.ts'
import { toBase64url } from '../../protocol/encoding.ts'
import { tooManyRequests } from '../errors.ts'

const mintBody = z.strictObject({ role: z.enum(['parent', 'edge']), region: regionSchema })

/** Quote a value for a POSIX shell command line (the page shows a command to paste). */
function shellQuote (v: string): string {
  return /^[A-Za-z0-9_./:=@+,-]+$/.test(v) ? v : `'${v.replaceAll("'", "'\\''")}'`
}

export function operatorRoutes (s: MainServices): Hono<MainEnv> {
  const app = new Hono<MainEnv>()

  app.post('/node-tokens', requireOperator(s), validate('json', mintBody), async (c) => {
    const scope = c.req.valid('json')
    let minted
    try {
      minted = await s.nodeTokens.mint(scope)
    } catch (err) {
      if (err instanceof RangeError) throw tooManyRequests(err.message, 3600)
      throw err
    }
    const mainUrl = new URL(c.req.url).origin
    const command = ['reelnet', 'node', '--role', scope.role, '--region', scope.region, '--main', mainUrl,
      '--data', `./reelnet-${scope.role}-${scope.region}`, '--operator-token', minted.token,
      `--main-key=${toBase64url(s.signer.publicKey)}`].map(shellQuote).join(' ')
    return c.json({ token: minted.token, role: scope.role, region: scope.region, expiresAt: minted.record.expiresAt, command }, 201)
  })

  app.get('/operator/overview', requireOperator(s), (c) => {
    const now = s.now()
    const nodes = s.registry.all().sort((a, b) => a.region.localeCompare(b.region) || a.role.localeCompare(b.role) || a.peerId.localeCompare(b.peerId))
    const regionNames = [...new Set([...s.registry.regions(), ...s.rules.rules.regions.map(r => r.name)])].sort()
    const regions = regionNames.map(name => ({
      name,
      preposition: s.rules.preposition(name),
      operatorPreposition: s.rules.operatorPreposition(name),
      nodes: nodes.filter(n => n.region === name).map(n => ({
        peerId: n.peerId,
        role: n.role,
        status: s.registry.isUp(n, now) ? 'up' : 'down',
        drained: n.drained,
        quarantined: s.reports.isQuarantined(n.peerId),
        load: n.load,
        freeBytes: n.freeBytes,
        capacityBytes: n.capacityBytes,
        bytesServed: n.bytesServed,
        heldItems: n.heldItems.length,
        lacking: n.lacking ?? [],
        lastHeartbeatAgeMs: Math.max(0, now - n.lastSeen),
        addrs: n.addrs
      }))
    }))
    const items = s.catalog.list().map(item => {
      // nodes report held items by wire key: the newest version's is what counts as holding the item (issue 15)
      const key = contentKeyOf(item.itemId, s.catalog.newestVersion(item.itemId))
      const holders = nodes.filter(n => n.heldItems.includes(key))
      const terms = s.catalog.terms(item.itemId)
      const prepositionedIn = regionNames.filter(r => s.rules.preposition(r).includes(item.itemId))
      return {
        itemId: item.itemId,
        title: item.title,
        size: item.size,
        chunkCount: item.chunkCount,
        parentsHolding: holders.filter(n => n.role === 'parent').length,
        parents: nodes.filter(n => n.role === 'parent').length,
        edgesHolding: holders.filter(n => n.role === 'edge').map(n => n.peerId),
        edgesPrepositioning: nodes.filter(n => n.role === 'edge' && prepositionedIn.includes(n.region) && !n.heldItems.includes(key)).map(n => n.peerId),
        prepositionedIn,
        version: s.catalog.newestVersion(item.itemId),
        liveVersions: s.catalog.liveVersions(item.itemId, now),
        priority: terms?.priority ?? 0,
        regions: terms?.regions ?? null,
        availableFrom: terms?.availableFrom ?? null,
        availableUntil: terms?.availableUntil ?? null,
        parentsLacking: nodes.filter(n => (n.lacking ?? []).includes(item.itemId)).map(n => n.peerId)
      }
    }).sort((a, b) => b.priority - a.priority)
    const removed = s.catalog.allTerms().filter(([, t]) => t.removedAt !== undefined)
      .map(([itemId, t]) => ({ itemId, title: s.catalog.get(itemId)?.title ?? null, removedAt: t.removedAt, reason: t.removedReason ?? null }))
      .sort((a, b) => (b.removedAt ?? 0) - (a.removedAt ?? 0)).slice(0, 50)
    return c.json({
      now,
      rulesVersion: s.rules.version,
      keyId: s.signer.keyId,
      heartbeatTimeoutMs: s.registry.heartbeatTimeoutMs,
      regions,
      items,
      removed,
      directivesPerMinute: s.activity.directivesPerMinute(),
      recentErrors: s.activity.recentErrors(),
      quarantined: s.reports.quarantined(),
      openReports: s.reports.openReports()
    })
  })
  return app
}
