/**
 * Imported first by the test and bench runners: on a Node older than package.json's engines (these machines
 * ship 20, which libp2p 3 cannot run on) they refuse at once with one line instead of failing deep inside a
 * suite. `npm test` and `npm run bench` run on the Node 24 that the `node` package installs.
 */
import { readFileSync } from 'node:fs'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { engines?: { node?: string } }
const required = Number(/(\d+)/.exec(pkg.engines?.node ?? '>=22')?.[1] ?? 22)
if (Number(process.versions.node.split('.')[0]) < required) {
  console.error(`reelnet's runners need Node.js ${required} or newer (this is ${process.version}): run them as \`npm test\` or \`npm run bench\`, which use the Node 24 that \`npm install\` puts in node_modules`)
  process.exit(1)
}
