#!/usr/bin/env node
// The one entry point: load TypeScript through tsx (a runtime dependency) and
// hand over to the CLI. Runs on the Node 24 that the `node` package installs
// (npm start, npx reelnet). Started by an older Node (these machines ship 20,
// too old for libp2p), it re-executes itself with the project's Node, or,
// where that is not installed, refuses at once with one line. Kept to syntax
// and calls that any Node since 14 runs.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(import.meta.url)
const root = join(dirname(here), '..')
const engines = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines?.node ?? '>=22'
const required = Number(/(\d+)/.exec(engines)?.[1] ?? 22)
const major = Number(process.versions.node.split('.')[0])

if (major < required) {
  const projectNode = join(root, 'node_modules', 'node', 'bin', 'node')
  if (process.env.REELNET_REEXEC !== '1' && existsSync(projectNode)) {
    const child = spawn(projectNode, [here, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, REELNET_REEXEC: '1' } })
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { child.kill(sig) })
    child.on('exit', (code, signal) => {
      if (signal !== null) { process.removeAllListeners(signal); process.kill(process.pid, signal) }
      process.exit(code ?? 1)
    })
    child.on('error', err => {
      console.error(`reelnet: could not start ${projectNode}: ${err.message}`)
      process.exit(1)
    })
  } else {
    console.error(`reelnet needs Node.js ${required} or newer (this is ${process.version}): run \`npm install\` in ${root}, then \`npx reelnet …\` or \`npm start\` there, which use the Node 24 it installs`)
    process.exit(1)
  }
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../cli/main.ts')
}
