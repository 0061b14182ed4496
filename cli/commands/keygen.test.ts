import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fromBase64url } from '../../protocol/encoding.ts'
import { REELNET_BIN } from '../../test/bin.ts'
import { createSigner, fingerprint, publicKeyOf, verifySignature } from '../../protocol/keys.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const NODE = join(ROOT, 'node_modules/.bin/node')
/** Generous: a cold tsx start on a busy 2-core machine can take a few seconds. */
const RUN_TIMEOUT_MS = 30_000

const dir = mkdtempSync(join(tmpdir(), 'reelnet-keygen-'))

function reelnet (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [REELNET_BIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: RUN_TIMEOUT_MS })
    let stdout = ''; let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
  })
}

interface KeyFile { type: string, keyId: string, publicKey: string, secretKey: string }
const readKey = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as KeyFile
const mode = (path: string) => statSync(path).mode & 0o777

test('keygen writes a 0600 key file whose fingerprint is the one printed', async () => {
  const path = join(dir, 'a.json')
  const { code, stdout, stderr } = await reelnet('keygen', '-o', path)
  assert.is(code, 0, stderr)
  assert.is(mode(path), 0o600)
  const file = readKey(path)
  assert.is(file.type, 'ed25519')
  const secret = fromBase64url(file.secretKey)
  const pub = fromBase64url(file.publicKey)
  assert.is(secret.length, 32)
  assert.equal(publicKeyOf(secret), pub)
  assert.is(file.keyId, fingerprint(pub))
  const printed = /fingerprint: (ed25519:[a-z2-7]{26})/.exec(stdout)?.[1]
  assert.is(printed, file.keyId)
  // The key works: it signs, and the printed public key verifies.
  const msg = Uint8Array.from([1, 2, 3])
  assert.ok(verifySignature(pub, msg, createSigner(secret).sign(msg)))
})

test('keygen refuses to overwrite without --force, and leaves the old key intact', async () => {
  const path = join(dir, 'b.json')
  assert.is((await reelnet('keygen', '-o', path)).code, 0)
  const before = readFileSync(path, 'utf8')
  const { code, stderr } = await reelnet('keygen', '-o', path)
  assert.is(code, 1)
  assert.match(stderr, /already exists.*--force/)
  assert.is(stderr.trim().split('\n').length, 1)
  assert.is(readFileSync(path, 'utf8'), before)
})

test('keygen --force writes a new key with mode 0600 even over a world-readable file', async () => {
  const path = join(dir, 'c.json')
  writeFileSync(path, '{"old": true}')
  chmodSync(path, 0o644)
  const { code, stdout } = await reelnet('keygen', '--output', path, '--force')
  assert.is(code, 0)
  assert.is(mode(path), 0o600)
  assert.ok(stdout.includes(readKey(path).keyId))
})

test('keygen writes ./reelnet-key.json by default; --help and a bad flag behave', async () => {
  const [def, help, bad] = await Promise.all([reelnet('keygen'), reelnet('keygen', '--help'), reelnet('keygen', '--bogus')])
  assert.is(def.code, 0)
  assert.is(mode(join(dir, 'reelnet-key.json')), 0o600)
  assert.is(help.code, 0)
  assert.match(help.stdout, /usage: reelnet keygen/)
  assert.is(bad.code, 2)
  assert.is(bad.stderr.trim().split('\n').length, 1)
})

test.after(() => rmSync(dir, { recursive: true, force: true }))

test.run()
