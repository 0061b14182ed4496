/**
 * The admin and operator bearer tokens. Given by flag or environment, or
 * else generated on first start and kept in DATA/tokens.json (0600), so a
 * restarted main accepts the same tokens.
 */
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { readIfExists, writeFileAtomic } from './files.ts'

export const TOKENS_FILE = 'tokens.json'

export interface Tokens {
  adminToken: string
  operatorToken: string
  /** True when this call created tokens.json (the caller prints the tokens once). */
  generated: boolean
}

/** A token shorter than this is too easy to guess. */
export const MIN_TOKEN_LENGTH = 16

export function newToken (): string {
  return randomBytes(32).toString('base64url')
}

export async function resolveTokens (dataDir: string, given: { adminToken?: string, operatorToken?: string }): Promise<Tokens> {
  for (const [name, t] of Object.entries(given)) {
    if (t !== undefined && t.length < MIN_TOKEN_LENGTH) throw new RangeError(`${name} must be at least ${MIN_TOKEN_LENGTH} characters`)
  }
  const path = join(dataDir, TOKENS_FILE)
  const text = await readIfExists(path)
  let stored: { adminToken?: string, operatorToken?: string } = {}
  if (text !== undefined) {
    try {
      stored = JSON.parse(text) as typeof stored
    } catch {
      throw new Error(`${path} is not valid JSON; fix or remove it`)
    }
  }
  if (given.adminToken !== undefined && given.operatorToken !== undefined) {
    return { adminToken: given.adminToken, operatorToken: given.operatorToken, generated: false }
  }
  const adminToken = given.adminToken ?? stored.adminToken
  const operatorToken = given.operatorToken ?? stored.operatorToken
  if (adminToken !== undefined && operatorToken !== undefined) return { adminToken, operatorToken, generated: false }
  const next = { adminToken: adminToken ?? newToken(), operatorToken: operatorToken ?? newToken() }
  await writeFileAtomic(path, JSON.stringify(next, null, 2) + '\n')
  return { ...next, generated: true }
}

/** Read DATA/tokens.json (for `reelnet ingest --data`), or undefined. */
export async function readTokensFile (dataDir: string): Promise<{ adminToken?: string, operatorToken?: string } | undefined> {
  const text = await readIfExists(join(dataDir, TOKENS_FILE))
  return text === undefined ? undefined : JSON.parse(text) as { adminToken?: string, operatorToken?: string }
}
