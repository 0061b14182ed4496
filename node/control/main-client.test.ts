/**
 * The node's client of main resends a call whose connection died before any
 * answer (a kept-alive socket main closed as the request was written), and
 * gives up after a bounded number of sends.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createMainClient } from './main-client.ts'

/** A server that cuts the connection of its first `cuts` requests without answering, then answers a catalog. */
async function cutting (cuts: number): Promise<{ url: string, server: Server, requests: () => number }> {
  let n = 0
  const server = createServer((req, res) => {
    n++
    if (n <= cuts) { req.socket.destroy(); return }
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ items: [{ itemId: 'a'.repeat(32), title: 't', size: 1, chunkSize: 1024, chunkCount: 1 }] }))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, requests: () => n }
}

test('a call whose connection is cut before the answer is sent again', async () => {
  const s = await cutting(1)
  try {
    const items = await createMainClient({ url: s.url }).getCatalog()
    assert.is(items.length, 1)
    assert.is(s.requests(), 2)
  } finally { s.server.close() }
})

test('a connection cut on every send fails after three sends', async () => {
  const s = await cutting(100)
  try {
    await createMainClient({ url: s.url }).getCatalog().then(() => assert.unreachable('should fail'), (err: Error) => {
      assert.match(String((err as { cause?: { code?: string } }).cause?.code ?? err.message), /ECONNRESET|socket|fetch failed/i)
    })
    assert.is(s.requests(), 3)
  } finally { s.server.close() }
})

test.run()
