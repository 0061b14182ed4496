import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { peerIdFromString } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createAccessGater } from './gater.ts'
import { TokenBucket } from './token-bucket.ts'

test('the gater refuses a denied stranger until the deny period ends, never a member', async () => {
  let t = 1_000_000
  const member = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const g = createAccessGater({ isMember: id => id === member, now: () => t, denyMs: 60_000 })
  const deny = g.gater.denyInboundEncryptedConnection!
  assert.is(await deny(peerIdFromString(stranger), {} as any), false, 'a stranger gets a probation connection')
  g.deny(stranger); g.deny(member)
  assert.is(await deny(peerIdFromString(stranger), {} as any), true)
  assert.is(await deny(peerIdFromString(member), {} as any), false, 'members are never denied')
  t += 60_001
  assert.is(await deny(peerIdFromString(stranger), {} as any), false, 'the deny period ends')
  g.admit(stranger, t + 1000)
  assert.ok(g.isAdmitted(stranger))
  t += 1001
  assert.not.ok(g.isAdmitted(stranger), 'admission ends with the directive')
  g.setAdmittedByMain([stranger])
  assert.ok(g.isAdmitted(stranger), 'main admitted it')
})

test('the token bucket holds a rate', async () => {
  const bucket = new TokenBucket(10 * 1024 * 1024, 1024 * 1024)
  const started = performance.now()
  for (let i = 0; i < 4; i++) await bucket.take(1024 * 1024)
  const ms = performance.now() - started
  // 1 MiB burst, then 3 MiB at 10 MiB/s ≈ 300 ms
  assert.ok(ms >= 250, `took ${ms} ms`)
})

test.run()
