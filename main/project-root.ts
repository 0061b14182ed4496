/**
 * The checkout's root folder: the nearest folder at or above this module that holds reelnet's package.json.
 * Files main serves or builds from (the storefront's CSS, the web player's sources) are found from it, so the
 * same code works from the sources (main/…, two levels down) and from the test runner's one-file bundle
 * (.build/, one level down), where paths relative to import.meta.url would point elsewhere.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

function findRoot (from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg)) {
      try { if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'reelnet') return dir } catch { /* not ours */ }
    }
    if (dirname(dir) === dir) throw new Error(`no reelnet package.json above ${from}`)
  }
}

export const PROJECT_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)))
