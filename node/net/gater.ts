/**
 * The connection gater of parents and edges. Rules members and customers'
 * peers that main says hold a directive for this region (heartbeat answer),
 * or that proved one on the chunk protocol, are admitted. Any other peer
 * gets a probation connection: kept off the protocols it is told to watch (the region DHT), and it
 * must present a valid directive within PROBATION_MS; a peer that fails is
 * refused at the gater for DENY_MS.
 */
import type { Connection, ConnectionGater, Libp2p, PeerId, StreamMiddleware } from '@libp2p/interface'
import { addStreamMiddleware } from './host.ts'

/** Time a stranger has to present a directive: one dial plus one request round trip, with room. */
export const PROBATION_MS = 5_000
/** How long a peer that failed probation is refused outright (stops cheap reconnect storms). */
export const DENY_MS = 10 * 60_000
/** Bound on remembered denials and admissions, so a flood of fresh PeerIds cannot grow memory without limit. */
export const MAX_TRACKED_PEERS = 100_000

export interface AccessGaterOptions {
  isMember: (peerId: string) => boolean
  probationMs?: number
  denyMs?: number
  now?: () => number
  log?: (msg: string) => void
}

export interface AccessGater {
  gater: ConnectionGater
  /** Admit a peer until `untilMs` (default: for DENY_MS from now). */
  admit: (peerId: string, untilMs?: number) => void
  /** Replace the set admitted by main's heartbeat answer. */
  setAdmittedByMain: (peerIds: string[]) => void
  deny: (peerId: string) => void
  isAdmitted: (peerId: string) => boolean
  isDenied: (peerId: string) => boolean
  /** Start probation timers for new connections; block non-reelnet protocols for peers on probation. */
  watch: (host: Libp2p, fullProtocols: string[]) => () => void
}

function bounded<K, V> (m: Map<K, V>, k: K, v: V): void {
  m.delete(k)
  m.set(k, v)
  if (m.size > MAX_TRACKED_PEERS) {
    const first = m.keys().next()
    if (first.done !== true) m.delete(first.value)
  }
}

export function createAccessGater (opts: AccessGaterOptions): AccessGater {
  const now = opts.now ?? Date.now
  const probationMs = opts.probationMs ?? PROBATION_MS
  const denyMs = opts.denyMs ?? DENY_MS
  const denied = new Map<string, number>()
  const admitted = new Map<string, number>()
  let byMain = new Set<string>()

  function isDenied (peerId: string): boolean {
    const until = denied.get(peerId)
    if (until === undefined) return false
    if (until > now()) return true
    denied.delete(peerId)
    return false
  }
  function isAdmitted (peerId: string): boolean {
    if (opts.isMember(peerId) || byMain.has(peerId)) return true
    const until = admitted.get(peerId)
    return until !== undefined && until > now()
  }
  const refuse = (peerId: PeerId): boolean => {
    const id = peerId.toString()
    return !opts.isMember(id) && isDenied(id)
  }

  const gater: ConnectionGater = {
    denyDialPeer: refuse,
    denyInboundEncryptedConnection: refuse,
    denyOutboundEncryptedConnection: refuse
  }

  function deny (peerId: string): void {
    if (opts.isMember(peerId)) return
    admitted.delete(peerId)
    bounded(denied, peerId, now() + denyMs)
  }

  function watch (host: Libp2p, fullProtocols: string[]): () => void {
    const timers = new Set<ReturnType<typeof setTimeout>>()
    const onOpen = (evt: CustomEvent<Connection>): void => {
      const conn = evt.detail
      const id = conn.remotePeer.toString()
      if (isAdmitted(id)) return
      const t = setTimeout(() => {
        timers.delete(t)
        if (isAdmitted(id) || conn.status !== 'open') return
        opts.log?.(`peer ${id} presented no valid directive within ${probationMs} ms: denied for ${denyMs} ms`)
        deny(id)
        void host.hangUp(conn.remotePeer).catch(() => {})
      }, probationMs)
      t.unref?.()
      timers.add(t)
    }
    host.addEventListener('connection:open', onOpen)
    const middleware: StreamMiddleware = (stream, connection, next) => {
      if (isAdmitted(connection.remotePeer.toString())) { next(stream, connection); return }
      stream.abort(new Error('peer on probation: present a directive first'))
    }
    const removers = fullProtocols.map(p => addStreamMiddleware(host, p, middleware))
    return () => {
      host.removeEventListener('connection:open', onOpen)
      for (const t of timers) clearTimeout(t)
      for (const remove of removers) remove()
    }
  }

  return {
    gater,
    admit: (peerId, untilMs) => { denied.delete(peerId); bounded(admitted, peerId, untilMs ?? now() + denyMs) },
    setAdmittedByMain: ids => { byMain = new Set(ids) },
    deny,
    isAdmitted,
    isDenied,
    watch
  }
}
