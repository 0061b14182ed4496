/**
 * The layout rules DESIGN.md names, checked on every run: protocol/ stays
 * pure, and main/, node/, sim/ and web/ (the browser player) never import
 * one another.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

function sources (dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) sources(path, out)
    else if (/\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name)) out.push(path)
  }
  return out
}

const FORBIDDEN_IN_PROTOCOL = [/node:net\b/, /node:fs\b/, /\bDate\.now\b/, /\bprocess\./, /from 'fs'/, /from 'net'/]

test('protocol/ has no sockets, no disk, no ambient clock, no process', () => {
  const files = sources('protocol')
  assert.ok(files.length > 0, 'protocol/ has source files')
  const offences: string[] = []
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    for (const re of FORBIDDEN_IN_PROTOCOL) if (re.test(text)) offences.push(`${file}: ${re.source}`)
  }
  assert.equal(offences, [])
})

for (const part of ['protocol', 'main', 'node', 'sim', 'web']) {
  test(`${part}/ imports none of the other parts`, () => {
    const others = ['main', 'node', 'sim', 'cli', 'web'].filter(p => p !== part)
    const offences: string[] = []
    for (const file of sources(part)) {
      const text = readFileSync(file, 'utf8')
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        const spec = m[1] ?? ''
        if (!spec.startsWith('.')) continue
        const target = join(file, '..', spec).split('/')[0]
        if (target !== undefined && others.includes(target)) offences.push(`${file} imports ${spec}`)
      }
    }
    assert.equal(offences, [])
  })
}

/** node/'s layers, lowest first (node/README.md): a folder imports only lower ones; server/ and client/ share a rank. */
const NODE_LAYER_RANK: Record<string, number> = { net: 0, control: 1, download: 2, server: 3, client: 3 }

test("node/'s folders import only the layers below them (server/ and client/ never each other)", () => {
  const offences: string[] = []
  for (const file of sources('node')) {
    const layer = file.split('/')[1] ?? ''
    const rank = NODE_LAYER_RANK[layer]
    if (rank === undefined) { offences.push(`${file} is in none of node/'s layer folders`); continue }
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
      const spec = m[1] ?? ''
      if (!spec.startsWith('.')) continue
      const [part, target] = join(file, '..', spec).split('/')
      if (part !== 'node' || target === undefined || target === layer) continue
      const targetRank = NODE_LAYER_RANK[target]
      if (targetRank === undefined || targetRank >= rank) offences.push(`${file} (${layer}/) imports ${spec}`)
    }
  }
  assert.equal(offences, [])
})

test.run()
