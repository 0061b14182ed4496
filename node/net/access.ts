/**
 * Who may fetch chunks from this node (DESIGN "Trust"): peers named in the
 * current rules, or a peer presenting an unexpired directive, signed by
 * main, that names that peer (its Noise-authenticated PeerId) as the client,
 * names the item, and lists this node among its peers. A directive is
 * verified once per connection and item, then the decision is cached for
 * the connection's life (or until the directive expires).
 */
import { parseContentKey } from '../../protocol/item-key.ts'
import type { Connection } from '@libp2p/interface'
import { verifyDirective } from '../../protocol/documents.ts'
import type { Directive } from '../../protocol/types.ts'
import { AccessDeniedError } from './errors.ts'

/** Peers whose latest directive is remembered (to refuse a revoked one's have requests): the oldest go first beyond. */
export const MAX_REMEMBERED_CLIENTS = 10_000

export interface AuthorizeRequest {
  connection: Connection
  itemId: string
  credential?: Uint8Array
}

/** Throws AccessDeniedError when the remote peer may not have this item's chunks. */
export type Authorize = (req: AuthorizeRequest) => Promise<void>

/** What admission asks of the revocation list (node/control/revocations.ts's RevocationsFollower is one). */
export interface RevocationGuard {
  /** Throw AccessDeniedError when the directive rests on a revoked licence or account, or no list is in force. */
  check: (directive: Directive) => void
  isNodeRevoked: (peerId: string) => boolean
  /** Why no stranger can be checked now (no list in force), or undefined. */
  frozen: () => string | undefined
}

export interface AuthorizerOptions {
  /** main's pinned public key (a function: it is read at each verification). */
  mainPublicKey: () => Uint8Array
  selfPeerId: string
  /** Named in the current rules. */
  isMember: (peerId: string) => boolean
  now?: () => number
  /** More conditions (e.g. a seeding client's license still valid); throw AccessDeniedError to refuse. */
  extraCheck?: (directive: Directive) => void
  /** A peer proved itself with a directive (the gater lifts its probation). */
  onAdmitted?: (peerId: string, directive: Directive) => void
  /** A peer presented a credential that failed (the gater may deny it). */
  onRefused?: (peerId: string, reason: string) => void
  /** The signed revocation list (issue 14b): asked about every directive, cached grants included, at each request. */
  revocations?: RevocationGuard
}

export interface Authorizer {
  authorize: Authorize
  /** May this connection ask which chunks we hold? Members, and connections that presented a valid directive. */
  mayAskHave: (connection: Connection) => boolean
  /** The peer's latest directive rests on a revoked licence or account (or no revocation list is in force). */
  isRevokedPeer: (peerId: string) => boolean
}

function itemIdOfKey (key: string): string {
  try { return parseContentKey(key).itemId } catch { return key }
}

export function createAuthorizer (opts: AuthorizerOptions): Authorizer {
  const now = opts.now ?? Date.now
  /** Per connection: itemId → the directive that granted it. A WeakMap, so closed connections are forgotten with them. */
  const granted = new WeakMap<Connection, Map<string, Directive>>()
  /** peerId → its latest accepted directive. */
  const latest = new Map<string, Directive>()
  const stillGood = (d: Directive): boolean => {
    try { opts.revocations?.check(d); return true } catch { return false }
  }

  async function authorize (req: AuthorizeRequest): Promise<void> {
    const remote = req.connection.remotePeer.toString()
    if (opts.isMember(remote)) return
    const t = now()
    const cached = granted.get(req.connection)?.get(req.itemId)
    if (cached !== undefined && cached.expiresAt > t) {
      // a grant made before a revocation is no grant after it: the next request on a revoked licence is refused
      try {
        opts.revocations?.check(cached)
      } catch (err) {
        granted.get(req.connection)?.delete(req.itemId)
        const reason = `directive refused: ${(err as Error).message}`
        opts.onRefused?.(remote, reason)
        throw new AccessDeniedError(reason)
      }
      return
    }
    if (req.credential === undefined) throw new AccessDeniedError('not in the rules and no directive presented')
    let directive: Directive
    try {
      // a request names a version's wire key (itemId@N, issue 15); the directive names the item, which covers its versions
      directive = verifyDirective(req.credential, { publicKey: opts.mainPublicKey(), now: t, clientPeerId: remote, itemId: itemIdOfKey(req.itemId) })
      if (!directive.peers.some(p => p.peerId === opts.selfPeerId)) throw new AccessDeniedError('the directive does not list this node')
      opts.revocations?.check(directive)
      opts.extraCheck?.(directive)
    } catch (err) {
      const reason = `directive refused: ${(err as Error).message}`
      opts.onRefused?.(remote, reason)
      throw new AccessDeniedError(reason)
    }
    let m = granted.get(req.connection)
    if (m === undefined) { m = new Map(); granted.set(req.connection, m) }
    m.set(req.itemId, directive)
    latest.delete(remote)
    latest.set(remote, directive)
    if (latest.size > MAX_REMEMBERED_CLIENTS) latest.delete(latest.keys().next().value!)
    opts.onAdmitted?.(remote, directive)
  }

  function mayAskHave (connection: Connection): boolean {
    if (opts.isMember(connection.remotePeer.toString())) return true
    const m = granted.get(connection)
    if (m === undefined) return false
    const t = now()
    for (const d of m.values()) if (d.expiresAt > t && stillGood(d)) return true
    return false
  }

  function isRevokedPeer (peerId: string): boolean {
    if (opts.revocations === undefined) return false
    // a frozen node (no list in force) vouches for no stranger
    if (opts.revocations.frozen() !== undefined) return true
    const d = latest.get(peerId)
    return d !== undefined && !stillGood(d)
  }

  return { authorize, mayAskHave, isRevokedPeer }
}
