/**
 * Ed25519 sign/verify throughput, @noble/ed25519 against node:crypto, on raw
 * 64-byte messages and on whole signed documents (a license: encode + sign,
 * and open + verify + schema check). Each figure is ops/s over a bounded run.
 *
 *   node_modules/.bin/node --import tsx bench/sign.ts
 */
import { pathToFileURL } from 'node:url'
import { createSigner, verifySignature, type Ed25519Impl } from '../protocol/keys.ts'
import { signLicense, verifyLicense } from '../protocol/documents.ts'
import type { License } from '../protocol/types.ts'

/** Each measurement stops after this many operations or this much time, whichever comes first. */
const MAX_OPS = 50_000
const MAX_MS = 1_000
const WARMUP_OPS = 200

function measure (fn: (i: number) => void): number {
  for (let i = 0; i < WARMUP_OPS; i++) fn(i)
  const start = performance.now()
  let ops = 0
  while (ops < MAX_OPS) {
    // Check the clock every 64 ops, so timing stays out of the loop's cost.
    for (let k = 0; k < 64; k++) fn(ops++)
    if (performance.now() - start > MAX_MS) break
  }
  return ops / ((performance.now() - start) / 1000)
}

export async function run (): Promise<void> {
  const seed = new Uint8Array(32).map((_, i) => i * 7)
  const msgs = Array.from({ length: 256 }, (_, i) => new Uint8Array(64).fill(i))
  const license: License = { licenseId: 'lic-1', accountId: 'acct-1', itemId: 'item-1', notBefore: 0, expiresAt: 2 ** 45 }
  const rows: Array<[string, number, number, number, number]> = []
  for (const impl of ['noble', 'node'] as Ed25519Impl[]) {
    const signer = createSigner(seed, impl)
    const sigs = msgs.map(m => signer.sign(m))
    const doc = signLicense(license, signer)
    rows.push([
      impl,
      measure(i => signer.sign(msgs[i & 255]!)),
      measure(i => { if (!verifySignature(signer.publicKey, msgs[i & 255]!, sigs[i & 255]!, impl)) throw new Error('verify failed') }),
      measure(i => signLicense({ ...license, notBefore: i }, signer)),
      measure(() => verifyLicense(doc, { publicKey: signer.publicKey, now: 1, impl }))
    ])
  }
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(12)
  console.log(`ed25519 ops/s (≤ ${MAX_OPS.toLocaleString('en-US')} ops or ${MAX_MS} ms each; 64-byte messages; license = whole signed document)`)
  console.log(`${'impl'.padEnd(6)} ${'sign'.padStart(12)} ${'verify'.padStart(12)} ${'sign lic.'.padStart(12)} ${'verify lic.'.padStart(12)}`)
  for (const [impl, ...figs] of rows) console.log(`${impl.padEnd(6)} ${figs.map(fmt).join(' ')}`)
  const [noble, node] = rows
  if (noble !== undefined && node !== undefined) {
    console.log(`node:crypto / noble: sign ×${(node[1] / noble[1]).toFixed(1)}, verify ×${(node[2] / noble[2]).toFixed(1)}`)
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await run()
