import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { holdingsOf, mayHold, newestKey, parentPlan, sweep, missingBytes } from './lifecycle.ts'
import type { Manifest, Rules } from '../../protocol/types.ts'
import { hex } from './store/chunk-store.ts'

const A = 'a'.repeat(32)
const B = 'b'.repeat(32)
const C = 'c'.repeat(32)

function rules (over: Partial<Rules> = {}, items?: Rules['regions'][number]['items']): Rules {
  return {
    version: 3, issuedAt: 0, expiresAt: 1, chunkSize: 1 << 20,
    regions: [{ name: 'eu', parents: [], edges: [], preposition: [], ...(items !== undefined ? { items } : {}) }],
    ...over
  }
}

function manifest (key: string, hashes: number[]): Manifest {
  return {
    itemId: key, title: 't', size: hashes.length * 10, chunkSize: 10, chunkCount: hashes.length,
    chunkHashes: hashes.map(n => new Uint8Array(32).fill(n)), merkleRoot: new Uint8Array(32), version: 1
  }
}

test('without items in the rules (an older main) everything but removed items may be held', () => {
  const h = holdingsOf(rules({ removed: [B] }), 'eu')
  assert.ok(mayHold(h, A))
  assert.ok(mayHold(h, `${A}@3`))
  assert.not.ok(mayHold(h, B))
  assert.not.ok(mayHold(h, `${B}@2`))
  assert.not.ok(mayHold(h, `${A}@x`), 'a key no version could make')
  assert.is(parentPlan(h), undefined)
  assert.is(newestKey(h, A), A)
})

test('with items: only listed live versions, parents copy by the rules order newest first, preposition means the newest', () => {
  const h = holdingsOf(rules({}, [{ itemId: B, versions: [1, 2], priority: 9 }, { itemId: A, versions: [4] }]), 'eu')
  assert.ok(mayHold(h, B))
  assert.ok(mayHold(h, `${B}@2`))
  assert.not.ok(mayHold(h, `${B}@3`))
  assert.not.ok(mayHold(h, A), 'version 1 of A was collected')
  assert.ok(mayHold(h, `${A}@4`))
  assert.not.ok(mayHold(h, C), 'not offered in the region')
  assert.equal(parentPlan(h), [`${B}@2`, B, `${A}@4`])
  assert.is(newestKey(h, A), `${A}@4`)
  assert.is(newestKey(h, C), undefined)
  assert.ok(mayHold(holdingsOf(rules({}, []), 'us'), A), 'a region the rules do not name: the old behaviour')
  assert.not.ok(mayHold(holdingsOf(rules({}, []), 'eu'), A), 'a region listing no items holds none')
})

test('sweep deletes the chunks of what may no longer be held, keeps chunks an allowed manifest shares, forgets the manifests', async () => {
  const all = [manifest(A, [1, 2, 3]), manifest(`${B}@2`, [3, 4]), manifest(B, [5])]
  const held = new Set(all.flatMap(m => m.chunkHashes.map(hex)))
  const forgotten: string[] = []
  const target = { all: () => all.filter(m => !forgotten.includes(m.itemId)), forget: async (k: string) => { forgotten.push(k) } }
  const store = { has: (h: string) => held.has(h), delete: async (h: string) => held.delete(h) }
  // A taken down, B's version 1 collected
  const r = await sweep(holdingsOf(rules({ removed: [A] }, [{ itemId: B, versions: [2] }]), 'eu'), target, store)
  assert.equal(r.dropped.sort(), [A, B].sort())
  assert.is(r.chunks, 3, 'chunks 1, 2 (A) and 5 (B v1); 3 is shared with B v2')
  assert.equal([...held].sort(), [hex(new Uint8Array(32).fill(3)), hex(new Uint8Array(32).fill(4))].sort())
  assert.equal(forgotten.sort(), [A, B].sort())
  assert.equal(await sweep(holdingsOf(rules({ removed: [A] }, [{ itemId: B, versions: [2] }]), 'eu'), target, store), { dropped: [], chunks: 0 }, 'idempotent')
})

test('missingBytes counts the short last chunk', () => {
  const m = { ...manifest(A, [1, 2, 3]), size: 25 }
  assert.is(missingBytes(m, [0, 2]), 15)
})

test.run()
