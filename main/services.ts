/** What the route factories are handed: the services of one main instance. */
import type { Signer } from '../protocol/keys.ts'
import type { Accounts } from './accounts.ts'
import type { Catalog } from './catalog.ts'
import type { Licenses } from './licenses.ts'
import type { Registry } from './registry.ts'
import type { RulesPublisher } from './rules.ts'
import type { Directives } from './directives.ts'
import type { OriginStore } from './origin.ts'
import type { MainMetrics } from './metrics.ts'
import type { Credentials } from './auth.ts'
import type { NodeTokens, OperatorActivity } from './operator.ts'
import type { Reports } from './reports.ts'
import type { Revocations } from './revocations.ts'
import type { MainStore } from './store.ts'
import type { TrustedProxies } from './client-address.ts'
import type { DeviceSlots } from './devices.ts'

export interface MainServices extends Credentials {
  signer: Signer
  now: () => number
  catalog: Catalog
  licenses: Licenses
  registry: Registry
  rules: RulesPublisher
  directives: Directives
  origin: OriginStore
  metrics: MainMetrics
  nodeTokens: NodeTokens
  /** Directives per minute and recent errors, for the operator page. */
  activity: OperatorActivity
  startedAt: number
  /** Bad sources reported by clients and nodes, and the quarantine they lead to. */
  reports: Reports
  /** Revoked licences, accounts and sessions, and the signed revocation list (issue 14b). */
  revocations: Revocations
  /** The store itself, for bookkeeping that needs no cache. */
  store: MainStore
  /** This main's front of the licences' device slots (issue 14b), in the store. */
  devices: DeviceSlots
  /** Proxies whose X-Forwarded-For names the client (main/client-address.ts); none: the socket's peer counts. */
  trustedProxies?: TrustedProxies
}
