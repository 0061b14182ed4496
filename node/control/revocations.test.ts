/**
 * The revocation follower (node/control/revocations.ts) and the customer's licence watch (node/client/license-watch.ts)
 * with a fake main and a fake clock: rollback refused (also after a restart, from the stored floor), the freeze
 * said once and lifted once, directives checked; the watch stopping on a revocation and after the offline grace.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createSigner } from '../../protocol/keys.ts'
import { signRevocations } from '../../protocol/documents.ts'
import { CLOCK_SKEW_MS } from '../../protocol/limits.ts'
import type { Directive, Revocations } from '../../protocol/types.ts'
import { RevocationsFollower, type RevocationsAnswer } from './revocations.ts'
import { LicenseWatch } from '../client/license-watch.ts'

const main = createSigner(new Uint8Array(32).fill(1))
const T = 1_800_000_000_000
const HOUR = 3600_000

const signed = (version: number, over: Partial<Revocations> = {}): Uint8Array =>
  signRevocations({ version, issuedAt: T, expiresAt: T + HOUR, licenses: [], accounts: [], nodes: [], ...over }, main)

function fakeMain (): { serve: Uint8Array | Error, fetch: (etag: string | undefined) => Promise<RevocationsAnswer> } {
  const m = {
    serve: signed(1) as Uint8Array | Error,
    fetch: async (): Promise<RevocationsAnswer> => {
      if (m.serve instanceof Error) throw m.serve
      return { notModified: false, etag: undefined, bytes: m.serve }
    }
  }
  return m
}

const memoryState = (): { map: Map<string, string>, get: (k: string) => Promise<string | undefined>, put: (k: string, v: string) => Promise<void> } => {
  const map = new Map<string, string>()
  return { map, get: async k => map.get(k), put: async (k, v) => { map.set(k, v) } }
}

const directive = (licenseId: string, accountId?: string): Directive => ({
  directiveId: 'd', licenseId, itemId: 'i', clientPeerId: 'p', region: 'eu', peers: [], rulesVersion: 1, issuedAt: T, expiresAt: T + 1, ...(accountId !== undefined ? { accountId } : {})
})

test('an older list is refused and the newer one kept, also after a restart from the stored floor', async () => {
  const fake = fakeMain()
  const state = memoryState()
  const logs: string[] = []
  const clock = { now: T }
  const f = new RevocationsFollower({ fetch: fake.fetch, mainPublicKey: main.publicKey, state, now: () => clock.now, log: m => logs.push(m) })
  fake.serve = signed(5, { licenses: ['lic-x'] })
  assert.ok(await f.poll())
  fake.serve = signed(4)
  assert.not.ok(await f.poll())
  assert.is(f.list?.version, 5)
  assert.ok(f.isLicenseRevoked('lic-x'))
  assert.match(logs.join('\n'), /OlderVersionError: revocation list version 4 is older than the held 5/)
  fake.serve = signed(5, { licenses: [] })
  assert.not.ok(await f.poll(), 'the same version with other bytes is refused too')
  // a restart: the stored list is the floor before any poll
  const again = new RevocationsFollower({ fetch: fake.fetch, mainPublicKey: main.publicKey, state, now: () => clock.now })
  await again.load()
  fake.serve = signed(4)
  assert.not.ok(await again.poll())
  assert.is(again.list?.version, 5)
  assert.ok(again.isLicenseRevoked('lic-x'))
})

test('directives on a revoked licence or account are refused; one without an account is checked by licence', async () => {
  const fake = fakeMain()
  fake.serve = signed(2, { licenses: ['lic-r'], accounts: ['acct-r'] })
  const f = new RevocationsFollower({ fetch: fake.fetch, mainPublicKey: main.publicKey, now: () => T })
  await f.poll()
  assert.throws(() => f.check(directive('lic-r')), /licence lic-r has been revoked/)
  assert.throws(() => f.check(directive('lic-ok', 'acct-r')), /account acct-r has been revoked/)
  f.check(directive('lic-ok', 'acct-ok'))
  f.check(directive('lic-ok'))
})

test('with no list, or once the list expired, customers are refused; the freeze is logged once and its end once', async () => {
  const fake = fakeMain()
  const logs: string[] = []
  const clock = { now: T }
  const f = new RevocationsFollower({ fetch: fake.fetch, mainPublicKey: main.publicKey, now: () => clock.now, log: m => logs.push(m) })
  assert.throws(() => f.check(directive('lic')), /no revocation list from main yet/)
  await f.poll()
  f.check(directive('lic'))
  assert.is(logs.filter(l => l.includes('in force: serving customers again')).length, 1, 'the first list ends the freeze of "none yet"')
  logs.length = 0
  fake.serve = new Error('main unreachable')
  clock.now = T + HOUR + CLOCK_SKEW_MS + 1
  for (let i = 0; i < 3; i++) await f.poll()
  for (let i = 0; i < 3; i++) assert.throws(() => f.check(directive('lic')), /revocation list version 1 expired at .*refusing customer traffic it cannot check/)
  assert.is(logs.filter(l => l.includes('expired at')).length, 1, logs.join(' | '))
  assert.is(f.status().frozen, true)
  fake.serve = signRevocations({ version: 2, issuedAt: clock.now, expiresAt: clock.now + HOUR, licenses: [], accounts: [], nodes: [] }, main)
  assert.ok(await f.poll())
  f.check(directive('lic'))
  assert.is(logs.filter(l => l.includes('in force: serving customers again')).length, 1)
})

test('the licence watch aborts its signal when the list names its licence, or its account', async () => {
  for (const over of [{ licenses: ['lic-w'] }, { accounts: ['acct-w'] }]) {
    const fake = fakeMain()
    fake.serve = signed(1)
    const w = new LicenseWatch({ fetch: fake.fetch, mainPublicKey: main.publicKey, licenseId: 'lic-w', accountId: () => 'acct-w', now: () => T, pollMs: 100 })
    await w.check()
    assert.not.ok(w.signal.aborted)
    fake.serve = signed(2, over)
    await w.check()
    assert.ok(w.signal.aborted)
    assert.is((w.signal.reason as Error).name, 'LicenseRevokedError')
    assert.match(w.refusal() ?? '', /revoked by the operator/)
    w.close()
  }
})

test('without main, the watch goes on for the offline grace, then stops', async () => {
  const fake = fakeMain()
  const clock = { now: T }
  const w = new LicenseWatch({ fetch: fake.fetch, mainPublicKey: main.publicKey, licenseId: 'lic-o', now: () => clock.now, offlineGraceMs: 10 * 60_000 })
  await w.check()
  fake.serve = new Error('offline')
  clock.now = T + 10 * 60_000
  await w.check()
  assert.not.ok(w.signal.aborted, 'still within the grace')
  clock.now = T + 10 * 60_000 + 1
  await w.check()
  assert.ok(w.signal.aborted)
  assert.is((w.signal.reason as Error).name, 'OfflineGraceOverError')
  assert.match((w.signal.reason as Error).message, /the licence allows 600 s offline/)
  w.close()
})

test.run()
