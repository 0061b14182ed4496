/**
 * Talking to main while the node runs: registration (retried while main
 * starts), signed heartbeats with what the node serves, and the polls of the
 * rules and the revocation list, each on its own interval.
 */
import { signHeartbeat } from '../../../protocol/documents.ts'
import { toText } from '../../../protocol/signing.ts'
import type { Signer } from '../../../protocol/keys.ts'
import { MAX_HELD_ITEMS } from '../../../protocol/limits.ts'
import { MainHttpError } from '../../control/main-client.ts'
import type { Filler } from '../fill.ts'
import type { AccessGater } from '../../net/gater.ts'
import type { ItemCopier } from './copy.ts'
import type { NodeParts } from './parts.ts'
import type { Serving } from './serving.ts'
import type { Teardown } from './teardown.ts'
import { SOFTWARE_VERSION } from './version.ts'

/** Registration is retried this long while main starts up. */
export const REGISTER_DEADLINE_MS = 60_000
/** Access times are written to the store's index this often (they order eviction). */
const FLUSH_ACCESS_MS = 30_000
/** Chunks being filled at which a node reports itself fully loaded. */
const FULL_LOAD_FILLS = 64

export interface ControlLoopOptions {
  signer: Signer
  filler: Filler
  gater: AccessGater
  serving: Serving
  copier: ItemCopier
  /** The items held whole (wire keys). */
  heldItems: () => string[]
}

/**
 * Starts the heartbeats, the polls and the role's work on their intervals (a run that is still busy skips its
 * turn), beats and works once now, and pushes the timers' stop onto `teardown`.
 */
export function startControlLoop (parts: NodeParts, o: ControlLoopOptions, teardown: Teardown): void {
  const { opts, main, rules, revocations, store, holdings, log, signal, peerId } = parts
  const { filler } = o

  let seq = 0
  // what the heartbeat's `serving` reports: bytes served since the last heartbeat, per second
  let servedAtLastBeat = 0
  let lastBeatAt = Date.now()
  function serving (): { bytesPerSecond: number, uplinkBytesPerSecond: number, streams: number, fillQueue: number } {
    const s = o.serving.served
    const total = s.edge + s.parent + s.peer + s.client
    const now = Date.now()
    const bytesPerSecond = Math.round((total - servedAtLastBeat) * 1000 / Math.max(1, now - lastBeatAt))
    servedAtLastBeat = total
    lastBeatAt = now
    return { bytesPerSecond, uplinkBytesPerSecond: opts.maxUploadBytesPerSec ?? 0, streams: o.serving.streams(), fillQueue: filler.inFlight }
  }
  async function heartbeat (): Promise<void> {
    const hb = {
      peerId,
      seq: ++seq,
      sentAt: Date.now(),
      load: Math.min(1, filler.inFlight / FULL_LOAD_FILLS),
      freeBytes: store.freeBytes,
      bytesServed: { ...o.serving.served },
      heldItems: o.heldItems().slice(0, MAX_HELD_ITEMS),
      version: SOFTWARE_VERSION,
      ...(holdings.lacking.length > 0 ? { lacking: holdings.lacking } : {}),
      serving: serving()
    }
    try {
      const answer = await main.heartbeat(peerId, toText(signHeartbeat(hb, o.signer)), { signal })
      o.gater.setAdmittedByMain(answer.admittedPeers)
      if (rules.rules === undefined || answer.rulesVersion > rules.rules.version) await rules.poll({ signal })
    } catch (err) {
      if (!signal.aborted) log(`heartbeat: ${(err as Error).message}`)
    }
  }

  const timers: Array<ReturnType<typeof setInterval>> = []
  teardown.push('timers', () => { for (const t of timers) clearInterval(t) })
  const every = (ms: number, fn: () => Promise<void>): void => {
    let busy = false
    timers.push(setInterval(() => {
      if (busy || signal.aborted) return
      busy = true
      fn().catch(err => { if (!signal.aborted) log(`background: ${(err as Error).message}`) }).finally(() => { busy = false })
    }, ms))
  }
  every(opts.rulesPollMs, async () => { await revocations.poll({ signal }) })
  every(opts.rulesPollMs, async () => { await rules.poll({ signal }); o.copier.kick() })
  every(opts.heartbeatMs, heartbeat)
  every(FLUSH_ACCESS_MS, async () => { await store.flushAccess() })
  o.copier.kick()
  void heartbeat()
}

/** Call fn until it succeeds or the deadline passes (then its last error is thrown). */
export async function retry<T> (fn: () => Promise<T>, deadlineMs: number, signal: AbortSignal): Promise<T> {
  const until = Date.now() + deadlineMs
  let wait = 200
  while (true) {
    try {
      return await fn()
    } catch (err) {
      const e = err as Error
      // a refusal by main (bad token, bad request) will not fix itself
      if (e instanceof MainHttpError && e.status >= 400 && e.status < 500 && e.status !== 404 && e.status !== 429) throw e
      if (Date.now() + wait > until || signal.aborted) throw e
      await new Promise(resolve => setTimeout(resolve, wait))
      wait = Math.min(wait * 2, 2000)
    }
  }
}
