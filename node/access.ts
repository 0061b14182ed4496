/**
 * Who may fetch chunks from this node (DESIGN "Trust"): peers named in the
 * current rules, or a peer presenting an unexpired directive, signed by
 * main, that names that peer (its Noise-authenticated PeerId) as the client,
 * names the item, and lists this node among its peers. A directive is
 * verified once per connection and item, then the decision is cached for
 * the connection's life (or until the directive expires).
 */
import { parseContentKey } from '../protocol/item-key.ts'
import type { Connection } from '@libp2p/interface'
import { verifyDirective } from '../protocol/documents.ts'
import type { Directive } from '../protocol/types.ts'
import { AccessDeniedError } from './errors.ts'

export interface AuthorizeRequest {
  connection: Connection
  itemId: string
  credential?: Uint8Array
}

/** Throws AccessDeniedError when the remote peer may not have this item's chunks. */
export type Authorize = (req: AuthorizeRequest) => Promise<void>

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
}

export interface Authorizer {
  authorize: Authorize
  /** May this connection ask which chunks we hold? Members, and connections that presented a valid directive. */
  mayAskHave: (connection: Connection) => boolean
}

function itemIdOfKey (key: string): string {
  try { return parseContentKey(key).itemId } catch { return key }
}

export function createAuthorizer (opts: AuthorizerOptions): Authorizer {
  const now = opts.now ?? Date.now
  /** Per connection: itemId → directive expiry. A WeakMap, so closed connections are forgotten with them. */
  const granted = new WeakMap<Connection, Map<string, number>>()

  async function authorize (req: AuthorizeRequest): Promise<void> {
    const remote = req.connection.remotePeer.toString()
    if (opts.isMember(remote)) return
    const t = now()
    const cached = granted.get(req.connection)?.get(req.itemId)
    if (cached !== undefined && cached > t) return
    if (req.credential === undefined) throw new AccessDeniedError('not in the rules and no directive presented')
    let directive: Directive
    try {
      // a request names a version's wire key (itemId@N, issue 15); the directive names the item, which covers its versions
      directive = verifyDirective(req.credential, { publicKey: opts.mainPublicKey(), now: t, clientPeerId: remote, itemId: itemIdOfKey(req.itemId) })
      if (!directive.peers.some(p => p.peerId === opts.selfPeerId)) throw new AccessDeniedError('the directive does not list this node')
      opts.extraCheck?.(directive)
    } catch (err) {
      const reason = `directive refused: ${(err as Error).message}`
      opts.onRefused?.(remote, reason)
      throw new AccessDeniedError(reason)
    }
    let m = granted.get(req.connection)
    if (m === undefined) { m = new Map(); granted.set(req.connection, m) }
    m.set(req.itemId, directive.expiresAt)
    opts.onAdmitted?.(remote, directive)
  }

  function mayAskHave (connection: Connection): boolean {
    if (opts.isMember(connection.remotePeer.toString())) return true
    const m = granted.get(connection)
    if (m === undefined) return false
    const t = now()
    for (const exp of m.values()) if (exp > t) return true
    return false
  }

  return { authorize, mayAskHave }
}
