import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { rankPeers, ROLE_TIER, type RankCandidate } from './rank.ts'

const NOW = 1_000_000
const TIMEOUT = 15_000
const ctx = { now: NOW, region: 'eu', heartbeatTimeoutMs: TIMEOUT }

function cand (peerId: string, role: RankCandidate['role'], extra: Partial<RankCandidate> = {}): RankCandidate {
  return { peerId, role, region: 'eu', addrs: [`/ip4/127.0.0.1/tcp/1/p2p/${peerId}`], lastHeartbeat: NOW, load: 0, ...extra }
}

const ids = (xs: RankCandidate[]): string[] => xs.map(x => x.peerId)

test('edges first, then peers holding the item, then parents', () => {
  const out = rankPeers([cand('p1', 'parent'), cand('x1', 'peer'), cand('e1', 'edge', { load: 0.9 }), cand('x2', 'peer')], ctx)
  assert.equal(ids(out), ['e1', 'x1', 'x2', 'p1'])
})

test('drained, other-region and stale candidates are never listed', () => {
  const out = rankPeers([
    cand('drained', 'edge', { drained: true }),
    cand('foreign', 'edge', { region: 'us' }),
    cand('stale', 'edge', { lastHeartbeat: NOW - TIMEOUT - 1 }),
    cand('just-in-time', 'edge', { lastHeartbeat: NOW - TIMEOUT }),
    cand('nan-heartbeat', 'edge', { lastHeartbeat: Number.NaN }),
    cand('ok', 'parent')
  ], ctx)
  assert.equal(ids(out), ['just-in-time', 'ok'])
})

test('within a tier: less loaded first; fresher breaks a load tie; peerId breaks an exact tie', () => {
  const out = rankPeers([
    cand('busy', 'edge', { load: 0.8 }),
    cand('b-idle', 'edge', { load: 0.1 }),
    cand('a-idle', 'edge', { load: 0.1 }),
    cand('idle-but-old', 'edge', { load: 0.1, lastHeartbeat: NOW - TIMEOUT / 2 })
  ], ctx)
  assert.equal(ids(out), ['a-idle', 'b-idle', 'idle-but-old', 'busy'])
})

test('a penalty pushes a peer down its tier, never out of it', () => {
  const out = rankPeers([cand('bad', 'edge', { penalty: 5 }), cand('good', 'edge', { load: 1 }), cand('parent', 'parent')], ctx)
  assert.equal(ids(out), ['good', 'bad', 'parent'])
})

test('load is clamped to [0, 1]; NaN counts as fully loaded', () => {
  const out = rankPeers([cand('nan', 'edge', { load: Number.NaN }), cand('over', 'edge', { load: 7 }), cand('neg', 'edge', { load: -3 }), cand('half', 'edge', { load: 0.5 })], ctx)
  assert.equal(ids(out), ['neg', 'half', 'nan', 'over'])
})

test('a peerId listed twice is kept once, at its best place; limit keeps the first N', () => {
  const out = rankPeers([cand('x', 'parent'), cand('y', 'edge'), cand('x', 'peer'), cand('z', 'peer', { load: 0.5 })], ctx)
  assert.equal(out.map(c => `${c.peerId}:${c.role}`), ['y:edge', 'x:peer', 'z:peer'])
  assert.equal(ids(rankPeers([cand('a', 'edge'), cand('b', 'edge'), cand('c', 'edge')], { ...ctx, limit: 2 })), ['a', 'b'])
  assert.equal(rankPeers([cand('a', 'edge')], { ...ctx, limit: 0 }), [])
})

test('bad contexts are refused', () => {
  assert.throws(() => rankPeers([], { ...ctx, heartbeatTimeoutMs: 0 }), RangeError)
  assert.throws(() => rankPeers([], { ...ctx, now: Number.NaN }), RangeError)
  assert.throws(() => rankPeers([], { ...ctx, limit: -1 }), RangeError)
  assert.throws(() => rankPeers([], { ...ctx, limit: 1.5 }), RangeError)
})

test('the input is not modified', () => {
  const input = [cand('b', 'parent'), cand('a', 'edge')]
  const copy = structuredClone(input)
  rankPeers(input, ctx)
  assert.equal(input, copy)
})

const candidateArb: fc.Arbitrary<RankCandidate> = fc.record({
  peerId: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'),
  role: fc.constantFrom('edge' as const, 'peer' as const, 'parent' as const),
  region: fc.constantFrom('eu', 'us'),
  addrs: fc.constant([]),
  lastHeartbeat: fc.integer({ min: NOW - 2 * TIMEOUT, max: NOW + 1000 }),
  load: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 0.5, 1)),
  drained: fc.option(fc.boolean(), { nil: undefined }),
  penalty: fc.option(fc.constantFrom(0, 0.5, 2), { nil: undefined })
})

test('property: nothing drained, foreign or stale; tiers in order; no duplicates; within the limit', () => {
  fc.assert(fc.property(fc.array(candidateArb, { maxLength: 30 }), fc.option(fc.nat(12), { nil: undefined }), (cs, limit) => {
    const out = rankPeers(cs, { ...ctx, limit })
    for (const c of out) {
      assert.ok(cs.includes(c), 'only given candidates')
      assert.is.not(c.drained, true)
      assert.is(c.region, 'eu')
      assert.ok(NOW - c.lastHeartbeat <= TIMEOUT)
    }
    for (let i = 1; i < out.length; i++) assert.ok(ROLE_TIER[out[i - 1]!.role] <= ROLE_TIER[out[i]!.role])
    assert.is(new Set(ids(out)).size, out.length)
    if (limit !== undefined) assert.ok(out.length <= limit)
    // Nothing eligible is left out, except duplicates and what the limit cut.
    const eligible = new Set(cs.filter(c => c.drained !== true && c.region === 'eu' && NOW - c.lastHeartbeat <= TIMEOUT).map(c => c.peerId))
    assert.is(out.length, Math.min(eligible.size, limit ?? Infinity))
  }), { numRuns: 500 })
})

test('property: deterministic and independent of input order (distinct peerIds)', () => {
  const distinct = fc.uniqueArray(candidateArb, { selector: c => c.peerId, maxLength: 10 })
  fc.assert(fc.property(distinct, fc.integer(), (cs, seed) => {
    const a = rankPeers(cs, ctx)
    const shuffled = fc.sample(fc.shuffledSubarray(cs, { minLength: cs.length, maxLength: cs.length }), { seed, numRuns: 1 })[0]!
    assert.equal(ids(rankPeers(shuffled, ctx)), ids(a))
    assert.equal(ids(rankPeers(cs, ctx)), ids(a))
  }), { numRuns: 300 })
})

test('property: within a tier, equally fresh and unpenalised candidates come less loaded first', () => {
  const arb = fc.uniqueArray(fc.record({ peerId: fc.string({ minLength: 1, maxLength: 4 }), load: fc.double({ min: 0, max: 1, noNaN: true }) }), { selector: c => c.peerId, maxLength: 12 })
  fc.assert(fc.property(arb, xs => {
    const out = rankPeers(xs.map(x => cand(x.peerId, 'edge', { load: x.load })), ctx)
    for (let i = 1; i < out.length; i++) {
      const a = out[i - 1]!
      const b = out[i]!
      assert.ok(a.load < b.load || (a.load === b.load && a.peerId < b.peerId))
    }
  }), { numRuns: 300 })
})

test.run()
