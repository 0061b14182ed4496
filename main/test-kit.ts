/**
 * Shared by main's test suites (not a suite itself): a main on a temp
 * folder with a fake clock and cheap password hashing, a request helper,
 * and node keys.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createMain, type Main, type MainOptions } from './app.ts'
import { createSigner, peerIdOf, type Signer } from '../protocol/keys.ts'
import { fromBase64url } from '../protocol/encoding.ts'

/** A cheap scrypt cost for tests: the real one (2^17) is exercised by one dedicated test. */
export const TEST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 }
export const T0 = 1_800_000_000_000
export const ADMIN = 'admin-token-0123456789abcdef'
export const OPERATOR = 'operator-token-0123456789abcdef'

export interface Kit {
  main: Main
  dir: string
  clock: { now: number }
  /** `address`: the client address main sees (as @hono/node-server's socket would give it); default none ('local'). */
  req: (method: string, path: string, opts?: { json?: unknown, body?: RequestInit['body'], token?: string, headers?: Record<string, string>, address?: string }) => Promise<Response>
  publicKey: () => Promise<Uint8Array>
  close: () => Promise<void>
}

export async function newKit (opts: Partial<MainOptions> = {}, dir?: string): Promise<Kit> {
  const folder = dir ?? await mkdtemp(join(tmpdir(), 'reelnet-main-'))
  const clock = { now: T0 }
  const main = await createMain({ dataDir: folder, adminToken: ADMIN, operatorToken: OPERATOR, scrypt: TEST_SCRYPT, now: () => clock.now, ...opts })
  const req: Kit['req'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers }
    let body = o.body
    if (o.json !== undefined) {
      body = JSON.stringify(o.json)
      headers['content-type'] ??= 'application/json'
    }
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`
    const init: RequestInit & { duplex?: 'half' } = { method, headers, body }
    if (body instanceof ReadableStream) init.duplex = 'half'
    const env = o.address === undefined ? undefined : { incoming: { socket: { remoteAddress: o.address, remotePort: 40000, remoteFamily: o.address.includes(':') ? 'IPv6' : 'IPv4' } } }
    return await main.app.request(path, init, env)
  }
  return {
    main,
    dir: folder,
    clock,
    req,
    publicKey: async () => {
      const res = await req('GET', '/v1/keys')
      const { keys } = await res.json() as { keys: Array<{ publicKey: string }> }
      return fromBase64url(keys[0]!.publicKey)
    },
    close: async () => {
      await main.close()
      if (dir === undefined) await rm(folder, { recursive: true, force: true })
    }
  }
}

export function nodeKey (): { signer: Signer, peerId: string } {
  const signer = createSigner(new Uint8Array(randomBytes(32)))
  return { signer, peerId: peerIdOf(signer.publicKey) }
}

/** Create an account and log in; returns the session token and accountId. */
export async function customer (kit: Kit, username: string, region?: string): Promise<{ token: string, accountId: string }> {
  const password = 'correct horse battery'
  const created = await kit.req('POST', '/v1/accounts', { json: { username, password, ...(region === undefined ? {} : { region }) } })
  if (created.status !== 201) throw new Error(`account create: ${created.status} ${await created.text()}`)
  const res = await kit.req('POST', '/v1/sessions', { json: { username, password } })
  if (res.status !== 201) throw new Error(`login: ${res.status} ${await res.text()}`)
  return await res.json() as { token: string, accountId: string }
}

/** Ingest `bytes` as an item; returns its itemId. */
export async function ingest (kit: Kit, bytes: Uint8Array, title = 'A film', chunkSize = 64 * 1024): Promise<string> {
  const res = await kit.req('POST', `/v1/items?title=${encodeURIComponent(title)}&chunkSize=${chunkSize}`, { body: bytes as RequestInit['body'], token: ADMIN })
  if (res.status !== 201 && res.status !== 200) throw new Error(`ingest: ${res.status} ${await res.text()}`)
  return (await res.json() as { itemId: string }).itemId
}

export function streamOf (bytes: Uint8Array, piece = 16 * 1024): ReadableStream<Uint8Array> {
  let offset = 0
  return new ReadableStream({
    pull (controller) {
      if (offset >= bytes.length) { controller.close(); return }
      controller.enqueue(bytes.slice(offset, offset + piece))
      offset += piece
    }
  })
}
