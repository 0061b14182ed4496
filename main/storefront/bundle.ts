/**
 * The web player's browser bundle, built by esbuild from web/ the first time
 * a page asks for it and kept in memory (nothing generated is written or
 * committed). protocol/ goes in as it is; its two Node imports are swapped
 * for browser ones: node:buffer for the `buffer` package and node:crypto
 * for web/shims/node-crypto.ts (noble hashes; signatures take noble's path).
 */
import { join } from 'node:path'
import { PROJECT_ROOT } from '../project-root.ts'

export type BundleName = 'player.js' | 'sw.js'

const ENTRIES: Record<BundleName, string> = {
  'player.js': join(PROJECT_ROOT, 'web', 'player.ts'),
  'sw.js': join(PROJECT_ROOT, 'web', 'sw.ts')
}

export class PlayerBundle {
  readonly #built = new Map<BundleName, Promise<string>>()

  async get (name: BundleName): Promise<string> {
    let p = this.#built.get(name)
    if (p === undefined) {
      // the page loads player.js as a module; a classic Service Worker script registers everywhere
      p = buildOne(ENTRIES[name], name === 'sw.js' ? 'iife' : 'esm')
      // a failed build is retried on the next request rather than cached
      p.catch(() => { this.#built.delete(name) })
      this.#built.set(name, p)
    }
    return await p
  }
}

async function buildOne (entry: string, format: 'esm' | 'iife'): Promise<string> {
  const esbuild = await import('esbuild')
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format,
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    alias: {
      'node:buffer': join(PROJECT_ROOT, 'web', 'shims', 'node-buffer.ts'),
      'node:crypto': join(PROJECT_ROOT, 'web', 'shims', 'node-crypto.ts')
    },
    define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' }
  })
  const out = result.outputFiles[0]
  if (out === undefined) throw new Error(`esbuild produced nothing for ${entry}`)
  return out.text
}
