/**
 * This node's software version, sent in every heartbeat: package.json's.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Folders searched upwards for the project's package.json: the sources sit a few levels below it, the test runner's bundle (.build/) one. */
const MAX_LEVELS_UP = 8

/**
 * The version in the nearest package.json named `reelnet` above this file. Looked up, not `../package.json`: that
 * path is right from one folder only, and this file is run both from its place in node/ and from the bundle in .build/.
 */
function readVersion (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < MAX_LEVELS_UP; i++) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'reelnet' && typeof pkg.version === 'string') return pkg.version
    }
    const up = dirname(dir)
    if (up === dir) break
    dir = up
  }
  throw new Error(`no package.json of reelnet above ${fileURLToPath(import.meta.url)}`)
}

export const SOFTWARE_VERSION: string = readVersion()
