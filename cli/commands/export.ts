/**
 * `reelnet export ITEM -o FILE`: write the plaintext of a purchased item,
 * from the ciphertext file `reelnet get` kept and the content key kept in
 * the config folder. A rental never leaves the player: only a purchase is
 * exported.
 */
import { open, rename, rm } from 'node:fs/promises'
import { resolve } from 'node:path'
import { randomBytes } from 'node:crypto'
import { parseFlags, UsageError, CommandError, type Command } from '../command.ts'
import { loadCustomerSession, resolveItem, commandErrorOf } from './get.ts'
import { loadLicense } from '../session.ts'

const usage = `usage: reelnet export ITEM -o FILE [--input FILE]

Write ITEM's plaintext to FILE. Only a purchase ('reelnet rent --purchase')
may be exported; a rental plays only through 'reelnet play'. The input is
the file 'reelnet get ITEM' kept (ciphertext, as every node and peer holds
it), decrypted with the content key kept in the config folder; every chunk
is checked against main's signed manifest before it is decrypted.

flags:
  -o, --output FILE  where to write the plaintext (must not be the input)
  --input FILE       the downloaded file (default: where 'reelnet get' wrote it)
  -h, --help         show this help`

export const command: Command = {
  name: 'export',
  summary: 'write a purchased item\'s plaintext to a file',
  usage,
  async run (argv) {
    const { values, positionals } = parseFlags(argv, { output: { type: 'string', short: 'o' }, input: { type: 'string' } }, true)
    if (positionals.length !== 1) throw new UsageError('give exactly one ITEM (see reelnet export --help)')
    if (values.output === undefined) throw new UsageError('say where to write: -o FILE')
    const item = positionals[0] as string
    if (!/^[\x20-\x7e]{1,512}$/.test(item)) throw new UsageError(`'${item}' is not an itemId or title`)
    const session = await loadCustomerSession()
    try {
      const itemId = await resolveItem(session, item)
      const { verifyLicense } = await import('../../protocol/documents.ts')
      const { fromText } = await import('../../protocol/signing.ts')
      const stored = await loadLicense(itemId)
      if (stored === undefined) throw new CommandError(`you hold no licence for ${itemId} on this machine (reelnet rent ${itemId} --purchase)`)
      const license = verifyLicense(fromText(stored.license), { publicKey: session.mainKey, now: Date.now(), itemId, accountId: session.accountId })
      if ((license.kind ?? 'rental') !== 'purchase') {
        throw new CommandError(`${itemId} is rented, not bought: only a purchase may be exported as plaintext (a rental plays through reelnet play; buy it with reelnet rent ${itemId} --purchase)`)
      }
      const { MainApi } = await import('../../node/client/main-api.ts')
      const { manifest } = await new MainApi({ url: session.mainUrl, token: session.token, mainKey: session.mainKey }).manifest(itemId)
      const { loadContentKey } = await import('../../node/client/content-key-file.ts')
      const kept = manifest.encryption === undefined ? undefined : await loadContentKey(session.configDir, itemId)
      if (manifest.encryption !== undefined && (kept === undefined || kept.keyId !== manifest.encryption.keyId)) {
        throw new CommandError(`no content key for ${itemId} is kept here: download it first (reelnet get ${itemId})`)
      }
      const input = resolve(values.input ?? kept?.file ?? '')
      const output = resolve(values.output)
      if (input === '' || (values.input === undefined && kept === undefined)) throw new UsageError('say which downloaded file to export: --input FILE')
      if (input === output) throw new UsageError('-o must not be the downloaded file itself')
      await exportPlain(input, output, manifest, kept?.key)
      process.stderr.write(`wrote the plaintext of ${manifest.title} to ${output}\n`)
      return 0
    } catch (err) {
      if ((err as Error).name === 'ExpiredError') throw new CommandError(`your licence for ${item} has ended`)
      throw commandErrorOf(err)
    }
  }
}

async function exportPlain (input: string, output: string, manifest: import('../../protocol/types.ts').Manifest, key: Uint8Array | undefined): Promise<void> {
  const { verifyChunk } = await import('../../protocol/chunking.ts')
  const { openChunk } = await import('../../protocol/content-crypto.ts')
  const { nodeAesCtr } = await import('../../protocol/aes-ctr-node.ts')
  let src
  try { src = await open(input, 'r') } catch (err) { throw new CommandError(`cannot read ${input}: ${(err as Error).message}`) }
  const tmp = `${output}.${randomBytes(4).toString('hex')}.tmp`
  const dst = await open(tmp, 'w', 0o600)
  try {
    if ((await src.stat()).size !== manifest.size) throw new CommandError(`${input} is not the whole item (${manifest.size} bytes): finish the download with reelnet get`)
    const buf = Buffer.allocUnsafe(manifest.chunkSize)
    for (let i = 0; i < manifest.chunkCount; i++) {
      const len = i < manifest.chunkCount - 1 ? manifest.chunkSize : manifest.size - manifest.chunkSize * (manifest.chunkCount - 1)
      const { bytesRead } = await src.read(buf, 0, len, i * manifest.chunkSize)
      if (bytesRead !== len) throw new CommandError(`${input} ended early at chunk ${i}`)
      let plain: Uint8Array
      try {
        plain = await openChunk(nodeAesCtr, key, manifest, i, buf.subarray(0, len), verifyChunk)
      } catch (err) {
        if ((err as Error).name === 'ChunkHashMismatchError') throw new CommandError(`${input} is damaged at chunk ${i} (it does not match the signed manifest): download it again`)
        throw err
      }
      await dst.write(plain)
    }
    await dst.sync()
    await dst.close()
    await rename(tmp, output)
  } catch (err) {
    await dst.close().catch(() => {})
    await rm(tmp, { force: true })
    throw err
  } finally {
    await src.close()
  }
}
