import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { newKit, customer, OPERATOR, ADMIN, TEST_SCRYPT } from './test-kit.ts'
import { startMain } from './server.ts'

test('/metrics on main needs the operator (or admin) token', async () => {
  const kit = await newKit()
  try {
    assert.is((await kit.req('GET', '/metrics')).status, 401)
    assert.is((await kit.req('GET', '/metrics', { token: 'not-a-token-0123456789' })).status, 401)
    const { token } = await customer(kit, 'curious')
    assert.is((await kit.req('GET', '/metrics', { token })).status, 403)
    for (const t of [OPERATOR, ADMIN]) {
      const res = await kit.req('GET', '/metrics', { token: t })
      assert.is(res.status, 200)
      assert.match(await res.text(), /^# HELP reelnet_/m)
    }
  } finally {
    await kit.close()
  }
})

test('a separate metrics listener serves /metrics without a token, and only that', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'reelnet-main-metrics-'))
  const running = await startMain({ dataDir: dir, adminToken: ADMIN, operatorToken: OPERATOR, scrypt: TEST_SCRYPT, port: 0, metricsPort: 0 })
  try {
    assert.match(running.metricsUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
    const res = await fetch(running.metricsUrl!)
    assert.is(res.status, 200)
    assert.match(await res.text(), /^reelnet_rules_version \d+$/m)
    assert.is((await fetch(running.metricsUrl!.replace('/metrics', '/v1/nodes'))).status, 404)
    assert.is((await fetch(running.metricsUrl!, { method: 'POST' })).status, 405)
    assert.is((await fetch(`${running.url}/metrics`)).status, 401, 'main\'s own port still wants the token')
  } finally {
    await running.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
