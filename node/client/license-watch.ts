/**
 * A downloading, playing or seeding client keeps asking main whether its licence still stands (issue 14b):
 * it polls the signed revocation list every `pollMs` (at most MAX_REVOCATION_POLL_MS apart) and stops with a
 * clear error the moment the list names its licence or its account. Without main it goes on for the licence's
 * offline grace (`offlineGraceMs`, else DEFAULT_OFFLINE_GRACE_MS) counted from the last list it could confirm,
 * then stops too. The same follower answers the seeder about the peers it serves.
 */
import { ClientError } from './errors.ts'
import { RevocationsFollower, type RevocationsAnswer } from '../control/revocations.ts'
import { DEFAULT_REVOCATION_POLL_MS, MAX_REVOCATION_POLL_MS, MIN_REVOCATION_POLL_MS, DEFAULT_OFFLINE_GRACE_MS } from './license-limits.ts'

export { DEFAULT_REVOCATION_POLL_MS, MAX_REVOCATION_POLL_MS, MIN_REVOCATION_POLL_MS, DEFAULT_OFFLINE_GRACE_MS } from './license-limits.ts'

/** main revoked this client's licence or account: the download, playback and seeding stop. */
export class LicenseRevokedError extends ClientError {
  name = 'LicenseRevokedError'
  code = 'license_revoked'
}

/** main could not be asked for longer than the licence's offline grace. */
export class OfflineGraceOverError extends ClientError {
  name = 'OfflineGraceOverError'
  code = 'offline_grace_over'
}

export interface LicenseWatchOptions {
  fetch: (etag: string | undefined, o: { signal?: AbortSignal }) => Promise<RevocationsAnswer>
  mainPublicKey: Uint8Array
  licenseId: string
  /** The licence's account, once known (a directive names it). */
  accountId?: () => string | undefined
  pollMs?: number
  /** The licence's own `offlineGraceMs` when it states one. */
  offlineGraceMs?: number
  now?: () => number
  log?: (msg: string) => void
}

export class LicenseWatch {
  readonly follower: RevocationsFollower
  readonly pollMs: number
  readonly offlineGraceMs: number
  readonly #opts: LicenseWatchOptions
  readonly #now: () => number
  readonly #ctl = new AbortController()
  #lastConfirmed: number
  #timer: NodeJS.Timeout | undefined
  #polling = false

  constructor (opts: LicenseWatchOptions) {
    this.#opts = opts
    this.#now = opts.now ?? Date.now
    this.pollMs = Math.min(MAX_REVOCATION_POLL_MS, Math.max(MIN_REVOCATION_POLL_MS, opts.pollMs ?? DEFAULT_REVOCATION_POLL_MS))
    this.offlineGraceMs = opts.offlineGraceMs ?? DEFAULT_OFFLINE_GRACE_MS
    this.#lastConfirmed = this.#now()
    // a customer's client keeps no state db: the floor against an older list lives as long as the process
    this.follower = new RevocationsFollower({ fetch: opts.fetch, mainPublicKey: opts.mainPublicKey, now: this.#now, log: opts.log })
  }

  /** Aborts with LicenseRevokedError or OfflineGraceOverError when the licence may no longer be used. */
  get signal (): AbortSignal { return this.#ctl.signal }

  /** Why the licence may no longer be used, else undefined. */
  refusal (): string | undefined {
    return this.#ctl.signal.aborted ? (this.#ctl.signal.reason as Error).message : undefined
  }

  /** Ask once now (the first answer before anything is served), then every pollMs. */
  async start (): Promise<void> {
    await this.check()
    this.#timer = setInterval(() => { void this.check() }, this.pollMs)
    this.#timer.unref()
  }

  /** One poll and what follows from it. */
  async check (): Promise<void> {
    if (this.#polling || this.#ctl.signal.aborted) return
    this.#polling = true
    try {
      await this.follower.poll({ signal: AbortSignal.timeout(Math.max(1_000, this.pollMs)) })
      const now = this.#now()
      if (this.follower.lastError === undefined && this.follower.inForce()) this.#lastConfirmed = now
      const id = this.#opts.licenseId
      const accountId = this.#opts.accountId?.()
      if (this.follower.isLicenseRevoked(id)) this.#stop(new LicenseRevokedError(`licence ${id} has been revoked by the operator: stopped`))
      else if (accountId !== undefined && this.follower.isAccountRevoked(accountId)) this.#stop(new LicenseRevokedError('this account has been revoked by the operator: stopped'))
      else if (now - this.#lastConfirmed > this.offlineGraceMs) {
        this.#stop(new OfflineGraceOverError(`could not confirm licence ${id} with main for ${Math.round((now - this.#lastConfirmed) / 1000)} s; the licence allows ${Math.round(this.offlineGraceMs / 1000)} s offline (${this.follower.lastError ?? 'no list in force'})`))
      }
    } finally {
      this.#polling = false
    }
  }

  #stop (err: Error): void {
    if (this.#ctl.signal.aborted) return
    this.#opts.log?.(err.message)
    this.#ctl.abort(err)
    this.close()
  }

  close (): void {
    clearInterval(this.#timer)
  }
}
