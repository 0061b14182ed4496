/**
 * Following main's signed rules: poll with ETag, verify against the pinned
 * key, refuse older versions (rollback) and expired rules (freeze), and
 * keep the last good rules — in memory and in the state db, so a restart
 * still knows its region while main is away.
 */
import { verifyRules } from '../../protocol/documents.ts'
import { toText, fromText } from '../../protocol/signing.ts'
import { CLOCK_SKEW_MS, MAX_DOCUMENT_BYTES } from '../../protocol/limits.ts'
import type { NodeEntry, RegionRules, Rules } from '../../protocol/types.ts'
import type { MainClient } from './main-client.ts'
import type { StateDb } from './state.ts'

const RULES_KEY = 'rules'

export interface RulesFollowerOptions {
  main: MainClient
  state: StateDb
  mainPublicKey: Uint8Array
  region: string
  now?: () => number
  log?: (msg: string) => void
  onChange?: (rules: Rules) => void
}

export class RulesFollower {
  rules: Rules | undefined
  private bytes: Uint8Array | undefined
  private etag: string | undefined
  /** Why the last poll did not take new rules (for status). */
  lastError: string | undefined
  private readonly now: () => number
  /** The newest validly signed rules ever held, expired or not: nothing older may replace them. */
  private floor: { version: number, bytes: Uint8Array } | undefined

  constructor (private readonly opts: RulesFollowerOptions) {
    this.now = opts.now ?? Date.now
  }

  /** Load the last good rules from the state db (verified again; expired ones still guard against rollback). */
  async load (): Promise<void> {
    const text = await this.opts.state.get(RULES_KEY)
    if (text === undefined) return
    try {
      const bytes = fromText(text, MAX_DOCUMENT_BYTES.rules)
      // signature and schema first: even an expired set tells us the version we must not go below
      const stored = verifyRules(bytes, { publicKey: this.opts.mainPublicKey, now: this.now(), ignoreWindow: true })
      this.floor = { version: stored.version, bytes }
      try {
        this.accept(verifyRules(bytes, { publicKey: this.opts.mainPublicKey, now: this.now() }), bytes)
      } catch (err) {
        // keep the bytes as the rollback floor, but act on nothing until fresh rules arrive
        this.lastError = `stored rules not in force: ${(err as Error).message}`
      }
    } catch (err) {
      this.opts.log?.(`stored rules ignored: ${(err as Error).message}`)
    }
  }

  private accept (rules: Rules, bytes: Uint8Array): void {
    const changed = this.rules?.version !== rules.version
    this.rules = rules
    this.bytes = bytes
    this.floor = { version: rules.version, bytes }
    this.lastError = undefined
    if (changed) this.opts.onChange?.(rules)
  }

  private heldVersion (): { version: number, bytes: Uint8Array } | undefined {
    if (this.rules !== undefined && this.bytes !== undefined) return { version: this.rules.version, bytes: this.bytes }
    return this.floor
  }

  /** One poll. Returns true when new rules were taken. Never throws: a failure keeps the last good rules. */
  async poll (opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    this.dropIfExpired()
    try {
      const answer = await this.opts.main.getRules(this.rules !== undefined ? this.etag : undefined, opts)
      if (answer.notModified) return false
      if (this.bytes !== undefined && this.rules !== undefined && Buffer.from(answer.bytes).equals(Buffer.from(this.bytes))) {
        this.etag = answer.etag
        return false
      }
      const rules = verifyRules(answer.bytes, { publicKey: this.opts.mainPublicKey, now: this.now(), held: this.heldVersion() })
      this.etag = answer.etag
      await this.opts.state.put(RULES_KEY, toText(answer.bytes))
      this.accept(rules, answer.bytes)
      return true
    } catch (err) {
      const msg = `rules not updated: ${(err as Error).name}: ${(err as Error).message}`
      if (msg !== this.lastError) this.opts.log?.(msg)
      this.lastError = msg
      return false
    }
  }

  /** Rules past their expiry (beyond the allowed clock skew) stop being acted on (freeze); they stay the rollback floor. */
  private dropIfExpired (): void {
    if (this.rules === undefined || this.now() - CLOCK_SKEW_MS <= this.rules.expiresAt) return
    const msg = `rules version ${this.rules.version} expired at ${new Date(this.rules.expiresAt).toISOString()}: acting on none until main sends newer ones`
    this.opts.log?.(msg)
    this.lastError = msg
    this.rules = undefined
    this.bytes = undefined
    this.etag = undefined
  }

  /** This node's region in the current rules (undefined until rules name it). */
  region (): RegionRules | undefined {
    return this.rules?.regions.find(r => r.name === this.opts.region)
  }

  members (): NodeEntry[] {
    const r = this.region()
    return r === undefined ? [] : [...r.parents, ...r.edges]
  }

  /** The role a peer has in this node's region, if any. */
  roleOf (peerId: string): 'parent' | 'edge' | undefined {
    const r = this.region()
    if (r === undefined) return undefined
    if (r.parents.some(p => p.peerId === peerId)) return 'parent'
    if (r.edges.some(p => p.peerId === peerId)) return 'edge'
    return undefined
  }
}
