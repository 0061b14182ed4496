/**
 * main/devices.ts: a main issues directives on a device slot it took without asking the store again while the
 * slot covers most of a directive's lifetime, never past the slot's end, and never remembers a refusal.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DeviceSlots, SLOT_REUSE_FRACTION } from './devices.ts'
import { openLevelStore } from './storage/level.ts'
import type { MainStore, LicenseRecord } from './store.ts'
import { ApiError } from './errors.ts'

const T = 1_800_000_000_000
const TTL = 600_000
const license = (licenseId: string, maxDevices?: number): LicenseRecord => ({
  licenseId, accountId: 'acc', itemId: 'item', notBefore: T, expiresAt: T + 100 * TTL, license: 'l', ...(maxDevices !== undefined ? { maxDevices } : {})
})

/** A real level store that counts the claims that reach it. */
async function countingStore (): Promise<{ store: MainStore, claims: () => number, close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'reelnet-devices-'))
  const inner = await openLevelStore(join(dir, 'db'))
  let n = 0
  const store: MainStore = { ...inner, claimDevice: async (...args) => { n++; return await inner.claimDevice(...args) } }
  return { store, claims: () => n, close: async () => { await inner.close(); await rm(dir, { recursive: true, force: true }) } }
}

test('a device holding a slot gets directives without a store round trip, each ending no later than its slot', async () => {
  const { store, claims, close } = await countingStore()
  try {
    const slots = new DeviceSlots(store)
    const lic = license('lic-1')
    assert.is(await slots.claim(lic, 'peer-a', T + TTL, T), T + TTL)
    assert.is(claims(), 1)
    // a second later: the slot still covers far more than 90 % of a lifetime
    assert.is(await slots.claim(lic, 'peer-a', T + 1000 + TTL, T + 1000), T + TTL, 'capped at the slot the store holds')
    assert.is(claims(), 1, 'no round trip')
    // past a tenth of the lifetime: renewed in the store, and the directive gets its full lifetime again
    const later = T + Math.ceil(TTL * (1 - SLOT_REUSE_FRACTION)) + 1
    assert.is(await slots.claim(lic, 'peer-a', later + TTL, later), later + TTL)
    assert.is(claims(), 2)
    assert.equal(await store.licenseDevices('lic-1', T + TTL + 1), ['peer-a'], 'the store holds the renewed slot')
  } finally {
    await close()
  }
})

test('a refusal is never remembered: once a slot frees, the next ask is admitted', async () => {
  const { store, claims, close } = await countingStore()
  try {
    const slots = new DeviceSlots(store)
    const lic = license('lic-2', 1)
    await slots.claim(lic, 'peer-a', T + TTL, T)
    const err = await slots.claim(lic, 'peer-b', T + TTL, T).then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof ApiError && err.code === 'device_limit', 'a second device on a 1-device licence is refused')
    assert.is(claims(), 2)
    // peer-a's slot ends at T + TTL: peer-b asks again and the store admits it
    assert.is(await slots.claim(lic, 'peer-b', T + TTL + 1 + TTL, T + TTL + 1), T + TTL + 1 + TTL)
    assert.is(claims(), 3)
  } finally {
    await close()
  }
})

test('another main\'s slots are not this one\'s: two fronts on one store share one limit', async () => {
  const { store, close } = await countingStore()
  try {
    const [a, b] = [new DeviceSlots(store), new DeviceSlots(store)]
    const lic = license('lic-3', 2)
    await a.claim(lic, 'peer-1', T + TTL, T)
    await b.claim(lic, 'peer-2', T + TTL, T)
    // peer-1 is remembered on a, not on b: b asks the store, which counts peer-1's slot
    assert.is(await b.claim(lic, 'peer-1', T + 10 + TTL, T + 10), T + 10 + TTL)
    const err = await a.claim(lic, 'peer-3', T + 10 + TTL, T + 10).then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof ApiError && err.code === 'device_limit')
  } finally {
    await close()
  }
})

test.run()
