/**
 * The conformance suite every MainStore implementation must pass (not a
 * suite file itself: main/storage/level.test.ts and postgres.test.ts run it).
 * `open` opens the same database each time it is called, so the suite can
 * check that a reopened store has every write; `second`, where the
 * implementation allows two stores on one database at once, checks what
 * several mains rely on.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { randomUUID } from 'node:crypto'
import type { MainStore, AccountRecord, NodeRecord, RulesState, LicenseRecord, ItemTerms, ItemVersionRecord, HoldingRecord } from './types.ts'

export interface ConformanceTarget {
  name: string
  open: () => Promise<MainStore>
  /** Another store on the same database, open at the same time (PostgreSQL); undefined where one process owns it. */
  second?: () => Promise<MainStore>
}

const T = 1_800_000_000_000
/** Waits of 2 ms for a store's clock to move on by a millisecond: 10 s of them is a clock that stands still. */
const CLOCK_WAIT_STEPS = 5_000

function account (username: string): AccountRecord {
  return { accountId: randomUUID(), username, createdAt: T, password: { alg: 'scrypt', N: 1024, r: 8, p: 1, salt: 'c2FsdA', hash: 'aGFzaA' } as unknown as AccountRecord['password'] }
}

function node (peerId: string, region = 'eu'): NodeRecord {
  return {
    peerId, role: 'edge', region, addrs: ['/ip4/127.0.0.1/tcp/1'], capacityBytes: 1 << 30, registeredAt: T, drained: false,
    lastSeen: T, lastSeq: -1, lastSentAt: 0, load: 0, freeBytes: 1 << 30, bytesServed: { edge: 0, parent: 0, peer: 0, client: 0 }, heldItems: []
  }
}

async function collect<X> (it: AsyncIterable<X>): Promise<X[]> {
  const out: X[] = []
  for await (const x of it) out.push(x)
  return out
}

function holding (itemId: string, peerId: string, expiresAt: number, complete = true): HoldingRecord {
  return { itemId, peerId, licenseId: `lic-${peerId}`, addrs: [`/ip4/127.0.0.1/tcp/${peerId.length}`], region: 'eu', complete, reportedAt: T, expiresAt }
}

const rulesAt = (version: number): RulesState => ({ version, issuedAt: T + version, expiresAt: T + version + 1000, envelope: `env-${version}` })

export function conformance (target: ConformanceTarget): ReturnType<typeof suite> {
  const test = suite<{ store: MainStore }>(`store conformance: ${target.name}`, { store: undefined as unknown as MainStore })
  test.before(async (ctx) => { ctx.store = await target.open() })
  test.after(async (ctx) => { await ctx.store.close() })

  test('accounts: created once per username whatever its case, found by id and by name', async ({ store }) => {
    const a = account('Alice')
    assert.ok(await store.createAccount(a))
    assert.equal(await store.getAccount(a.accountId), a)
    assert.is(await store.accountIdByUsername('aLiCe'), a.accountId)
    assert.not.ok(await store.createAccount(account('ALICE')), 'the same name in another case is taken')
    assert.is(await store.getAccount(randomUUID()), undefined)
    assert.is(await store.accountIdByUsername('nobody'), undefined)
  })

  test('accounts: of many concurrent creations of one name exactly one wins', async ({ store }) => {
    const tries = Array.from({ length: 12 }, () => account('Racer'))
    const won = await Promise.all(tries.map(async a => await store.createAccount(a)))
    assert.is(won.filter(Boolean).length, 1)
    const winner = tries[won.indexOf(true)]!
    assert.is(await store.accountIdByUsername('racer'), winner.accountId)
    const all = await collect(store.listAccounts())
    assert.is(all.filter(a => a.username === 'Racer').length, 1)
  })

  test('sessions: put, get, list, delete', async ({ store }) => {
    const id = 'ab'.repeat(32)
    assert.is(await store.getSession(id), undefined)
    await store.putSession(id, { accountId: 'x', expiresAt: T + 5 })
    assert.equal(await store.getSession(id), { accountId: 'x', expiresAt: T + 5 })
    assert.ok((await collect(store.listSessionIds())).includes(id))
    await store.deleteSession(id)
    assert.is(await store.getSession(id), undefined)
    await store.deleteSession(id)
  })

  test('items and licenses: put replaces, get and list return what was put', async ({ store }) => {
    const item = { itemId: 'i'.repeat(32), title: 'T', size: 10, chunkSize: 4, chunkCount: 3, manifest: 'm', createdAt: T }
    await store.putItem(item)
    await store.putItem({ ...item, title: 'T2' })
    assert.equal(await store.getItem(item.itemId), { ...item, title: 'T2' })
    assert.equal((await collect(store.listItems())).filter(i => i.itemId === item.itemId), [{ ...item, title: 'T2' }])
    const lic = { licenseId: randomUUID(), accountId: 'a', itemId: item.itemId, notBefore: T, expiresAt: T + 48 * 3600_000, license: 'l' }
    await store.putLicense(lic)
    assert.equal(await store.getLicense(lic.licenseId), lic)
    assert.is(await store.getLicense(randomUUID()), undefined)
  })

  test('nodes: heartbeat state round-trips and replaces', async ({ store }) => {
    const n = node('peer-a')
    await store.putNode(n)
    const beat = { ...n, lastSeq: 7, lastSentAt: T + 9, load: 0.25, heldItems: ['x', 'y'], bytesServed: { edge: 1, parent: 2, peer: 3, client: 2 ** 40 } }
    await store.putNode(beat)
    assert.equal(await store.getNode('peer-a'), beat)
    assert.equal((await collect(store.listNodes())).filter(x => x.peerId === 'peer-a'), [beat])
  })

  test('preposition lists and the demand plan', async ({ store }) => {
    await store.setPreposition('eu', ['a', 'b'])
    await store.setPreposition('us', ['c'])
    await store.setPreposition('us', [])
    const lists = new Map(await collect(store.listPreposition()))
    assert.equal(lists.get('eu'), ['a', 'b'])
    assert.not.ok(lists.has('us'))
    assert.is(await store.getAutoPlan(), undefined)
    await store.putAutoPlan({ eu: ['z'] })
    assert.equal(await store.getAutoPlan(), { eu: ['z'] })
  })

  test('rules: versions start at 1, grow by one, and a failed publish takes no number', async ({ store }) => {
    assert.is(await store.currentRules(), undefined)
    const one = await store.publishRules(rulesAt)
    assert.is(one.version, 1)
    assert.equal(await store.currentRules(), one)
    await store.publishRules(() => { throw new Error('signing failed') }).then(() => assert.unreachable('should throw'), (err: Error) => assert.match(err.message, 'signing failed'))
    assert.is((await store.publishRules(rulesAt)).version, 2)
    assert.equal(await store.currentRules(), rulesAt(2))
  })

  test('rules: concurrent publishes each get a distinct next version', async ({ store }) => {
    const start = (await store.currentRules())?.version ?? 0
    const got = await Promise.all(Array.from({ length: 10 }, async () => (await store.publishRules(rulesAt)).version))
    assert.equal([...got].sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => start + i + 1))
    assert.is((await store.currentRules())?.version, start + 10)
  })

  test('admissions: the last write of a key wins; undefined expiry deletes', async ({ store }) => {
    await store.writeAdmissions([
      { region: 'eu', clientPeerId: 'c1', expiresAt: T + 1 },
      { region: 'eu', clientPeerId: 'c2', expiresAt: T + 2 },
      { region: 'us', clientPeerId: 'c1', expiresAt: T + 3 }
    ])
    await store.writeAdmissions([{ region: 'eu', clientPeerId: 'c2' }, { region: 'us', clientPeerId: 'c1', expiresAt: T + 4 }])
    await store.writeAdmissions([])
    const all = (await collect(store.listAdmissions())).sort((a, b) => a.expiresAt - b.expiresAt)
    assert.equal(all, [{ region: 'eu', clientPeerId: 'c1', expiresAt: T + 1 }, { region: 'us', clientPeerId: 'c1', expiresAt: T + 4 }])
  })

  test('node tokens: bound once, counted while unused and unexpired', async ({ store }) => {
    const base = await store.countUnusedNodeTokens(T)
    await store.putNodeToken('t1', { role: 'edge', region: 'eu', createdAt: T, expiresAt: T + 100 })
    await store.putNodeToken('t2', { role: 'parent', region: 'eu', createdAt: T, expiresAt: T + 10 })
    assert.is(await store.countUnusedNodeTokens(T), base + 2)
    assert.is(await store.countUnusedNodeTokens(T + 50), base + 1, 'an expired unused token is not counted')
    const binds = await Promise.all([store.bindNodeToken('t1', 'peer-1'), store.bindNodeToken('t1', 'peer-2')])
    assert.equal(binds.filter(Boolean).length, 1, 'two racing nodes cannot both bind one token')
    const bound = await store.getNodeToken('t1')
    assert.ok(bound?.peerId === 'peer-1' || bound?.peerId === 'peer-2')
    assert.equal({ ...bound, peerId: undefined }, { role: 'edge', region: 'eu', createdAt: T, expiresAt: T + 100, peerId: undefined })
    assert.not.ok(await store.bindNodeToken('nope', 'peer-1'))
    assert.is(await store.countUnusedNodeTokens(T), base + 1)
  })

  test('login limiter counters: count in a window, restart after it, clear, scopes apart', async ({ store }) => {
    const l = store.limiter
    assert.is(await l.get('pair', 'k', T, 1000), undefined)
    assert.equal(await l.fail('pair', 'k', T, 1000), { failures: 1, windowStart: T })
    await Promise.all(Array.from({ length: 5 }, async () => await l.fail('pair', 'k', T + 10, 1000)))
    assert.equal(await l.get('pair', 'k', T + 999, 1000), { failures: 6, windowStart: T })
    assert.is(await l.get('address', 'k', T, 1000), undefined, 'scopes are apart')
    assert.is(await l.get('pair', 'k', T + 1000, 1000), undefined, 'the window ended')
    assert.equal(await l.fail('pair', 'k', T + 1500, 1000), { failures: 1, windowStart: T + 1500 })
    await l.clear('pair', 'k')
    assert.is(await l.get('pair', 'k', T + 1500, 1000), undefined)
  })

  test('exclusive runs the work and hands back its value', async ({ store }) => {
    const r = await store.exclusive('conformance', async () => 42)
    assert.equal(r, { ran: true, value: 42 })
    await store.exclusive('conformance', async () => { throw new Error('boom') }).then(() => assert.unreachable(), (e: Error) => assert.is(e.message, 'boom'))
    assert.equal(await store.exclusive('conformance', async () => 1), { ran: true, value: 1 }, 'a failed run releases the lease')
  })

  test("storefront: an item's description and poster, stored together, round-trip", async ({ store }) => {
    const item = { itemId: `poster-${randomUUID()}`, title: 'P', size: 1, chunkSize: 1, chunkCount: 1, manifest: 'm', createdAt: T }
    await store.putItem({ ...item, description: 'A film.' })
    assert.is((await store.getItem(item.itemId))?.description, 'A film.')
    assert.is(await store.getPoster(item.itemId), undefined)
    await store.putPoster({ ...item, description: 'A film.', posterType: 'image/png' }, { type: 'image/png', data: 'iVBORw0K' })
    assert.equal(await store.getPoster(item.itemId), { type: 'image/png', data: 'iVBORw0K' })
    assert.equal(await store.getItem(item.itemId), { ...item, description: 'A film.', posterType: 'image/png' })
    await store.putPoster({ ...item, posterType: 'image/jpeg' }, { type: 'image/jpeg', data: '_9j_' })
    assert.equal(await store.getPoster(item.itemId), { type: 'image/jpeg', data: '_9j_' }, 'a new poster replaces the old')
  })

  test("licences: listed by account, only that account's", async ({ store }) => {
    const [a, b] = [randomUUID(), randomUUID()]
    const lic = (accountId: string, n: number): LicenseRecord => ({ licenseId: randomUUID(), accountId, itemId: `i${n}`, notBefore: T + n, expiresAt: T + n + 1000, license: `l${n}` })
    const mine = [lic(a, 1), lic(a, 2), lic(a, 3)]
    for (const l of [...mine, lic(b, 4)]) await store.putLicense(l)
    const listed = await collect(store.listAccountLicenses(a))
    assert.equal(listed.sort((x, y) => x.notBefore - y.notBefore), mine)
    assert.is((await collect(store.listAccountLicenses(b))).length, 1)
    assert.equal(await collect(store.listAccountLicenses(randomUUID())), [])
  })

  test('node removal: a deleted node is gone; its bound tokens are spent once, others untouched', async ({ store }) => {
    await store.putNode(node('peer-gone'))
    await store.putNode(node('peer-stays'))
    await store.deleteNode('peer-gone')
    await store.deleteNode('peer-never-was')
    assert.is(await store.getNode('peer-gone'), undefined)
    assert.ok(await store.getNode('peer-stays') !== undefined)
    assert.not.ok((await collect(store.listNodes())).some(n => n.peerId === 'peer-gone'))
    await store.putNodeToken('g1', { role: 'edge', region: 'eu', createdAt: T, expiresAt: T + 100 })
    await store.putNodeToken('g2', { role: 'edge', region: 'eu', createdAt: T, expiresAt: T + 100 })
    await store.putNodeToken('s1', { role: 'edge', region: 'eu', createdAt: T, expiresAt: T + 100 })
    assert.ok(await store.bindNodeToken('g1', 'peer-gone'))
    assert.ok(await store.bindNodeToken('g2', 'peer-gone'))
    assert.ok(await store.bindNodeToken('s1', 'peer-stays'))
    assert.is(await store.spendNodeTokens('peer-gone', T + 5), 2)
    assert.is(await store.spendNodeTokens('peer-gone', T + 6), 0, 'a spent token is not spent again')
    assert.is((await store.getNodeToken('g1'))?.spentAt, T + 5)
    assert.is((await store.getNodeToken('g2'))?.peerId, 'peer-gone')
    assert.is((await store.getNodeToken('s1'))?.spentAt, undefined)
  })

  test('quarantine: empty at first, changed in one step; undefined leaves it; concurrent changes all land', async ({ store }) => {
    const before = await store.getQuarantine()
    assert.ok(Array.isArray(before))
    const e = { peerId: 'bad-1', role: 'parent', region: 'eu', since: T, reporters: ['node:a', 'account:b'], itemId: 'i1' }
    assert.equal(await store.updateQuarantine(() => [e, { ...e, peerId: 'bad-2' }]), [e, { ...e, peerId: 'bad-2' }])
    assert.equal(await store.getQuarantine(), [e, { ...e, peerId: 'bad-2' }])
    assert.equal(await store.updateQuarantine(() => undefined), [e, { ...e, peerId: 'bad-2' }], 'undefined: unchanged')
    assert.equal(await store.updateQuarantine(cur => cur.filter(x => x.peerId === 'bad-1')), [e])
    assert.equal(await store.getQuarantine(), [e])
    // ten additions at once, each from the list it read: none overwrites another
    await Promise.all(Array.from({ length: 10 }, async (_, i) => await store.updateQuarantine(cur => [...cur, { ...e, peerId: `c-${i}` }])))
    const after = (await store.getQuarantine()).map(x => x.peerId).sort()
    assert.equal(after, ['bad-1', ...Array.from({ length: 10 }, (_, i) => `c-${i}`)].sort())
    await store.updateQuarantine(() => [e])
  })

  test('content keys: stored once per keyId, never replaced, found by keyId', async ({ store }) => {
    const k = { keyId: 'key-' + randomUUID(), itemId: 'enc-item', version: 1, key: 'A'.repeat(43), createdAt: T }
    assert.is(await store.getContentKey(k.keyId), undefined)
    assert.is(await store.putContentKey(k), true)
    assert.is(await store.putContentKey({ ...k, key: 'B'.repeat(43) }), false, 'a second key under one keyId is refused')
    assert.equal(await store.getContentKey(k.keyId), k)
    const v2 = { ...k, keyId: 'key-' + randomUUID(), version: 2, key: 'C'.repeat(43) }
    assert.is(await store.putContentKey(v2), true)
    assert.equal(await store.getContentKey(v2.keyId), v2)
    assert.equal(await store.getContentKey(k.keyId), k)
  })

  test('holdings: one per item and peer, a newer report replaces; expired ones not listed, then pruned', async ({ store }) => {
    const first = await store.changedHoldings(T, undefined, 100)
    assert.equal(first.holdings, [])
    await store.putHolding(holding('h-item', 'peerA', T + 1000, false))
    await store.putHolding(holding('h-item', 'peerB', T + 10))
    await store.putHolding(holding('h-item', 'peerA', T + 2000, true))
    await store.putHolding(holding('h-other', 'peerA', T + 1000))
    const all = await store.changedHoldings(T, undefined, 100)
    const key = (h: HoldingRecord): string => `${h.itemId}/${h.peerId}`
    assert.equal(all.holdings.map(key).sort(), ['h-item/peerA', 'h-item/peerB', 'h-other/peerA'])
    assert.equal(all.holdings.find(h => key(h) === 'h-item/peerA'), holding('h-item', 'peerA', T + 2000, true), 'the newer report replaced the older')
    assert.ok(all.asOf >= first.asOf, 'the store clock does not go back')
    assert.equal((await store.changedHoldings(T + 10, undefined, 100)).holdings.map(key).sort(), ['h-item/peerA', 'h-other/peerA'], 'expired at now: not listed')
    assert.is((await store.changedHoldings(T, undefined, 2)).holdings.length, 2, 'limit')
    // changed since: only what was written at or after the clock read. The store's clock counts milliseconds, and
    // the writes above and this read often fall in one (level: 3 of 4 times in a loop here), which would list
    // h-other as changed since: take the mark once the store's clock has moved past every write above.
    const wroteBy = (await store.changedHoldings(T, undefined, 0)).asOf
    let mark = wroteBy
    for (let k = 0; mark <= wroteBy; k++) {
      if (k === CLOCK_WAIT_STEPS) throw new Error(`the store's clock stood at ${wroteBy} for ${CLOCK_WAIT_STEPS} waits`)
      await new Promise(resolve => setTimeout(resolve, 2))
      mark = (await store.changedHoldings(T, undefined, 0)).asOf
    }
    await new Promise(resolve => setTimeout(resolve, 5))
    await store.putHolding(holding('h-late', 'peerC', T + 1000))
    const later = await store.changedHoldings(T, mark, 100)
    assert.ok(later.holdings.some(h => key(h) === 'h-late/peerC'))
    assert.not.ok(later.holdings.some(h => key(h) === 'h-other/peerA'), 'unchanged since: not read again')
    assert.is(await store.pruneHoldings(T + 10), 1)
    assert.is(await store.pruneHoldings(T + 10), 0)
    assert.equal((await store.changedHoldings(T, undefined, 100)).holdings.map(key).sort(), ['h-item/peerA', 'h-late/peerC', 'h-other/peerA'])
    await store.pruneHoldings(T + 5000)
  })

  test('demand: counts add up per bucket, concurrently too; summed since a bucket, most first; old buckets pruned', async ({ store }) => {
    assert.equal(await store.demandSince(0, 100), [])
    await store.addDemand([{ region: 'eu', itemId: 'd1', bucket: 100, count: 2 }, { region: 'eu', itemId: 'd1', bucket: 100, count: 1 }])
    await Promise.all(Array.from({ length: 6 }, async () => { await store.addDemand([{ region: 'eu', itemId: 'd1', bucket: 101, count: 1 }]) }))
    await store.addDemand([{ region: 'eu', itemId: 'd2', bucket: 99, count: 20 }, { region: 'us', itemId: 'd1', bucket: 101, count: 4 }])
    await store.addDemand([])
    assert.equal(await store.demandSince(100, 100), [
      { region: 'eu', itemId: 'd1', count: 9, lastBucket: 101 },
      { region: 'us', itemId: 'd1', count: 4, lastBucket: 101 }
    ])
    assert.equal((await store.demandSince(99, 100))[0], { region: 'eu', itemId: 'd2', count: 20, lastBucket: 99 })
    assert.is((await store.demandSince(0, 1)).length, 1, 'limit')
    await store.pruneDemand(101)
    assert.equal(await store.demandSince(0, 100), [
      { region: 'eu', itemId: 'd1', count: 6, lastBucket: 101 },
      { region: 'us', itemId: 'd1', count: 4, lastBucket: 101 }
    ])
    await store.pruneDemand(1e9)
    assert.equal(await store.demandSince(0, 100), [])
  })

  test('pending source reports: one per reporter and source (the latest), listed since a time, cleared, pruned', async ({ store }) => {
    assert.equal(await store.sourceReporters('srcA', 0, 10), [])
    await store.addSourceReport('srcA', 'node:x', T + 5)
    await store.addSourceReport('srcA', 'node:x', T + 1)
    await store.addSourceReport('srcA', 'account:y', T + 3)
    await store.addSourceReport('srcB', 'node:x', T + 9)
    assert.equal(await store.sourceReporters('srcA', 0, 10), [{ reporter: 'node:x', at: T + 5 }, { reporter: 'account:y', at: T + 3 }], 'an older report does not move the latest back')
    assert.equal(await store.sourceReporters('srcA', T + 4, 10), [{ reporter: 'node:x', at: T + 5 }])
    assert.is((await store.sourceReporters('srcA', 0, 1)).length, 1, 'limit')
    await store.clearSourceReports('srcA')
    assert.equal(await store.sourceReporters('srcA', 0, 10), [])
    assert.equal(await store.sourceReporters('srcB', 0, 10), [{ reporter: 'node:x', at: T + 9 }], 'other sources untouched')
    await store.pruneSourceReports(T + 10)
    assert.equal(await store.sourceReporters('srcB', 0, 10), [])
  })

  test('directive clients: the latest directive per region and client wins; pruned when expired', async ({ store }) => {
    assert.is(await store.getDirectiveClient('eu', 'cli1'), undefined)
    await store.putDirectiveClients([
      { region: 'eu', clientPeerId: 'cli1', accountId: 'acc-a', expiresAt: T + 10 },
      { region: 'eu', clientPeerId: 'cli1', accountId: 'acc-b', expiresAt: T + 30 },
      { region: 'us', clientPeerId: 'cli1', accountId: 'acc-c', expiresAt: T + 5 }
    ])
    await store.putDirectiveClients([{ region: 'eu', clientPeerId: 'cli1', accountId: 'acc-old', expiresAt: T + 20 }])
    await store.putDirectiveClients([])
    assert.equal(await store.getDirectiveClient('eu', 'cli1'), { region: 'eu', clientPeerId: 'cli1', accountId: 'acc-b', expiresAt: T + 30 }, 'an older directive does not replace a newer')
    assert.equal(await store.getDirectiveClient('us', 'cli1'), { region: 'us', clientPeerId: 'cli1', accountId: 'acc-c', expiresAt: T + 5 })
    await store.pruneDirectiveClients(T + 5)
    assert.is(await store.getDirectiveClient('us', 'cli1'), undefined)
    assert.ok(await store.getDirectiveClient('eu', 'cli1') !== undefined)
    await store.pruneDirectiveClients(T + 100)
  })

  test('a reopened store has every write', async (ctx) => {
    const a = account('Persist')
    assert.ok(await ctx.store.createAccount(a))
    const rules = await ctx.store.publishRules(rulesAt)
    await ctx.store.putNode(node('peer-p'))
    const q = [{ peerId: 'bad-p', role: 'edge', region: 'eu', since: T, reporters: ['node:x', 'node:y'], itemId: 'i' }]
    await ctx.store.updateQuarantine(() => q)
    const item = { itemId: 'persist-item', title: 'P', size: 1, chunkSize: 1, chunkCount: 1, manifest: 'm', createdAt: T, description: 'd', posterType: 'image/png' }
    await ctx.store.putPoster(item, { type: 'image/png', data: 'AAAA' })
    const l: LicenseRecord = { licenseId: randomUUID(), accountId: a.accountId, itemId: item.itemId, notBefore: T, expiresAt: T + 1, license: 'x' }
    await ctx.store.putLicense(l)
    await ctx.store.putNodeToken('persist-tok', { role: 'edge', region: 'eu', createdAt: T, expiresAt: T + 100 })
    await ctx.store.bindNodeToken('persist-tok', 'peer-p')
    await ctx.store.spendNodeTokens('peer-p', T + 1)
    await ctx.store.putNode(node('peer-removed'))
    await ctx.store.deleteNode('peer-removed')
    const ck = { keyId: 'persist-key', itemId: item.itemId, version: 1, key: 'D'.repeat(43), createdAt: T }
    await ctx.store.putContentKey(ck)
    await ctx.store.close()
    ctx.store = await target.open()
    assert.equal(await ctx.store.getAccount(a.accountId), a)
    assert.is(await ctx.store.accountIdByUsername('persist'), a.accountId)
    assert.equal(await ctx.store.currentRules(), rules)
    assert.equal(await ctx.store.getNode('peer-p'), node('peer-p'))
    assert.equal(await ctx.store.getQuarantine(), q)
    assert.equal(await ctx.store.getItem(item.itemId), item)
    assert.equal(await ctx.store.getPoster(item.itemId), { type: 'image/png', data: 'AAAA' })
    assert.equal(await collect(ctx.store.listAccountLicenses(a.accountId)), [l])
    assert.is((await ctx.store.getNodeToken('persist-tok'))?.spentAt, T + 1)
    assert.is(await ctx.store.getNode('peer-removed'), undefined)
    assert.equal(await ctx.store.getContentKey('persist-key'), ck)
    assert.is((await ctx.store.publishRules(rulesAt)).version, rules.version + 1, 'versions go on from the stored one')
  })

  test('item terms: put replaces whole, get and list return what was put (issue 15)', async ({ store }) => {
    const itemId = `terms-${randomUUID()}`
    assert.is(await store.getItemTerms(itemId), undefined)
    const terms: ItemTerms = {
      rental: { hours: 48, price: { amount: 399, currency: 'EUR' } }, purchase: { price: { amount: 1299, currency: 'EUR' } },
      maxDevices: 3, availableFrom: T, availableUntil: T + 86_400_000, regions: ['eu', 'us'], priority: 5
    }
    await store.putItemTerms(itemId, terms)
    assert.equal(await store.getItemTerms(itemId), terms)
    await store.putItemTerms(itemId, { regions: ['eu'], removedAt: T + 1, removedReason: 'legal notice' })
    assert.equal(await store.getItemTerms(itemId), { regions: ['eu'], removedAt: T + 1, removedReason: 'legal notice' }, 'replaced whole')
    assert.equal((await collect(store.listItemTerms())).filter(([id]) => id === itemId), [[itemId, { regions: ['eu'], removedAt: T + 1, removedReason: 'legal notice' }]])
  })

  test('item versions: listed ascending per item, a put replaces its version, deletes only the named ones (issue 15)', async ({ store }) => {
    const itemId = `ver-${randomUUID()}`
    const v = (version: number): ItemVersionRecord => ({ itemId, version, size: version, chunkSize: 4, chunkCount: 1, manifest: `m${version}`, createdAt: T + version })
    assert.equal(await store.listItemVersions(itemId), [])
    for (const n of [10, 2, 1]) await store.putItemVersion(v(n))
    await store.putItemVersion({ ...v(2), manifest: 'm2b' })
    await store.putItemVersion({ ...v(1), itemId: `${itemId}x` })
    assert.equal((await store.listItemVersions(itemId)).map(r => [r.version, r.manifest]), [[1, 'm1'], [2, 'm2b'], [10, 'm10']])
    await store.holdItemVersion(itemId, 2, T + 500)
    await store.holdItemVersion(itemId, 2, T + 100)
    await store.holdItemVersion(itemId, 77, T + 100)
    assert.is((await store.listItemVersions(itemId)).find(r => r.version === 2)?.heldUntil, T + 500, 'a hold only ever rises')
    assert.is((await store.listItemVersions(itemId)).length, 3, 'holding an unknown version stores nothing')
    await store.deleteItemVersions(itemId, [1, 10, 99])
    assert.equal((await store.listItemVersions(itemId)).map(r => [r.version, r.heldUntil]), [[2, T + 500]])
    assert.equal((await store.listItemVersions(`${itemId}x`)).map(r => r.version), [1], 'another item untouched')
    const priced: LicenseRecord = { licenseId: randomUUID(), accountId: 'a', itemId, notBefore: T, expiresAt: T + 1, license: 'l', price: { amount: 250, currency: 'USD' }, itemVersion: 2 }
    await store.putLicense(priced)
    assert.equal(await store.getLicense(priced.licenseId), priced, 'a licence keeps its price and version')
  })

  test('revocations: recorded once per kind and id, listed; revocation list versions grow from the stored one', async ({ store }) => {
    await store.putRevocation({ kind: 'license', id: 'lic-r', at: T, until: T + 1000 })
    await store.putRevocation({ kind: 'license', id: 'lic-r', at: T + 5 })
    await store.putRevocation({ kind: 'account', id: 'acct-r', at: T })
    const all = await store.listRevocations()
    assert.equal(all.filter(r => r.id === 'lic-r'), [{ kind: 'license', id: 'lic-r', at: T, until: T + 1000 }], 'the first record stays')
    assert.ok(all.some(r => r.kind === 'account' && r.id === 'acct-r'))
    await store.putRevocation({ kind: 'session', id: 'sess-late', at: T + 50 })
    assert.equal((await store.listRevocations(T + 50)).map(r => r.id), ['sess-late'], 'only those made since')
    const before = (await store.currentRevocations())?.version ?? 0
    const a = await store.publishRevocations(v => ({ ...rulesAt(v), envelope: `rev-${v}` }))
    const b = await store.publishRevocations(v => ({ ...rulesAt(v), envelope: `rev-${v}` }))
    assert.is(a.version, before + 1)
    assert.is(b.version, before + 2)
    assert.equal(await store.currentRevocations(), b)
  })

  test('devices: at most max distinct clients per licence; a holder renews; an expired holder frees its slot', async ({ store }) => {
    assert.equal(await store.claimDevice('lic-d', 'peer-1', T + 100, 2, T), { ok: true, heldUntil: T + 100 })
    assert.equal(await store.claimDevice('lic-d', 'peer-2', T + 200, 2, T), { ok: true, heldUntil: T + 200 })
    assert.equal(await store.claimDevice('lic-d', 'peer-1', T + 300, 2, T + 10), { ok: true, heldUntil: T + 300 }, 'a holder renews')
    assert.equal(await store.claimDevice('lic-d', 'peer-1', T + 250, 2, T + 20), { ok: true, heldUntil: T + 300 }, 'a renewal never shortens a slot')
    assert.equal(await store.claimDevice('lic-d', 'peer-3', T + 300, 2, T + 10), { ok: false, holders: 2, nextFreeAt: T + 200 })
    assert.equal(await store.claimDevice('lic-other', 'peer-3', T + 300, 2, T + 10), { ok: true, heldUntil: T + 300 }, 'another licence has its own slots')
    assert.equal((await store.licenseDevices('lic-d', T + 10)).sort(), ['peer-1', 'peer-2'])
    assert.equal(await store.claimDevice('lic-d', 'peer-3', T + 500, 2, T + 200), { ok: true, heldUntil: T + 500 }, 'peer-2 expired at T+200')
    assert.equal((await store.licenseDevices('lic-d', T + 200)).sort(), ['peer-1', 'peer-3'])
    assert.equal(await store.claimDevice('lic-d', 'peer-2', T + 600, 2, T + 200), { ok: false, holders: 2, nextFreeAt: T + 300 }, 'the one it replaced is refused')
    assert.equal(await store.licenseDevices('lic-none', T), [])
  })

  if (target.second !== undefined) {
    const openSecond = target.second
    test('two stores on one database: one username, one version sequence, one limiter, one lease holder, shared holdings and demand', async ({ store }) => {
      const other = await openSecond()
      try {
        const [x, y] = [account('Shared'), account('shared')]
        const won = await Promise.all([store.createAccount(x), other.createAccount(y)])
        assert.is(won.filter(Boolean).length, 1)
        const versions = await Promise.all(Array.from({ length: 8 }, async (_, i) => (await (i % 2 === 0 ? store : other).publishRules(rulesAt)).version))
        assert.is(new Set(versions).size, 8, `distinct versions: ${versions.join(',')}`)
        await store.limiter.fail('account', 'u:bob', T, 60_000)
        await other.limiter.fail('account', 'u:bob', T, 60_000)
        assert.is((await store.limiter.get('account', 'u:bob', T, 60_000))?.failures, 2)
        let inner: unknown
        const outer = await store.exclusive('lease-test', async () => { inner = await other.exclusive('lease-test', async () => 'both') ; return 'one' })
        assert.equal(outer, { ran: true, value: 'one' })
        assert.equal(inner, { ran: false }, 'the other store cannot take a held lease')
        assert.equal(await other.exclusive('lease-test', async () => 'after'), { ran: true, value: 'after' }, 'released after')
        const lists = await Promise.all(Array.from({ length: 6 }, async (_, i) => (await (i % 2 === 0 ? store : other).publishRevocations(v => ({ ...rulesAt(v), envelope: `rev-${v}` }))).version))
        assert.is(new Set(lists).size, 6, `distinct revocation list versions: ${lists.join(',')}`)
        const claims = await Promise.all(Array.from({ length: 6 }, async (_, i) => await (i % 2 === 0 ? store : other).claimDevice('lic-race', `peer-${i}`, T + 1000, 2, T)))
        assert.is(claims.filter(c => c.ok).length, 2, 'two mains together let exactly max devices in')
        // one slot left of two; each main claims it for another new device at the same moment, many times over
        for (let round = 0; round < 20; round++) {
          const lic = `lic-last-${round}`
          assert.ok((await store.claimDevice(lic, 'holder', T + 1000, 2, T)).ok)
          const [a, b] = await Promise.all([store.claimDevice(lic, `new-a-${round}`, T + 1000, 2, T), other.claimDevice(lic, `new-b-${round}`, T + 1000, 2, T)])
          assert.is([a, b].filter(c => c.ok).length, 1, `round ${round}: exactly one of two new devices takes the last slot`)
          const loser = a.ok ? b : a
          assert.equal(loser, { ok: false, holders: 2, nextFreeAt: T + 1000 })
          assert.is((await other.licenseDevices(lic, T)).length, 2)
        }
        // what one main learns of customers' holdings and demand, the other sees
        await store.putHolding(holding('shared-item', 'peerS', T + 1000))
        assert.ok((await other.changedHoldings(T, undefined, 100)).holdings.some(h => h.itemId === 'shared-item' && h.peerId === 'peerS'))
        await Promise.all([store.addDemand([{ region: 'sh', itemId: 'x', bucket: 7, count: 3 }]), other.addDemand([{ region: 'sh', itemId: 'x', bucket: 7, count: 2 }])])
        assert.equal((await other.demandSince(7, 100)).find(t => t.region === 'sh'), { region: 'sh', itemId: 'x', count: 5, lastBucket: 7 })
        await store.pruneHoldings(T + 5000)
        await store.pruneDemand(1e9)
        // a report to each main against one source: two reporters, seen by both
        await Promise.all([store.addSourceReport('srcS', 'node:a', T), other.addSourceReport('srcS', 'node:b', T)])
        assert.equal((await store.sourceReporters('srcS', 0, 10)).map(r => r.reporter).sort(), ['node:a', 'node:b'])
        await other.clearSourceReports('srcS')
        // two mains quarantine two sources at the same moment, many times over: both stay quarantined
        const base = await store.getQuarantine()
        for (let round = 0; round < 10; round++) {
          const q = (peerId: string) => ({ peerId, role: 'edge', region: 'eu', since: T, reporters: ['operator'], itemId: '' })
          await Promise.all([
            store.updateQuarantine(cur => [...cur, q(`qa-${round}`)]),
            other.updateQuarantine(cur => [...cur, q(`qb-${round}`)])
          ])
          const held = new Set((await other.getQuarantine()).map(e => e.peerId))
          assert.ok(held.has(`qa-${round}`) && held.has(`qb-${round}`), `round ${round}: both quarantines landed`)
        }
        await store.updateQuarantine(() => base)
      } finally {
        await other.close()
      }
    })
  }
  return test
}
