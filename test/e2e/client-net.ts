/**
 * A real reelnet network on 127.0.0.1 for the client's end-to-end tests,
 * the demo's checks and bench/client.ts: main and parent/edge nodes as
 * separate `reelnet` processes, plus helpers that speak main's HTTP API for
 * the admin and customer steps. Every process started here is killed by
 * `stop()` (and by a process 'exit' hook as a last resort).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { REELNET_BIN, TEST_SCRYPT_LOG_N } from '../bin.ts'
import { fetchRetrying } from '../http.ts'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const NODE_BIN = process.execPath
export const REELNET = REELNET_BIN
/** A process that has not printed its ready line in this long has failed to start. */
export const READY_TIMEOUT_MS = 180_000
export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789abcdef'
export const OPERATOR_TOKEN = 'operator-token-for-tests-0123456789abcdef'

const live = new Set<ChildProcess>()
function killAll (): void { for (const c of live) { try { c.kill('SIGKILL') } catch {} } }
process.on('exit', killAll)
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { killAll(); process.exit(130) })
/**
 * The test runner SIGKILLs a suite after 12 minutes: give up a little before, with a message. The benches,
 * which move larger items, set REELNET_E2E_WATCHDOG_MS (bench/run.ts gives them 30 minutes).
 */
const WATCHDOG_OVERRIDE_MS = Number(process.env.REELNET_E2E_WATCHDOG_MS)
export const SUITE_WATCHDOG_MS = WATCHDOG_OVERRIDE_MS > 0 ? WATCHDOG_OVERRIDE_MS : 11 * 60_000
setTimeout(() => { console.error(`[client-net] watchdog: still running after ${SUITE_WATCHDOG_MS / 60_000} min; stopping every process`); killAll(); process.exit(1) }, SUITE_WATCHDOG_MS).unref()

export interface Proc {
  child: ChildProcess
  /** Everything printed so far (stdout and stderr). */
  output: () => string
  stdoutLines: () => string[]
  exited: Promise<number | null>
  kill: (sig?: NodeJS.Signals) => void
}

export function spawnReelnet (args: string[], opts: { env?: Record<string, string>, cwd?: string, name?: string } = {}): Proc {
  const child = spawn(NODE_BIN, [REELNET, ...args], {
    cwd: opts.cwd ?? ROOT,
    // a stdin pipe: if this test process is SIGKILLed, its reelnet children exit too (cli/main.ts exitWithParent)
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', REELNET_EXIT_WITH_PARENT: '1', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  live.add(child)
  let out = ''
  let stdout = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); stdout += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => { live.delete(child); resolve(code) }))
  if (process.env.REELNET_E2E_DEBUG === '1') {
    const tag = `[${opts.name ?? args[0]}] `
    child.stdout!.on('data', (d: Buffer) => process.stderr.write(tag + d.toString()))
    child.stderr!.on('data', (d: Buffer) => process.stderr.write(tag + d.toString()))
  }
  return {
    child,
    output: () => out,
    stdoutLines: () => stdout.split('\n').filter(l => l !== ''),
    exited,
    kill: (sig = 'SIGTERM') => { try { child.kill(sig) } catch {} }
  }
}

/** Wait for a line matching `re` in the process's output. */
export async function waitFor (p: Proc, re: RegExp, timeoutMs = READY_TIMEOUT_MS): Promise<RegExpExecArray> {
  const started = Date.now()
  while (true) {
    const m = re.exec(p.output())
    if (m !== null) return m
    if (p.child.exitCode !== null) throw new Error(`process exited (${p.child.exitCode}) before printing ${re}:\n${p.output().slice(-3000)}`)
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${re}:\n${p.output().slice(-3000)}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** `statusUrl`: the node's GET /status, served on a metrics port of its own. */
export interface NodeInfo { proc: Proc, role: 'parent' | 'edge', region: string, peerId: string, dataDir: string, statusUrl: string }

/** The flags every test node gets so that it answers GET /status (beside /metrics, on a free port). */
export const STATUS_FLAGS = ['--metrics-port', '0']
/** The ready lines of `reelnet node`: peerId, listen addresses, then where /metrics (and /status) is served. */
export const NODE_READY_RE = /reelnet node (\w+) (\S+) (\S+) listening on (\S+)\n[^]*?reelnet node metrics at (\S+)\/metrics\n/

/** A node's status now, from its GET /status (computed at the request: no file rewritten on a timer). */
export async function nodeStatus (n: { statusUrl: string }): Promise<any> {
  const res = await fetchRetrying(n.statusUrl, { signal: AbortSignal.timeout(30_000) })
  if (!res.ok) throw new Error(`${n.statusUrl}: ${res.status}`)
  return await res.json()
}

export interface NetworkOptions {
  dir: string
  regions: Array<{ name: string, parents: number, edges: number, edgeMaxUpload?: string, parentMaxUpload?: string }>
  directiveTtlMs?: number
  heartbeatMs?: number
  /** More `reelnet main` flags (e.g. --encrypt, --rental-seconds N). Items are plaintext unless they say --encrypt (the suites compare files byte for byte). */
  mainArgs?: string[]
}

export class Network {
  main!: Proc
  mainUrl = ''
  mainKeyText = ''
  nodes: NodeInfo[] = []
  readonly opts: NetworkOptions

  constructor (opts: NetworkOptions) { this.opts = opts }

  async start (): Promise<void> {
    const { dir } = this.opts
    mkdirSync(dir, { recursive: true })
    this.main = spawnReelnet(['main', '--data', join(dir, 'main'), '--port', '0', '--admin-token', ADMIN_TOKEN, '--operator-token', OPERATOR_TOKEN,
      '--heartbeat-timeout-ms', '4000', '--scrypt-log-n', TEST_SCRYPT_LOG_N, ...((this.opts.mainArgs ?? []).includes('--encrypt') ? [] : ['--plain']), ...(this.opts.directiveTtlMs !== undefined ? ['--directive-ttl-ms', String(this.opts.directiveTtlMs)] : []), ...(this.opts.mainArgs ?? [])], { name: 'main' })
    const m = await waitFor(this.main, /reelnet main listening on (http:\/\/\S+) key (\S+)/)
    this.mainUrl = m[1] as string
    const keys = await this.api('GET', '/v1/keys') as { keys: Array<{ publicKey: string }> }
    this.mainKeyText = keys.keys[0]?.publicKey ?? ''
    const starts: Array<Promise<unknown>> = []
    for (const r of this.opts.regions) {
      for (let i = 0; i < r.parents; i++) starts.push(this.startNode('parent', r.name, `${r.name}-parent-${i}`, r.parentMaxUpload))
      for (let i = 0; i < r.edges; i++) starts.push(this.startNode('edge', r.name, `${r.name}-edge-${i}`, r.edgeMaxUpload))
    }
    await Promise.all(starts)
  }

  async startNode (role: 'parent' | 'edge', region: string, name: string, maxUpload?: string): Promise<NodeInfo> {
    const dataDir = join(this.opts.dir, name)
    const proc = spawnReelnet(['node', '--role', role, '--region', region, '--main', this.mainUrl, '--data', dataDir,
      '--operator-token', OPERATOR_TOKEN, `--main-key=${this.mainKeyText}`, '--heartbeat-ms', String(this.opts.heartbeatMs ?? 1000), '--rules-poll-ms', '500',
      ...STATUS_FLAGS, ...(maxUpload !== undefined ? ['--max-upload', maxUpload] : [])], { name })
    const m = await waitFor(proc, NODE_READY_RE)
    const info: NodeInfo = { proc, role, region, peerId: m[3] as string, dataDir, statusUrl: `${m[5] as string}/status` }
    this.nodes.push(info)
    return info
  }

  async api (method: string, path: string, body?: unknown, token?: string): Promise<unknown> {
    const res = await fetchRetrying(this.mainUrl + path, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
      body: body instanceof Uint8Array ? body : body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(60_000)
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`)
    return text === '' ? undefined : JSON.parse(text)
  }

  /** Ingest `bytes` as an item (admin); returns its itemId. */
  async ingest (bytes: Uint8Array, title: string): Promise<string> {
    const res = await fetchRetrying(`${this.mainUrl}/v1/items?title=${encodeURIComponent(title)}`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/octet-stream' }, body: bytes, signal: AbortSignal.timeout(120_000)
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`ingest: HTTP ${res.status} ${text}`)
    return (JSON.parse(text) as { itemId: string }).itemId
  }

  nodesOf (region: string, role?: 'parent' | 'edge'): NodeInfo[] {
    return this.nodes.filter(n => n.region === region && (role === undefined || n.role === role))
  }

  async stop (): Promise<void> {
    const all = [...this.nodes.map(n => n.proc), ...(this.main !== undefined ? [this.main] : [])]
    for (const p of all) p.kill('SIGTERM')
    await Promise.race([Promise.all(all.map(p => p.exited)), new Promise(resolve => setTimeout(resolve, 5_000))])
    for (const p of all) if (p.child.exitCode === null) p.kill('SIGKILL')
  }
}

// ---- customers ---------------------------------------------------------------

export interface CustomerInfo { name: string, configDir: string, token: string, accountId: string, region: string }

interface Session { token: string, accountId: string, expiresAt: number, username: string }

async function signUp (net: Network, username: string, region: string): Promise<Session> {
  const password = `pw-${username}-0123456789`
  await net.api('POST', '/v1/accounts', { username, password, region })
  const s = await net.api('POST', '/v1/sessions', { username, password }) as { token: string, accountId: string, expiresAt: number }
  return { ...s, username }
}

/**
 * One account per network and region that customers share by default, as the
 * devices of one household do: each new account costs main two scrypt hashes
 * at OWASP's parameters (2.5 s of CPU each on these machines), which a suite
 * with a dozen customers would otherwise spend a minute on. Licenses,
 * directives and client keys stay per customer (per config folder).
 */
const households = new WeakMap<Network, Map<string, Promise<Session>>>()
function household (net: Network, region: string): Promise<Session> {
  let byRegion = households.get(net)
  if (byRegion === undefined) households.set(net, byRegion = new Map())
  let s = byRegion.get(region)
  if (s === undefined) byRegion.set(region, s = signUp(net, `household-${region}`, region))
  return s
}

/**
 * A customer with a logged-in session in its own config folder (as `reelnet
 * account create` + `login` would leave it): on the region's shared household
 * account, or on an account of its own (username `name`, password
 * `pw-<name>-0123456789`) with `ownAccount`.
 */
export async function createCustomer (net: Network, name: string, region: string, opts: { ownAccount?: boolean } = {}): Promise<CustomerInfo> {
  const s = opts.ownAccount === true ? await signUp(net, name, region) : await household(net, region)
  const configDir = join(net.opts.dir, `cust-${name}`)
  mkdirSync(configDir, { recursive: true })
  const { saveSession } = await import('../../cli/session.ts')
  const before = process.env.REELNET_CONFIG_DIR
  process.env.REELNET_CONFIG_DIR = configDir
  try {
    await saveSession({ mainUrl: net.mainUrl, token: s.token, accountId: s.accountId, username: s.username, region, mainKey: net.mainKeyText, mainKeyId: 'test', expiresAt: s.expiresAt })
  } finally {
    if (before === undefined) delete process.env.REELNET_CONFIG_DIR
    else process.env.REELNET_CONFIG_DIR = before
  }
  return { name, configDir, token: s.token, accountId: s.accountId, region }
}

/** Run a client command (`get`/`play`) as customer `c`. */
export function runClient (c: CustomerInfo, args: string[]): Proc {
  return spawnReelnet(args, { env: { REELNET_CONFIG_DIR: c.configDir }, name: c.name, cwd: c.configDir })
}

/** The JSON lines a client printed with --json. */
export function jsonLines (p: Proc): Array<Record<string, any>> {
  const out: Array<Record<string, any>> = []
  for (const line of p.stdoutLines()) {
    if (!line.startsWith('{')) continue
    try { out.push(JSON.parse(line) as Record<string, any>) } catch { /* partial line */ }
  }
  return out
}

/** Wait for a JSON line satisfying `pred`. */
export async function waitJson (p: Proc, pred: (o: Record<string, any>) => boolean, timeoutMs = 120_000): Promise<Record<string, any>> {
  const started = Date.now()
  while (true) {
    const hit = jsonLines(p).find(pred)
    if (hit !== undefined) return hit
    if (p.child.exitCode !== null) {
      const again = jsonLines(p).find(pred)
      if (again !== undefined) return again
      throw new Error(`${p.child.spawnargs.slice(2, 4).join(' ')} exited (${p.child.exitCode}) first:\n${p.output().slice(-3000)}`)
    }
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for a JSON line:\n${p.output().slice(-3000)}`)
    await new Promise(resolve => setTimeout(resolve, 40))
  }
}
