/**
 * `reelnet main --node-removal-after 5s` with real processes: an edge registered with a minted node token is
 * SIGKILLed; main takes it out of the signed rules by itself once it has been silent for the period; the edge
 * restarted on the same data folder with its old token is refused, and a fresh token brings it back.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { verifyRules } from '../../protocol/documents.ts'
import { fromText } from '../../protocol/signing.ts'
import { fetchRetrying } from '../http.ts'
import { OPERATOR, cleanup, mainKey, startMain, startNode, tempDir, waitFor, type NodeProc, type Proc } from './node-kit.ts'

let dir: string
let main: { url: string, proc: Proc }
let parent: NodeProc
const procs: Proc[] = []

async function mint (): Promise<string> {
  const res = await fetchRetrying(`${main.url}/v1/node-tokens`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' }, body: JSON.stringify({ role: 'edge', region: 'eu' }) })
  assert.is(res.status, 201)
  return ((await res.json()) as { token: string }).token
}

async function rulesPeers (): Promise<string[]> {
  const body = await (await fetchRetrying(`${main.url}/v1/rules`)).json() as { rules: string }
  return verifyRules(fromText(body.rules), { publicKey: await mainKey(main.url), now: Date.now() }).regions.flatMap(r => [...r.parents, ...r.edges].map(n => n.peerId)).sort()
}

test.before(async () => {
  dir = await tempDir('node-removal')
  main = await startMain(dir, ['--node-removal-after', '5s', '--heartbeat-timeout-ms', '2s'])
  parent = await startNode(main.url, 'parent', 'eu', join(dir, 'parent'))
})

test.after(async () => { await cleanup(dir, [...procs, parent?.proc, main?.proc]) })

test('a node silent for the removal period leaves the rules by itself; its old token no longer registers it', async () => {
  const token = await mint()
  const edge = await startNode(main.url, 'edge', 'eu', join(dir, 'edge'), ['--operator-token', token])
  procs.push(edge.proc)
  await waitFor('both nodes in the rules', async () => (await rulesPeers()).length === 2, 30_000)
  await edge.proc.kill('SIGKILL')
  await waitFor('main to remove the silent edge', async () => !(await rulesPeers()).includes(edge.peerId), 60_000)
  assert.equal(await rulesPeers(), [parent.peerId], 'the heartbeating parent stays')
  assert.match(main.proc.output(), /node removed after silence/)
  let refused = ''
  try {
    const back = await startNode(main.url, 'edge', 'eu', edge.dataDir, ['--operator-token', token])
    procs.push(back.proc)
  } catch (err) { refused = (err as Error).message }
  assert.match(refused, /token is spent/, refused.slice(-1500))
  const back = await startNode(main.url, 'edge', 'eu', edge.dataDir, ['--operator-token', await mint()])
  procs.push(back.proc)
  assert.is(back.peerId, edge.peerId, 'the same node, on its own key')
  await waitFor('the edge back in the rules', async () => (await rulesPeers()).includes(edge.peerId), 30_000)
})

test.run()
