/**
 * The node's identity: one Ed25519 key, persisted in the data folder, used
 * both as the libp2p identity (PeerId, Noise) and to sign heartbeats.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'

export const KEY_FILE = 'node.key'
/** A libp2p protobuf Ed25519 key is 68 bytes; anything much larger is not ours. */
export const MAX_KEY_FILE_BYTES = 4096

export class KeyFileError extends Error {
  name = 'KeyFileError'
}

export interface NodeKey {
  privateKey: PrivateKey
  peerId: PeerId
  /** The raw 32-byte ed25519 secret (seed), for protocol/keys.ts createSigner. */
  seed: Uint8Array
  /** The raw 32-byte ed25519 public key. */
  publicKey: Uint8Array
}

function toNodeKey (privateKey: PrivateKey): NodeKey {
  if (privateKey.type !== 'Ed25519') throw new KeyFileError(`node key must be Ed25519, found ${privateKey.type}`)
  // libp2p's Ed25519 raw private key is seed (32) || public key (32)
  const raw = privateKey.raw
  if (raw.length !== 64) throw new KeyFileError(`unexpected Ed25519 private key length ${raw.length}`)
  return {
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey),
    seed: raw.slice(0, 32),
    publicKey: privateKey.publicKey.raw.slice()
  }
}

/** Load `<dataDir>/node.key`, or create it (mode 0600, written to a temp name then renamed). */
export async function loadOrCreateKey (dataDir: string): Promise<NodeKey> {
  await mkdir(dataDir, { recursive: true })
  const path = join(dataDir, KEY_FILE)
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (bytes !== undefined) {
    if (bytes.length > MAX_KEY_FILE_BYTES) throw new KeyFileError(`${path} is too large to be a node key`)
    let key: PrivateKey
    try {
      key = privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new KeyFileError(`${path} is not a libp2p private key: ${(err as Error).message}`)
    }
    return toNodeKey(key)
  }
  const key = await generateKeyPair('Ed25519')
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
  await chmod(tmp, 0o600)
  await rename(tmp, path)
  return toNodeKey(key)
}
