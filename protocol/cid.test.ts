import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { itemCid, itemCidString, rootOfItemCid } from './cid.ts'
import { MalformedError } from './errors.ts'

const vectors = JSON.parse(readFileSync(new URL('../test/vectors/merkle.json', import.meta.url), 'utf8')) as
  { trees: Array<{ root: string, cid: string }> }
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')

test('known-answer vectors: the CID of each root, both ways', () => {
  for (const t of vectors.trees) {
    assert.is(itemCidString(hex(t.root)), t.cid)
    assert.is(toHex(rootOfItemCid(t.cid)), t.root)
  }
})

test('the CID is v1, raw, sha2-256, and its digest is the root itself (not re-hashed)', () => {
  const root = hex(vectors.trees[3]!.root)
  const cid = itemCid(root)
  assert.is(cid.version, 1)
  assert.is(cid.code, 0x55)
  assert.is(cid.multihash.code, 0x12)
  assert.is(toHex(cid.multihash.digest), toHex(root))
  assert.ok(itemCidString(root).startsWith('bafkrei'))
})

test('any root round-trips through its CID string', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), root => {
    assert.is(toHex(rootOfItemCid(itemCidString(root))), toHex(root))
    assert.is(toHex(rootOfItemCid(itemCid(root))), toHex(root))
  }), { numRuns: 200, seed: 7 })
})

test('a root of the wrong size is a programming error', () => {
  assert.throws(() => itemCid(new Uint8Array(31)), RangeError)
  assert.throws(() => itemCid(new Uint8Array(33)), RangeError)
})

test('strings and CIDs that are not item CIDs are MalformedError', () => {
  const root = new Uint8Array(32).fill(1)
  const bad: Array<string | CID> = [
    '', 'hello', 'b' + 'a'.repeat(200),
    CID.createV1(0x71, Digest.create(0x12, root)).toString(), // dag-cbor codec
    CID.createV1(0x55, Digest.create(0x13, new Uint8Array(64))).toString(), // sha2-512
    CID.createV0(Digest.create(0x12, root)).toString(), // v0 (dag-pb)
    CID.createV1(0x55, Digest.create(0x12, new Uint8Array(20)))
  ]
  for (const b of bad) {
    assert.throws(() => rootOfItemCid(b), (e: Error) => e instanceof MalformedError, String(b))
  }
  fc.assert(fc.property(fc.string({ maxLength: 80 }), s => {
    try { rootOfItemCid(s) } catch (err) { assert.instance(err, MalformedError) }
  }), { numRuns: 2000, seed: 7 })
})

test.run()
