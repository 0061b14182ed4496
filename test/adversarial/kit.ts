/**
 * Shared by the adversarial suites (not a suite itself): a way to register
 * each numbered case so its name (the attack and the expected outcome) is
 * printed when it passes, signed-document fixtures, and small helpers for
 * asserting on typed errors.
 */
import type { Test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { createSigner, type Signer } from '../../protocol/keys.ts'
import type { Directive, License, Manifest, Rules } from '../../protocol/types.ts'
import { ManifestBuilder } from '../../protocol/chunking.ts'

/**
 * Register a case on a uvu suite. The name says the attack and the outcome;
 * on success it is printed (`VERBOSE=1 npm run test:adversarial` shows the
 * list), on failure uvu prints it with the assertion.
 */
export function caseOf (suite: Test, name: string, fn: () => Promise<void> | void): void {
  suite(name, async () => {
    const started = performance.now()
    try {
      await fn()
    } catch (err) {
      // said at once: a suite stopped later by a watchdog would otherwise never show why
      console.log(`  ✘ ${name}  (${((performance.now() - started) / 1000).toFixed(1)} s): ${(err as Error).message?.slice(0, 2000)}`)
      throw err
    }
    console.log(`  ✓ ${name}  (${((performance.now() - started) / 1000).toFixed(1)} s)`)
  })
}

const suiteStart = performance.now()
/** A progress line with the time since the suite started (network suites: where the minutes go). */
export function step (what: string): void {
  console.log(`  [${((performance.now() - suiteStart) / 1000).toFixed(1)} s] ${what}`)
}

/** Run `fn` and return the error it throws (assertion failure if it does not). */
export async function errorOf (fn: () => unknown): Promise<Error> {
  try {
    await fn()
  } catch (err) {
    return err as Error
  }
  assert.unreachable('expected an error, but the call succeeded')
  throw new Error('unreachable')
}

/** Assert that `fn` throws an error named `name` (and, if given, with a message matching `re`). */
export async function throwsNamed (fn: () => unknown, name: string, re?: RegExp): Promise<Error> {
  const err = await errorOf(fn)
  assert.is(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`)
  if (re !== undefined) assert.match(err.message, re)
  return err
}

export const T0 = 1_800_000_000_000
export const HOUR = 3_600_000

export function newSigner (): Signer {
  return createSigner(new Uint8Array(randomBytes(32)))
}

/** A valid peerId string (base58 `12D3KooW…`) of a fresh Ed25519 key. */
export { peerIdOf } from '../../protocol/keys.ts'

export function rulesV (version: number, opts: { issuedAt?: number, expiresAt?: number, region?: string, edges?: string[], parents?: string[] } = {}): Rules {
  return {
    version,
    issuedAt: opts.issuedAt ?? T0 - 1000,
    expiresAt: opts.expiresAt ?? T0 + 24 * HOUR,
    chunkSize: 1024 * 1024,
    regions: [{
      name: opts.region ?? 'eu',
      parents: (opts.parents ?? []).map(peerId => ({ peerId, role: 'parent' as const, addrs: ['/ip4/127.0.0.1/tcp/1'], capacityBytes: 1 })),
      edges: (opts.edges ?? []).map(peerId => ({ peerId, role: 'edge' as const, addrs: ['/ip4/127.0.0.1/tcp/2'], capacityBytes: 1 })),
      preposition: []
    }]
  }
}

export function licenseFor (itemId: string, opts: Partial<License> = {}): License {
  return { licenseId: 'lic-1', accountId: 'acct-1', itemId, notBefore: T0 - HOUR, expiresAt: T0 + 48 * HOUR, ...opts }
}

export function directiveFor (itemId: string, clientPeerId: string, peers: Directive['peers'], opts: Partial<Directive> = {}): Directive {
  return {
    directiveId: 'dir-1', licenseId: 'lic-1', itemId, clientPeerId, region: 'eu', peers,
    rulesVersion: 3, issuedAt: T0 - 1000, expiresAt: T0 + 10 * 60_000, ...opts
  }
}

/** A manifest (and its data) for `size` random bytes in chunks of `chunkSize`. */
export function itemOf (itemId: string, size: number, chunkSize = 16 * 1024, seed?: Buffer): { manifest: Manifest, data: Buffer } {
  const data = seed ?? randomBytes(size)
  const b = new ManifestBuilder(chunkSize)
  b.push(data)
  return { manifest: b.finish({ itemId, title: itemId, version: 1 }), data }
}

/** Flip one bit of a copy. */
export function flipped (bytes: Uint8Array, at: number, bit = 0): Uint8Array {
  const out = Uint8Array.from(bytes)
  out[at] = (out[at] ?? 0) ^ (1 << bit)
  return out
}
