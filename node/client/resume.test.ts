import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, existsSync, appendFileSync, writeFileSync, rmSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { sha256, verifiedChunk, type VerifiedChunk } from '../../protocol/chunking.ts'
import { merkleRoot } from '../../protocol/merkle.ts'
import type { Manifest } from '../../protocol/types.ts'
import { PartFile } from './resume.ts'

const CHUNK = 4096
const data = randomBytes(CHUNK * 10 + 123)
function manifestOf (bytes: Uint8Array, itemId = 'item-1'): Manifest {
  const count = Math.ceil(bytes.length / CHUNK)
  const chunkHashes = Array.from({ length: count }, (_, i) => sha256(bytes.subarray(i * CHUNK, Math.min(bytes.length, (i + 1) * CHUNK))))
  return { itemId, title: 't', size: bytes.length, chunkSize: CHUNK, chunkCount: count, chunkHashes, merkleRoot: merkleRoot(chunkHashes), version: 1 }
}
const manifest = manifestOf(data)
const chunk = (i: number): VerifiedChunk => verifiedChunk(manifest, i, data.subarray(i * CHUNK, Math.min(data.length, (i + 1) * CHUNK)))

const dir = mkdtempSync(join(tmpdir(), 'reelnet-resume-'))
let n = 0
const fresh = (): string => join(dir, `out-${n++}.bin`)

test('written chunks survive a close and are resumed; finish renames a byte-exact file', async () => {
  const out = fresh()
  const a = await PartFile.open(out, manifest)
  assert.equal(a.resumed, [])
  for (const i of [0, 3, 4, 10]) await a.write(i, chunk(i))
  await a.close()
  const b = await PartFile.open(out, manifest)
  assert.equal(b.resumed, [0, 3, 4, 10])
  for (let i = 0; i < manifest.chunkCount; i++) if (!b.has(i)) await b.write(i, chunk(i))
  await b.finish()
  assert.ok(readFileSync(out).equals(data))
  assert.not.ok(existsSync(`${out}.part`))
  assert.not.ok(existsSync(`${out}.part.journal`))
  // a rerun on a finished file sees it complete
  const c = await PartFile.open(out, manifest)
  assert.ok(c.isComplete)
  assert.equal(c.resumed.length, manifest.chunkCount)
})

test('a torn journal line and a chunk damaged on disk are not counted as done', async () => {
  const out = fresh()
  const a = await PartFile.open(out, manifest)
  for (const i of [1, 2, 5]) await a.write(i, chunk(i))
  await a.close()
  appendFileSync(`${out}.part.journal`, '7') // cut mid-record, no newline: chunk 7 never written
  const f = await open(`${out}.part`, 'r+')
  await f.write(Buffer.from([0xde, 0xad]), 0, 2, 2 * CHUNK + 17) // damage chunk 2
  await f.close()
  const b = await PartFile.open(out, manifest)
  assert.equal(b.resumed, [1, 5])
  await b.close()
})

test('chunks not yet journaled when the process dies are simply fetched again', async () => {
  const out = fresh()
  const a = await PartFile.open(out, manifest)
  await a.write(0, chunk(0))
  await a.flush()
  await a.write(1, chunk(1)) // not flushed: as if SIGKILL came now
  const b = await PartFile.open(out, manifest)
  assert.equal(b.resumed, [0])
  await b.close()
  await a.close()
})

test('a journal of another item starts over', async () => {
  const out = fresh()
  const a = await PartFile.open(out, manifest)
  await a.write(0, chunk(0))
  await a.close()
  const other = manifestOf(randomBytes(data.length), 'item-2')
  const b = await PartFile.open(out, other)
  assert.equal(b.resumed, [])
  await b.close()
})

test('finish refuses while chunks are missing, and refuses a manifest whose root is wrong', async () => {
  const out = fresh()
  const a = await PartFile.open(out, manifest)
  await a.write(0, chunk(0))
  try { await a.finish(); assert.unreachable() } catch (err) { assert.equal((err as Error).name, 'PartFileError') }
  await a.close()
  const bad = { ...manifest, merkleRoot: new Uint8Array(32) }
  const out2 = fresh()
  const b = await PartFile.open(out2, bad)
  for (let i = 0; i < bad.chunkCount; i++) await b.write(i, verifiedChunk(bad, i, chunk(i)))
  try { await b.finish(); assert.unreachable() } catch (err) { assert.equal((err as Error).name, 'RootMismatchError') }
  assert.not.ok(existsSync(out2))
  await b.close()
  writeFileSync(join(dir, 'x'), '')
})

test.after(() => { rmSync(dir, { recursive: true, force: true }) })
test.run()
