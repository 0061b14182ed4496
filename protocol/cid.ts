/**
 * The content identifier of an item, used as its key in the region DHTs:
 * CIDv1, codec raw (0x55), multihash sha2-256 whose digest IS the item's
 * 32-byte Merkle root (not a hash of it). Provider records are per item;
 * which chunks a holder has travels in the have-bitfield.
 */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { MalformedError } from './errors.ts'
import { HASH_BYTES } from './limits.ts'

/** A CID string is at most this long (a CIDv1 over a 32-byte digest is 59 base32 characters). */
export const MAX_CID_STRING_LENGTH = 128

export function itemCid (merkleRoot: Uint8Array): CID {
  if (!(merkleRoot instanceof Uint8Array) || merkleRoot.length !== HASH_BYTES) {
    throw new RangeError(`a Merkle root is ${HASH_BYTES} bytes`)
  }
  return CID.createV1(raw.code, Digest.create(sha256.code, merkleRoot))
}

/** The CID's canonical string form (base32, `bafkrei…`). */
export function itemCidString (merkleRoot: Uint8Array): string {
  return itemCid(merkleRoot).toString()
}

/** The Merkle root inside an item CID (string or CID); MalformedError if it is not one of ours. */
export function rootOfItemCid (cid: CID | string): Uint8Array {
  let parsed: CID | null
  try {
    if (typeof cid === 'string') {
      if (cid.length > MAX_CID_STRING_LENGTH) throw new MalformedError('CID string too long')
      parsed = CID.parse(cid)
    } else {
      parsed = CID.asCID(cid)
    }
  } catch (err) {
    if (err instanceof MalformedError) throw err
    throw new MalformedError(`not a CID: ${(err as Error).message}`)
  }
  if (parsed === null || parsed.version !== 1 || parsed.code !== raw.code ||
      parsed.multihash.code !== sha256.code || parsed.multihash.digest.length !== HASH_BYTES) {
    throw new MalformedError('not an item CID (CIDv1, raw, sha2-256)')
  }
  return Uint8Array.from(parsed.multihash.digest)
}
