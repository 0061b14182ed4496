/**
 * Catalog lifecycle through app.request() (issue 15): terms, windows, regions, prices, takedown, versions, and
 * what the signed rules carry. Every new route and every refusal has a case here.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { newKit, nodeKey, customer, ingest, OPERATOR, ADMIN, T0, type Kit } from './test-kit.ts'
import { verifyLicense, verifyDirective, verifyRules, verifyManifest } from '../protocol/documents.ts'
import { fromText } from '../protocol/signing.ts'
import { OlderVersionError } from '../protocol/errors.ts'
import { DEFAULT_DIRECTIVE_TTL_MS } from './limits.ts'
import { VERSION_COLLECT_MS } from './lifecycle.ts'

let kit: Kit
let itemId: string
const FILM = new Uint8Array(200_000).fill(3)
const CUT2 = new Uint8Array(150_000).fill(9)
const HOUR = 3600_000

test.before.each(async () => {
  kit = await newKit({ heartbeatTimeoutMs: 15_000 })
  itemId = await ingest(kit, FILM, 'Region film')
  // a parent in eu and in us, so both regions are in the rules and sign-up accepts them
  for (const region of ['eu', 'us']) {
    const k = nodeKey()
    assert.is((await kit.req('POST', '/v1/nodes', { token: OPERATOR, json: { peerId: k.peerId, role: 'parent', region, addrs: ['/ip4/127.0.0.1/tcp/4001'], capacityBytes: 1e9 } })).status, 201)
  }
})
test.after.each(async () => { await kit.close() })

async function patch (id: string, json: unknown, token = ADMIN): Promise<Response> {
  return await kit.req('PATCH', `/v1/items/${id}`, { token, json })
}

async function rent (token: string, id = itemId): Promise<Response> {
  return await kit.req('POST', '/v1/rentals', { token, json: { itemId: id } })
}

async function errorOf (res: Response): Promise<{ status: number, code: string, message: string }> {
  const body = await res.json() as { error: { code: string, message: string } }
  return { status: res.status, ...body.error }
}

async function rules (): Promise<ReturnType<typeof verifyRules>> {
  return verifyRules(await rulesBytes(), { publicKey: await kit.publicKey(), now: kit.clock.now })
}

async function rulesBytes (): Promise<Uint8Array> {
  const res = await kit.req('GET', '/v1/rules')
  return fromText((await res.json() as { rules: string }).rules)
}

async function catalogOf (region?: string): Promise<Array<Record<string, unknown>>> {
  const res = await kit.req('GET', `/v1/catalog${region === undefined ? '' : `?region=${region}`}`)
  assert.is(res.status, 200)
  return (await res.json() as { items: Array<Record<string, unknown>> }).items
}

test('PATCH /v1/items/:id sets terms (admin only, validated), the catalog shows them and the rules carry the window and priority', async () => {
  const from = T0 + 2 * HOUR
  const res = await patch(itemId, { rentalHours: 72, rentalPrice: { amount: 399, currency: 'EUR' }, purchasePrice: { amount: 1299, currency: 'EUR' }, maxDevices: 3, availableFrom: new Date(from).toISOString(), priority: 7 })
  assert.is(res.status, 200, await res.clone().text())
  const body = await res.json() as { terms: Record<string, unknown>, rulesVersion: number }
  assert.equal(body.terms, { rental: { hours: 72, price: { amount: 399, currency: 'EUR' } }, purchase: { price: { amount: 1299, currency: 'EUR' } }, maxDevices: 3, availableFrom: from, priority: 7 })
  const r = await rules()
  assert.is(r.version, body.rulesVersion, 'the change published the rules')
  assert.equal(r.regions.find(g => g.name === 'eu')?.items, [{ itemId, versions: [1], availableFrom: from, priority: 7 }])
  assert.equal(r.removed, [])
  // refusals: no admin, a customer's session, a bad price, a window that ends before it starts, an unknown item, extra fields
  assert.is((await patch(itemId, { maxDevices: 2 }, 'nope')).status, 401)
  const { token } = await customer(kit, 'pat', 'eu')
  assert.is((await patch(itemId, { maxDevices: 2 }, token)).status, 403)
  assert.is((await patch(itemId, { rentalPrice: { amount: 3.99, currency: 'EUR' } })).status, 422)
  assert.is((await patch(itemId, { rentalPrice: { amount: 399, currency: 'euro' } })).status, 422)
  const backwards = await errorOf(await patch(itemId, { availableUntil: from - 1 }))
  assert.is(backwards.status, 422)
  assert.match(backwards.message, new Date(from).toISOString())
  assert.is((await patch('f'.repeat(32), { maxDevices: 2 })).status, 404)
  assert.is((await patch(itemId, { colour: 'red' })).status, 422)
  // null clears a field
  const cleared = await (await patch(itemId, { availableFrom: null, priority: null })).json() as { terms: Record<string, unknown> }
  assert.is(cleared.terms.availableFrom, undefined)
  assert.is(cleared.terms.priority, undefined)
})

test('windows: before availableFrom the item is held (in the rules) but not rentable, naming the date; at the date it is; after availableUntil a sold licence still plays', async () => {
  const from = T0 + HOUR
  const until = T0 + 5 * HOUR
  assert.is((await patch(itemId, { availableFrom: from, availableUntil: until })).status, 200)
  const { token } = await customer(kit, 'wendy', 'eu')
  assert.equal(await catalogOf('eu'), [], 'not in the catalog before its window')
  assert.ok((await rules()).regions.find(g => g.name === 'eu')?.items?.some(i => i.itemId === itemId), 'parents hold it already')
  const early = await errorOf(await rent(token))
  assert.equal([early.status, early.code], [403, 'not_yet_available'])
  assert.match(early.message, new Date(from).toISOString())
  kit.clock.now = from
  assert.is((await catalogOf('eu')).length, 1)
  const rented = await rent(token)
  assert.is(rented.status, 201)
  const { licenseId } = await rented.json() as { licenseId: string }
  kit.clock.now = until
  const late = await errorOf(await rent(token))
  assert.equal([late.status, late.code], [403, 'no_longer_available'])
  assert.match(late.message, new Date(until).toISOString())
  assert.equal(await catalogOf('eu'), [])
  const client = nodeKey()
  const d = await kit.req('POST', '/v1/directives', { token, json: { licenseId, clientPeerId: client.peerId } })
  assert.is(d.status, 201, 'the licence sold in the window still plays after it')
})

test('regions: an item not offered in us is not in its catalog or its rules, and rentals and directives for us are refused naming the region', async () => {
  assert.is((await patch(itemId, { regions: ['eu'] })).status, 200)
  assert.is((await catalogOf('eu')).length, 1)
  assert.equal(await catalogOf('us'), [])
  const r = await rules()
  assert.ok(r.regions.find(g => g.name === 'eu')?.items?.some(i => i.itemId === itemId))
  assert.equal(r.regions.find(g => g.name === 'us')?.items, [], "us parents are told to hold nothing")
  const us = await customer(kit, 'usa', 'us')
  const refused = await errorOf(await rent(us.token))
  assert.equal([refused.status, refused.code], [403, 'not_offered_in_region'])
  assert.match(refused.message, 'region us')
  // a customer of eu asking for a directive in us
  const eu = await customer(kit, 'eve', 'eu')
  const { licenseId } = await (await rent(eu.token)).json() as { licenseId: string }
  const client = nodeKey()
  const d = await errorOf(await kit.req('POST', '/v1/directives', { token: eu.token, json: { licenseId, clientPeerId: client.peerId, region: 'us' } }))
  assert.equal([d.status, d.code], [403, 'not_offered_in_region'])
  assert.match(d.message, 'region us')
  assert.is((await kit.req('POST', '/v1/directives', { token: eu.token, json: { licenseId, clientPeerId: client.peerId, region: 'eu' } })).status, 201)
})

test('prices: a rental records the offer\'s price and currency in the signed licence; GET /v1/rentals lists it', async () => {
  assert.is((await patch(itemId, { rentalHours: 24, rentalPrice: { amount: 499, currency: 'USD' } })).status, 200)
  const { token, accountId } = await customer(kit, 'payer', 'eu')
  const res = await rent(token)
  const body = await res.json() as { licenseId: string, license: string, price: unknown }
  assert.equal(body.price, { amount: 499, currency: 'USD' })
  const l = verifyLicense(fromText(body.license), { publicKey: await kit.publicKey(), now: kit.clock.now, itemId, accountId })
  assert.equal(l.price, { amount: 499, currency: 'USD' })
  assert.is(l.expiresAt - l.notBefore, 24 * HOUR, "the offer's period")
  const list = await (await kit.req('GET', '/v1/rentals', { token })).json() as { rentals: Array<Record<string, unknown>> }
  assert.equal(list.rentals.map(r => [r.licenseId, r.title, r.price, r.status]), [[body.licenseId, 'Region film', { amount: 499, currency: 'USD' }, 'active']])
  assert.is((await kit.req('GET', '/v1/rentals')).status, 401)
  // an item with no price: the licence says nothing about price (old behaviour)
  const free = await ingest(kit, new Uint8Array(70_000).fill(1), 'Free film')
  const f = await (await rent(token, free)).json() as { license: string, price: unknown }
  assert.is(f.price, null)
  assert.is(verifyLicense(fromText(f.license), { publicKey: await kit.publicKey(), now: kit.clock.now }).price, undefined)
})

test('takedown: DELETE /v1/items/:id (admin) leaves the catalog at once, lists it as removed in the rules, refuses rentals, directives (410) and manifests, and ends licences with the reason', async () => {
  const { token } = await customer(kit, 'viewer', 'eu')
  const { licenseId } = await (await rent(token)).json() as { licenseId: string }
  const before = (await rules()).version
  assert.is((await kit.req('DELETE', `/v1/items/${itemId}`, { token, json: { reason: 'x' } })).status, 403, 'a customer cannot')
  assert.is((await kit.req('DELETE', `/v1/items/${itemId}`, { token: ADMIN, json: { reason: 'x'.repeat(400) } })).status, 422)
  assert.is((await kit.req('DELETE', `/v1/items/${'e'.repeat(32)}`, { token: ADMIN })).status, 404)
  const res = await kit.req('DELETE', `/v1/items/${itemId}`, { token: ADMIN, json: { reason: 'legal notice 42' } })
  assert.is(res.status, 200)
  assert.equal(await catalogOf(), [])
  const r = await rules()
  assert.ok(r.version > before)
  assert.equal(r.removed, [itemId])
  assert.not.ok(r.regions.some(g => g.items?.some(i => i.itemId === itemId)))
  const client = nodeKey()
  const d = await errorOf(await kit.req('POST', '/v1/directives', { token, json: { licenseId, clientPeerId: client.peerId } }))
  assert.equal([d.status, d.code], [410, 'item_removed'])
  assert.match(d.message, 'legal notice 42')
  assert.is((await rent(token)).status, 410)
  assert.is((await kit.req('GET', `/v1/items/${itemId}`)).status, 410)
  const mine = await (await kit.req('GET', `/v1/rentals/${licenseId}`, { token })).json() as { status: string, endedReason: string }
  assert.is(mine.status, 'removed')
  assert.match(mine.endedReason, 'legal notice 42')
  assert.is((await patch(itemId, { maxDevices: 1 })).status, 410, 'a removed item takes no new terms')
  const health = await (await kit.req('GET', '/healthz')).json() as { items: number }
  assert.is(health.items, 0)
})

test('replace: ingest ?replace= makes version 2 of the same itemId; ?version=N serves each; new rentals get v2; a v1 download keeps v1 until its directive ends, then v1 is collected', async () => {
  const { token } = await customer(kit, 'holder', 'eu')
  const { licenseId } = await (await rent(token)).json() as { licenseId: string }
  const client = nodeKey()
  const d1 = await (await kit.req('POST', '/v1/directives', { token, json: { licenseId, clientPeerId: client.peerId } })).json() as { directive: string }
  assert.is(verifyDirective(fromText(d1.directive), { publicKey: await kit.publicKey(), now: kit.clock.now }).itemVersion, undefined, 'version 1 is left out')
  const res = await kit.req('POST', `/v1/items?title=${encodeURIComponent('Region film (new cut)')}&chunkSize=65536&replace=${itemId}`, { body: CUT2 as RequestInit['body'], token: ADMIN })
  assert.is(res.status, 201, await res.clone().text())
  const rep = await res.json() as { itemId: string, version: number }
  assert.equal([rep.itemId, rep.version], [itemId, 2])
  const key = await kit.publicKey()
  const v1 = await (await kit.req('GET', `/v1/items/${itemId}?version=1`)).json() as { manifest: string }
  const v2 = await (await kit.req('GET', `/v1/items/${itemId}`)).json() as { manifest: string, version: number }
  assert.is(v2.version, 2)
  assert.is(verifyManifest(fromText(v1.manifest), { publicKey: key, itemId }).size, FILM.length)
  assert.is(verifyManifest(fromText(v2.manifest), { publicKey: key, itemId }).size, CUT2.length)
  assert.is((await kit.req('GET', `/v1/items/${itemId}?version=3`)).status, 404)
  assert.is((await kit.req('GET', `/v1/items/${itemId}?version=0`)).status, 422)
  // the v1 download asks to continue on v1: granted while live; a new directive without asking gets v2
  const cont = await (await kit.req('POST', '/v1/directives', { token, json: { licenseId, clientPeerId: client.peerId, itemVersion: 1 } })).json() as { directive: string }
  assert.is(verifyDirective(fromText(cont.directive), { publicKey: key, now: kit.clock.now }).itemVersion, undefined)
  const fresh = await (await kit.req('POST', '/v1/directives', { token, json: { licenseId, clientPeerId: client.peerId } })).json() as { directive: string }
  assert.is(verifyDirective(fromText(fresh.directive), { publicKey: key, now: kit.clock.now }).itemVersion, 2)
  assert.equal((await rules()).regions.find(g => g.name === 'eu')?.items?.find(i => i.itemId === itemId)?.versions, [1, 2])
  // origin chunks of v1 are served by key itemId (v1) and itemId@2
  const node = nodeKey()
  void node
  // a hold runs half a directive lifetime past the directive (main/catalog.ts noteInUse): not collected yet
  kit.clock.now += DEFAULT_DIRECTIVE_TTL_MS + 1
  assert.equal(await kit.main.services.catalog.collectVersions(kit.clock.now), [])
  assert.is((await kit.main.store.listItemVersions(itemId)).find(v => v.version === 1)?.heldUntil, T0 + DEFAULT_DIRECTIVE_TTL_MS * 3 / 2, 'the hold is stored for other mains')
  // once past it, collection drops v1 from the rules and the store. The time is handed to this call only: main's
  // own collector (every VERSION_COLLECT_MS of real time, on the kit's clock) would otherwise race it on a slow
  // run, collect v1 during this call's awaits, and leave it nothing to return
  const collected = await kit.main.services.catalog.collectVersions(kit.clock.now + DEFAULT_DIRECTIVE_TTL_MS / 2)
  assert.equal(collected, [{ itemId, version: 1 }])
  assert.equal((await rules()).regions.find(g => g.name === 'eu')?.items?.find(i => i.itemId === itemId)?.versions, [2])
  assert.is((await kit.req('GET', `/v1/items/${itemId}?version=1`)).status, 410)
  const late = await (await kit.req('POST', '/v1/directives', { token, json: { licenseId, clientPeerId: client.peerId, itemVersion: 1 } })).json() as { directive: string }
  assert.is(verifyDirective(fromText(late.directive), { publicKey: key, now: kit.clock.now }).itemVersion, 2, 'a collected version is not granted: the newest is')
  assert.ok(VERSION_COLLECT_MS > 0)
  // replacing with the same bytes, or an unknown item, is refused
  assert.is((await kit.req('POST', `/v1/items?title=x&chunkSize=65536&replace=${itemId}`, { body: CUT2 as RequestInit['body'], token: ADMIN })).status, 409)
  assert.is((await kit.req('POST', `/v1/items?title=x&chunkSize=65536&replace=${'a'.repeat(32)}`, { body: CUT2 as RequestInit['body'], token: ADMIN })).status, 404)
})

test('a hold another main stored (its download on v1) keeps v1 from the collector here and in the rules', async () => {
  const res = await kit.req('POST', `/v1/items?title=cut&chunkSize=65536&replace=${itemId}`, { body: CUT2 as RequestInit['body'], token: ADMIN })
  assert.is(res.status, 201)
  // no directive on v1 through this main; another main (same store) says a download runs on v1 for an hour
  await kit.main.store.holdItemVersion(itemId, 1, T0 + HOUR)
  assert.equal(await kit.main.services.catalog.collectVersions(kit.clock.now), [])
  assert.equal((await rules()).regions.find(g => g.name === 'eu')?.items?.find(i => i.itemId === itemId)?.versions, [1, 2])
  // past the hold, handed to this call only (main's own collector runs on the kit's clock, which stays before it)
  assert.equal(await kit.main.services.catalog.collectVersions(T0 + HOUR + 1), [{ itemId, version: 1 }])
})

test('ingest takes terms as JSON, stored before the item is visible; bad terms are refused before any byte is kept', async () => {
  const terms = JSON.stringify({ rentalPrice: { amount: 250, currency: 'GBP' }, regions: ['us'], availableUntil: T0 + HOUR })
  const res = await kit.req('POST', `/v1/items?title=Termed&chunkSize=65536&terms=${encodeURIComponent(terms)}`, { body: new Uint8Array(90_000).fill(5) as RequestInit['body'], token: ADMIN })
  assert.is(res.status, 201)
  const { itemId: id } = await res.json() as { itemId: string }
  const us = (await catalogOf('us')).find(i => i.itemId === id)
  assert.equal(us?.rental, { hours: 48, price: { amount: 250, currency: 'GBP' } })
  assert.is((await catalogOf('eu')).find(i => i.itemId === id), undefined)
  assert.is((await kit.req('POST', `/v1/items?title=Bad&terms=${encodeURIComponent('{"regions":[]}')}`, { body: new Uint8Array(10) as RequestInit['body'], token: ADMIN })).status, 422)
  assert.is((await kit.req('POST', `/v1/items?title=Bad&terms=notjson`, { body: new Uint8Array(10) as RequestInit['body'], token: ADMIN })).status, 422)
})

test('rules with items and removed are signed and versioned: a tampered copy fails, an older one is refused as a replay', async () => {
  const key = await kit.publicKey()
  const first = await rulesBytes()
  await kit.req('DELETE', `/v1/items/${itemId}`, { token: ADMIN })
  const second = await rulesBytes()
  const held = verifyRules(second, { publicKey: key, now: kit.clock.now })
  assert.equal(held.removed, [itemId])
  assert.throws(() => verifyRules(first, { publicKey: key, now: kit.clock.now, held: { version: held.version, bytes: second } }), (e: Error) => e instanceof OlderVersionError)
  const text = Buffer.from(second).toString('latin1')
  const at = text.indexOf(itemId)
  assert.ok(at > 0)
  const tampered = new Uint8Array(second)
  tampered[at] = tampered[at] === 0x61 ? 0x62 : 0x61
  assert.throws(() => verifyRules(tampered, { publicKey: key, now: kit.clock.now }))
})

test.run()
