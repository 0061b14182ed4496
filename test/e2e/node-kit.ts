/**
 * Helpers for the node end-to-end suites: real `reelnet main` and
 * `reelnet node` processes on 127.0.0.1, a customer with a real directive,
 * and a libp2p requester that verifies what it receives.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { verifyChunk } from '../../protocol/chunking.ts'
import { verifyDirective, verifyManifest } from '../../protocol/documents.ts'
import { fromText } from '../../protocol/signing.ts'
import { fromBase64url } from '../../protocol/encoding.ts'
import type { Directive, Manifest } from '../../protocol/types.ts'
import { createHost, type ReelnetHost } from '../../node/net/host.ts'
import { fetchChunks } from '../../node/net/chunk-client.ts'
import { REELNET_BIN, TEST_SCRYPT_LOG_N } from '../bin.ts'
import { fetchRetrying } from '../http.ts'

export const ROOT = new URL('../../', import.meta.url).pathname
export const NODE_BIN = join(ROOT, 'node_modules/.bin/node')
export const ADMIN = 'admin-token-for-e2e-tests'
export const OPERATOR = 'operator-token-for-e2e-tests'
/** A process that has not printed its ready line by then is broken. */
export const READY_TIMEOUT_MS = 120_000

export interface Proc { child: ChildProcess, output: () => string, kill: (sig?: NodeJS.Signals) => Promise<void> }

function launch (args: string[], readyRe: RegExp): Promise<{ proc: Proc, match: RegExpExecArray }> {
  const child = spawn(NODE_BIN, [REELNET_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } })
  let out = ''
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  const proc: Proc = {
    child,
    output: () => out,
    kill: async (sig = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill(sig)
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(t)
    }
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`not ready after ${READY_TIMEOUT_MS} ms: ${args.join(' ')}\n${out}`)); child.kill('SIGKILL') }, READY_TIMEOUT_MS)
    const onData = (d: Buffer): void => {
      out += d.toString()
      const m = readyRe.exec(out)
      if (m !== null) { clearTimeout(timer); resolve({ proc, match: m }) }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', (d: Buffer) => { out += d.toString() })
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`exited with ${code} before ready: ${args.join(' ')}\n${out}`)) })
  })
}

export async function tempDir (name: string): Promise<string> {
  return await mkdtemp(join(tmpdir(), `reelnet-${name}-`))
}

/**
 * A main for a network test. Its items are plaintext unless `extra` says --encrypt: these suites compare the
 * downloaded file with the original byte for byte, while `reelnet get` keeps an encrypted item's ciphertext
 * (test/e2e/encryption.test.ts and the demo cover that path).
 */
export async function startMain (dir: string, extra: string[] = []): Promise<{ url: string, proc: Proc }> {
  const plain = extra.includes('--encrypt') ? [] : ['--plain']
  const { proc, match } = await launch(['main', '--data', join(dir, 'main'), '--port', '0', '--admin-token', ADMIN, '--operator-token', OPERATOR, '--scrypt-log-n', TEST_SCRYPT_LOG_N, ...plain, ...extra],
    /reelnet main listening on (http:\/\/[0-9.]+:\d+)/)
  return { url: match[1]!, proc }
}

/** `statusUrl`: the node's GET /status (every test node serves one, on a metrics port of its own unless `extra` names one). */
export interface NodeProc { proc: Proc, peerId: string, addrs: string[], dataDir: string, metricsUrl: string, statusUrl: string }

export async function startNode (url: string, role: 'parent' | 'edge', region: string, dataDir: string, extra: string[] = []): Promise<NodeProc> {
  const metrics = extra.includes('--metrics-port') ? [] : ['--metrics-port', '0']
  const { proc, match } = await launch(['node', '--role', role, '--region', region, '--main', url, '--data', dataDir,
    '--operator-token', OPERATOR, '--heartbeat-ms', '500', '--rules-poll-ms', '300', ...metrics, ...extra],
  /reelnet node (parent|edge) (\S+) (\S+) listening on (\S+)\n[^]*?reelnet node metrics at (\S+)\/metrics\n/)
  return { proc, peerId: match[3]!, addrs: match[4]!.split(','), dataDir, metricsUrl: `${match[5]!}/metrics`, statusUrl: `${match[5]!}/status` }
}

export async function ingest (url: string, bytes: Uint8Array, title: string): Promise<string> {
  const res = await fetchRetrying(`${url}/v1/items?title=${encodeURIComponent(title)}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: bytes })
  if (!res.ok) throw new Error(`ingest: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { itemId: string }).itemId
}

export async function mainKey (url: string): Promise<Uint8Array> {
  const res = await fetchRetrying(`${url}/v1/keys`)
  const body = await res.json() as { keys: Array<{ publicKey: string }> }
  return fromBase64url(body.keys[0]!.publicKey)
}

export async function manifestOf (url: string, itemId: string): Promise<Manifest> {
  const res = await fetchRetrying(`${url}/v1/items/${itemId}`)
  const body = await res.json() as { manifest: string }
  return verifyManifest(fromText(body.manifest), { publicKey: await mainKey(url), itemId })
}

export interface NodeStatus {
  peerId: string
  routingTable: string[]
  connections: string[]
  heldItems: string[]
  rulesVersion: number | null
  store: { usedBytes: number, capacityBytes: number, chunks: number, corruptOnRead: number, reconcile: { kept: number, adopted: number, discarded: number, tempFilesRemoved: number } }
  fetched: { bytes: { edge: number, parent: number, origin: number }, bySource: Record<string, number> }
  served: Record<string, number>
  /** The fast lane (absent when the node runs with --no-fast-lane) and the paths its fills took. */
  fastLane?: { addr: string, connections: number, requests: number }
  transport: { fastLane: number, libp2p: number, fallbacks: number }
}

/** The node's status now, from its GET /status. */
export async function status (node: { statusUrl: string }): Promise<NodeStatus> {
  const res = await fetchRetrying(node.statusUrl, { signal: AbortSignal.timeout(30_000) })
  if (!res.ok) throw new Error(`${node.statusUrl}: ${res.status}`)
  return await res.json() as NodeStatus
}

/** Poll `check` until it returns true or the deadline passes (then throw with `what`). */
export async function waitFor (what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    try { if (await check()) return } catch { /* not yet */ }
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

/** A customer: account, session, rental; asks main for directives bound to its own libp2p host. */
export async function customer (url: string, region: string, itemId: string, name: string): Promise<{ host: ReelnetHost, directive: () => Promise<{ bytes: Uint8Array, directive: Directive }> }> {
  const password = 'a long enough password'
  const post = async (path: string, body: unknown, token?: string): Promise<any> => {
    const res = await fetchRetrying(url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) })
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
    return await res.json()
  }
  await post('/v1/accounts', { username: name, password, region })
  const { token } = await post('/v1/sessions', { username: name, password })
  const { licenseId } = await post('/v1/rentals', { itemId }, token)
  const host = await createHost({ privateKey: await generateKeyPair('Ed25519'), region, dht: false })
  return {
    host,
    directive: async () => {
      const { directive } = await post('/v1/directives', { licenseId, clientPeerId: host.peerId.toString(), region }, token)
      const bytes = fromText(directive)
      return { bytes, directive: verifyDirective(bytes, { publicKey: await mainKey(url), now: Date.now() }) }
    }
  }
}

/** Fetch every chunk of an item from one peer over the chunk protocol, verifying each; returns the whole item. */
export async function fetchItem (host: ReelnetHost, peer: { peerId: string, addrs: string[] }, manifest: Manifest, credential?: Uint8Array, timeoutMs = 120_000): Promise<Buffer> {
  const out = Buffer.alloc(manifest.size)
  const indexes = Array.from({ length: manifest.chunkCount }, (_, i) => i)
  await fetchChunks(host, peer, { itemId: manifest.itemId, indexes, credential }, {
    signal: AbortSignal.timeout(timeoutMs),
    onChunk: (i, bytes) => { verifyChunk(manifest, i, bytes); out.set(bytes, i * manifest.chunkSize) }
  })
  return out
}

export async function cleanup (dir: string, procs: Array<Proc | undefined>): Promise<void> {
  if (process.env.REELNET_E2E_DEBUG === '1') for (const p of procs) if (p !== undefined) console.error(`---- ${p.child.spawnargs.slice(2, 7).join(' ')}\n${p.output().slice(-4000)}`)
  await Promise.all(procs.map(async p => await p?.kill('SIGKILL')))
  await rm(dir, { recursive: true, force: true })
}
