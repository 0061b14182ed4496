/**
 * The entry point on a Node older than the project needs (these machines ship Node 20; libp2p 3 needs 22):
 * bin/reelnet.js re-executes itself with the Node 24 that `npm install` put in node_modules, or, where there is
 * none, exits at once with one line saying which Node it needs and how to run it. An "old Node" is the real
 * Node 24 under a preload stub that reports v20.20.2 and refuses to load the CLI (tsx) in that process, so a
 * working command proves the re-executed child ran it.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ENTRY = fileURLToPath(new URL('../../bin/reelnet.js', import.meta.url))
const PKG = fileURLToPath(new URL('../../package.json', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'reelnet-old-node-'))
/** Reports v20.20.2. */
const VERSION_STUB = join(dir, 'old-version.mjs')
writeFileSync(VERSION_STUB, `
Object.defineProperty(process.versions, 'node', { value: '20.20.2' })
Object.defineProperty(process, 'version', { value: 'v20.20.2' })
`)
/** Reports v20.20.2 and refuses to load tsx (the CLI) in this process. */
const STUB = join(dir, 'old-node-stub.mjs')
writeFileSync(STUB, `
import { registerHooks } from 'node:module'
import ${JSON.stringify(new URL(`file://${VERSION_STUB}`).href)}
registerHooks({
  resolve (specifier, context, next) {
    if (specifier.startsWith('tsx')) throw new Error('old-node stub: the CLI was loaded on the old Node')
    return next(specifier, context)
  }
})
`)
const run = (entry: string, args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, ['--import', STUB, entry, ...args], {
  encoding: 'utf8', timeout: 120_000, env: { ...process.env, REELNET_REEXEC: '' }
})

test('on an old Node, bin/reelnet.js re-executes itself with the project\'s Node 24 and the command works', () => {
  const r = run(ENTRY, ['--help'])
  assert.is(r.status, 0, `exit ${r.status}: ${String(r.stderr)}`)
  assert.match(String(r.stdout), /usage: reelnet <command>/)
  assert.not.match(String(r.stderr), /old-node stub/)
})

test('on an old Node with no project Node installed, it exits at once with one line naming the Node it needs', () => {
  // a copy of the entry beside package.json, with no node_modules
  const bare = join(dir, 'bare')
  mkdirSync(join(bare, 'bin'), { recursive: true })
  copyFileSync(ENTRY, join(bare, 'bin', 'reelnet.js'))
  copyFileSync(PKG, join(bare, 'package.json'))
  const r = run(join(bare, 'bin', 'reelnet.js'), ['demo'])
  assert.is(r.status, 1)
  const lines = String(r.stderr).trim().split('\n')
  assert.is(lines.length, 1, String(r.stderr))
  assert.match(lines[0]!, /^reelnet needs Node\.js 22 or newer \(this is v20\.20\.2\): run `npm install`/)
  assert.is(String(r.stdout), '')
})

test('the test runner refuses an old Node with one line', () => {
  const r = spawnSync(process.execPath, ['--import', VERSION_STUB, '--import', 'tsx', fileURLToPath(new URL('../run.ts', import.meta.url)), 'nothing-matches'], { encoding: 'utf8', timeout: 120_000 })
  assert.is(r.status, 1)
  assert.match(String(r.stderr).trim(), /^reelnet's runners need Node\.js 22 or newer \(this is v20\.20\.2\)/)
})

test.after(() => { rmSync(dir, { recursive: true, force: true }) })

test.run()
