/**
 * A start that fails half-way goes down through the same teardown as stop():
 * the state db, the chunk store, the libp2p host and the fast lane's listener
 * are released, so the same data folder and the same ports start again at
 * once in this process. main is a real HTTP server on loopback that refuses
 * every request; the node is the real one (level stores, libp2p, TLS lane).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer, type Server } from 'node:net'
import { createServer as createHttpServer } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createSigner } from '../../protocol/keys.ts'
import { toBase64url } from '../../protocol/encoding.ts'
import { startNode, type NodeOptions } from './run.ts'

const dir = mkdtempSync(join(tmpdir(), 'reelnet-run-'))
const mainKey = toBase64url(createSigner(randomBytes(32)).publicKey)
const requests: string[] = []
/** main refusing everything the way it refuses a spent token: 403 with its JSON error body. */
const main = createHttpServer((req, res) => {
  requests.push(`${req.method ?? ''} ${req.url ?? ''}`)
  req.resume()
  res.writeHead(403, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ error: { code: 'token_spent', message: 'this token is spent' } }))
})
let mainUrl = ''

async function listening (server: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const a = server.address()
  if (a === null || typeof a === 'string') throw new Error('no port')
  return a.port
}
/** A port that was free a moment ago (the node is then told to use exactly it). */
async function freePort (): Promise<number> {
  const s = createServer()
  const port = await listening(s)
  await new Promise(resolve => s.close(resolve))
  return port
}

function options (dataDir: string, listenPort: number, lanePort: number, extra: Partial<NodeOptions> = {}): NodeOptions {
  return {
    role: 'edge', region: 'eu', mainUrl, dataDir, listen: [`/ip4/127.0.0.1/tcp/${listenPort}`], operatorToken: 'spent',
    capacityBytes: 64 * 1024 * 1024, mainKey, heartbeatMs: 1000, rulesPollMs: 1000, log: () => {}, fastLanePort: lanePort, ...extra
  }
}

async function startError (o: NodeOptions): Promise<Error> {
  try {
    const node = await startNode(o)
    await node.stop()
  } catch (err) {
    return err as Error
  }
  throw new Error('the node started')
}

test.before(async () => {
  mainUrl = `http://127.0.0.1:${await listening(main)}`
})

test('a node main refuses releases its stores and ports: the same folder and ports start again at once', async () => {
  const dataDir = join(dir, 'refused')
  const [listenPort, lanePort] = [await freePort(), await freePort()]
  for (let attempt = 1; attempt <= 3; attempt++) {
    const err = await startError(options(dataDir, listenPort, lanePort))
    // a state db, store, host or lane left open would fail the next start with LEVEL_LOCKED or EADDRINUSE instead
    assert.is(err.name, 'MainHttpError', `attempt ${attempt}: ${err.name}: ${err.message}`)
    assert.match(err.message, /token is spent/)
  }
  assert.is(requests.filter(r => r.startsWith('POST /v1/nodes')).length, 3, requests.join(', '))
})

test('a metrics port in use stops the start with a clear error before registering, and releases everything', async () => {
  const dataDir = join(dir, 'metrics')
  const [listenPort, lanePort] = [await freePort(), await freePort()]
  const blocker = createServer()
  const metricsPort = await listening(blocker)
  const before = requests.length
  try {
    const err = await startError(options(dataDir, listenPort, lanePort, { metricsPort }))
    assert.is(err.message, `metrics port ${metricsPort} is already in use`)
    assert.is(requests.length, before, 'main was asked nothing')
  } finally {
    await new Promise(resolve => blocker.close(resolve))
  }
  const again = await startError(options(dataDir, listenPort, lanePort, { metricsPort }))
  assert.is(again.name, 'MainHttpError', `${again.name}: ${again.message}`)
})

test.after(async () => {
  await new Promise(resolve => main.close(resolve))
  rmSync(dir, { recursive: true, force: true })
})

test.run()
