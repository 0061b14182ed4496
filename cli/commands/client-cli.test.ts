/** `reelnet get`, `play` and `demo` at the command line: help, and one clear line for each mistake. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const bin = new URL('../../bin/reelnet.js', import.meta.url).pathname
const config = mkdtempSync(join(tmpdir(), 'reelnet-cli-client-'))
function run (...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, REELNET_CONFIG_DIR: config }, timeout: 60_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

test('--help describes get, play and demo', () => {
  assert.match(run('get', '--help').out, /usage: reelnet get ITEM/)
  assert.match(run('play', '--help').out, /usage: reelnet play ITEM/)
  assert.match(run('demo', '--help').out, /usage: reelnet demo/)
})

test('usage mistakes are one line and exit 2', () => {
  for (const args of [['get'], ['get', 'a', 'b'], ['get', 'x', '--max-upload', 'lots'], ['get', 'x', '--max-download', '100'], ['play', 'x', '--max-download', 'fast'], ['play', 'x', '--max-upload', '10'], ['main', '--scrypt-log-n', '30'], ['get', 'x', '--json', '--quiet'], ['play', 'x', '--port', '70000'], ['demo', '--size', 'huge'], ['get', 'x', '--bogus']]) {
    const r = run(...args)
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`)
    assert.equal(r.err.trim().split('\n').length, 1, r.err)
    assert.match(r.err, /^reelnet: /)
  }
})

test('without a session, get and play say to log in (exit 1)', () => {
  for (const cmd of ['get', 'play']) {
    const r = run(cmd, '0123456789abcdef0123456789abcdef')
    assert.equal(r.code, 1, r.err)
    assert.match(r.err, /not logged in/)
  }
})

test('--help describes export, rentals, rent --purchase and ingest --encrypt; their mistakes are one line', () => {
  assert.match(run('export', '--help').out, /usage: reelnet export ITEM -o FILE[^]*Only a purchase/)
  assert.match(run('rentals', '--help').out, /usage: reelnet rentals[^]*starts when it is rented/)
  assert.match(run('rent', '--help').out, /--purchase/)
  assert.match(run('ingest', '--help').out, /--encrypt[^]*--plain/)
  assert.match(run('main', '--help').out, /--encrypt/)
  for (const args of [['export'], ['export', 'x'], ['export', 'a', 'b', '-o', 'f'], ['rentals', 'extra'], ['ingest', 'f', '--encrypt', '--plain']]) {
    const r = run(...args)
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`)
    assert.equal(r.err.trim().split('\n').length, 1, r.err)
  }
  const r = run('export', '0123456789abcdef0123456789abcdef', '-o', 'x')
  assert.equal(r.code, 1, r.err)
  assert.match(r.err, /not logged in/)
})

test.after(() => { rmSync(config, { recursive: true, force: true }) })
test.run()
