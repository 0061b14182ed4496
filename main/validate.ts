/**
 * Validation at the door: every JSON body, query and path parameter goes
 * through a zod schema; a failure is 422 naming the first bad field
 * (malformed JSON is 400, from hono's validator). Shared field schemas live
 * here so every route bounds the same things the same way.
 */
import { z } from 'zod'
import { zValidator } from '@hono/zod-validator'
import type { ValidationTargets } from 'hono'
import { publicKeyOfPeerId } from '../protocol/keys.ts'
import { invalid } from './errors.ts'
import { MAX_ADDR_LENGTH, MAX_ADDRS_PER_NODE, MAX_PEER_ID_LENGTH, REGION_RE } from './limits.ts'

export function validate<T extends z.ZodType, Target extends keyof ValidationTargets> (target: Target, schema: T) {
  return zValidator(target, schema, (result) => {
    if (!result.success) {
      const issue = result.error.issues[0]
      const where = issue === undefined || issue.path.length === 0 ? '' : `${issue.path.map(String).join('.')}: `
      throw invalid(`invalid ${target}: ${where}${issue?.message ?? 'does not match'}`)
    }
  })
}

/** A libp2p Ed25519 PeerId (`12D3KooW…`): the only kind whose key main can check signatures with. */
export const peerIdSchema = z.string().min(1).max(MAX_PEER_ID_LENGTH).refine(s => {
  try {
    publicKeyOfPeerId(s)
    return true
  } catch {
    return false
  }
}, 'not an Ed25519 libp2p PeerId')

export const regionSchema = z.string().regex(REGION_RE, 'a region is 1–32 of a-z, 0-9 and -, starting with a letter or digit')

/** A multiaddr string: starts with '/', printable ASCII, bounded. */
export const addrSchema = z.string().min(2).max(MAX_ADDR_LENGTH).regex(/^\/[\x21-\x7e]+$/, 'a multiaddr such as /ip4/127.0.0.1/tcp/4001')
export const addrsSchema = z.array(addrSchema).max(MAX_ADDRS_PER_NODE)

/** An itemId: 32 lower-case hex characters (16 bytes of the Merkle root). */
export const itemIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'an itemId is 32 hex characters')

/** A licenseId (a UUID). */
export const licenseIdSchema = z.string().regex(/^[0-9a-f-]{36}$/, 'a licenseId is a UUID')
