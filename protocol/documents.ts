/**
 * Sign and verify each document type: a strict schema (exact fields, types,
 * integer ranges, bounded lengths), the signed envelope of protocol/signing.ts,
 * and the checks of the context the reader is in (clock, held rules version,
 * which item, which peer). Every failure is a typed ProtocolError.
 */
import { z } from 'zod'
import type { Directive, DirectivePeer, DocType, Heartbeat, License, Manifest, Revocations, Rules } from './types.ts'
import { ExpiredError, MalformedError, MismatchError, NotYetValidError, OlderVersionError } from './errors.ts'
import { bytesEqual } from './encoding.ts'
import { onlyDataProperties } from './plain-cbor.ts'
import { createSigner, peerIdOf, publicKeyOfPeerId, type Ed25519Impl, type Signer } from './keys.ts'
import { openDocument, readEnvelope, signDocument, type TrustedKeys } from './signing.ts'
import {
  CLOCK_SKEW_MS, HASH_BYTES, MAX_ADDR_LENGTH, MAX_ADDRS_PER_NODE, MAX_CHUNK_COUNT, MAX_CHUNK_SIZE,
  MAX_DIRECTIVE_PEERS, MAX_HELD_ITEMS, MAX_ID_LENGTH, MAX_NODES_PER_REGION, MAX_PEER_ID_LENGTH,
  MAX_PREPOSITION_ITEMS, MAX_REGIONS, MAX_TITLE_LENGTH, MIN_CHUNK_SIZE, PUBLIC_KEY_BYTES,
  MAX_LIVE_VERSIONS, MAX_REGION_ITEMS, MAX_REMOVED_ITEMS, MAX_LACKING_ITEMS, MAX_PRICE_MINOR, MAX_ITEM_VERSION,
  MAX_REVOKED_LICENSES, MAX_REVOKED_ACCOUNTS, MAX_REVOKED_NODES, MAX_DEVICES_LIMIT
} from './limits.ts'

// ---- schemas ---------------------------------------------------------------

const id = z.string().min(1).max(MAX_ID_LENGTH).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
const peerId = z.string().min(1).max(MAX_PEER_ID_LENGTH).regex(/^[A-Za-z0-9]+$/, 'must be a base58/base32 PeerId')
const addr = z.string().min(1).max(MAX_ADDR_LENGTH).regex(/^\/[\x21-\x7e]*$/, 'must be a multiaddr string')
/** Times (ms since epoch), sizes, counters: whole, non-negative, exact in a double. */
const uint = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const hash = z.instanceof(Uint8Array).refine(b => b.length === HASH_BYTES, `must be ${HASH_BYTES} bytes`)
const chunkSize = z.number().int().min(MIN_CHUNK_SIZE).max(MAX_CHUNK_SIZE)

const nodeEntry = (role: 'parent' | 'edge') => z.strictObject({
  peerId,
  role: z.literal(role),
  addrs: z.array(addr).max(MAX_ADDRS_PER_NODE),
  capacityBytes: uint,
  fastLane: addr.optional()
})

/** A manifest version: 1 for an item never replaced. */
const itemVersion = z.number().int().min(1).max(MAX_ITEM_VERSION)

const regionItem = z.strictObject({
  itemId: id,
  versions: z.array(itemVersion).min(1).max(MAX_LIVE_VERSIONS)
    .refine(v => v.every((x, i) => i === 0 || x > v[i - 1]!), 'versions must be strictly ascending'),
  availableFrom: uint.optional(),
  availableUntil: uint.optional(),
  priority: uint.optional()
})

export const PriceSchema = z.strictObject({
  amount: z.number().int().min(0).max(MAX_PRICE_MINOR),
  currency: z.string().regex(/^[A-Z]{3}$/, 'currency must be an ISO 4217 code such as EUR')
})

export const RulesSchema = z.strictObject({
  version: uint,
  issuedAt: uint,
  expiresAt: uint,
  chunkSize,
  regions: z.array(z.strictObject({
    name: id,
    parents: z.array(nodeEntry('parent')).max(MAX_NODES_PER_REGION),
    edges: z.array(nodeEntry('edge')).max(MAX_NODES_PER_REGION),
    preposition: z.array(id).max(MAX_PREPOSITION_ITEMS),
    items: z.array(regionItem).max(MAX_REGION_ITEMS).optional()
  })).max(MAX_REGIONS),
  removed: z.array(id).max(MAX_REMOVED_ITEMS).optional()
}).refine(r => r.issuedAt <= r.expiresAt, 'issuedAt must not be after expiresAt')
  .refine(r => new Set(r.regions.map(g => g.name)).size === r.regions.length, 'region names must be unique')

export const ManifestSchema = z.strictObject({
  itemId: id,
  title: z.string().min(1).max(MAX_TITLE_LENGTH),
  size: uint,
  chunkSize,
  chunkCount: z.number().int().min(0).max(MAX_CHUNK_COUNT),
  chunkHashes: z.array(hash).max(MAX_CHUNK_COUNT),
  merkleRoot: hash,
  version: uint,
  encryption: z.strictObject({ alg: z.literal('aes-256-ctr'), keyId: id }).optional()
}).refine(m => m.chunkHashes.length === m.chunkCount, 'chunkCount must equal the number of chunkHashes')
  .refine(m => m.chunkCount === Math.ceil(m.size / m.chunkSize), 'chunkCount must be ceil(size / chunkSize)')

export const LicenseSchema = z.strictObject({
  licenseId: id,
  accountId: id,
  itemId: id,
  notBefore: uint,
  expiresAt: uint,
  price: PriceSchema.optional(),
  maxDevices: z.number().int().min(1).max(MAX_DEVICES_LIMIT).optional(),
  kind: z.enum(['rental', 'purchase']).optional(),
  offlineGraceMs: uint.optional()
}).refine(l => l.notBefore <= l.expiresAt, 'notBefore must not be after expiresAt')

export const DirectivePeerSchema = z.strictObject({
  peerId,
  addrs: z.array(addr).max(MAX_ADDRS_PER_NODE),
  role: z.enum(['parent', 'edge', 'peer']),
  fastLane: addr.optional()
})

export const DirectiveSchema = z.strictObject({
  directiveId: id,
  licenseId: id,
  itemId: id,
  clientPeerId: peerId,
  region: id,
  peers: z.array(DirectivePeerSchema).max(MAX_DIRECTIVE_PEERS),
  rulesVersion: uint,
  issuedAt: uint,
  expiresAt: uint,
  itemVersion: itemVersion.optional(),
  accountId: id.optional()
}).refine(d => d.issuedAt <= d.expiresAt, 'issuedAt must not be after expiresAt')

/** A software version in a heartbeat: semver-like, short, printable (it is shown to operators as it is). */
export const SOFTWARE_VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,31}$/

export const HeartbeatSchema = z.strictObject({
  peerId,
  seq: uint,
  sentAt: uint,
  load: z.number().min(0).max(1),
  freeBytes: uint,
  bytesServed: z.strictObject({ edge: uint, parent: uint, peer: uint, client: uint }),
  heldItems: z.array(id).max(MAX_HELD_ITEMS),
  version: z.string().regex(SOFTWARE_VERSION_RE).optional(),
  lacking: z.array(id).max(MAX_LACKING_ITEMS).optional(),
  serving: z.strictObject({ bytesPerSecond: uint, uplinkBytesPerSecond: uint, streams: uint, fillQueue: uint }).optional()
})

export const RevocationsSchema = z.strictObject({
  version: uint,
  issuedAt: uint,
  expiresAt: uint,
  licenses: z.array(id).max(MAX_REVOKED_LICENSES),
  accounts: z.array(id).max(MAX_REVOKED_ACCOUNTS),
  nodes: z.array(peerId).max(MAX_REVOKED_NODES)
}).refine(r => r.issuedAt <= r.expiresAt, 'issuedAt must not be after expiresAt')

const SCHEMAS = {
  rules: RulesSchema,
  manifest: ManifestSchema,
  license: LicenseSchema,
  directive: DirectiveSchema,
  heartbeat: HeartbeatSchema,
  revocations: RevocationsSchema
} as const

interface DocOf { rules: Rules, manifest: Manifest, license: License, directive: Directive, heartbeat: Heartbeat, revocations: Revocations }

// The schemas must produce exactly the shared types (a compile-time check).
const _typesMatch: { [T in DocType]: (x: z.infer<typeof SCHEMAS[T]>) => DocOf[T] } = {
  rules: x => x, manifest: x => x, license: x => x, directive: x => x, heartbeat: x => x, revocations: x => x
}
void _typesMatch

/** Check a value against its document schema; MalformedError naming the first offending field. */
export function validateDocument<T extends DocType> (type: T, value: unknown): DocOf[T] {
  const result = SCHEMAS[type].safeParse(value)
  if (!result.success) {
    const issue = result.error.issues[0]
    const where = issue === undefined || issue.path.length === 0 ? '' : `${issue.path.map(String).join('.')}: `
    throw new MalformedError(`invalid ${type}: ${where}${issue?.message ?? 'does not match the schema'}`)
  }
  return result.data as DocOf[T]
}

// ---- context checks --------------------------------------------------------

function checkNow (now: number): void {
  if (typeof now !== 'number' || !Number.isFinite(now)) throw new TypeError('now must be a number of ms since the epoch')
}

/** Valid from `from` to `until` inclusive, give or take CLOCK_SKEW_MS either side. */
function checkWindow (type: DocType, now: number, from: number, until: number): void {
  checkNow(now)
  if (now + CLOCK_SKEW_MS < from) throw new NotYetValidError(`${type} is valid only from ${new Date(from).toISOString()}`)
  if (now - CLOCK_SKEW_MS > until) throw new ExpiredError(`${type} expired at ${new Date(until).toISOString()}`)
}

function expect (type: DocType, field: string, got: unknown, want: unknown): void {
  if (want !== undefined && got !== want) throw new MismatchError(`${type} is for ${field} ${String(got)}, not ${String(want)}`)
}

interface Verifying {
  /** The pinned key (or key ring) of main. */
  publicKey: TrustedKeys
  impl?: Ed25519Impl
}

function open<T extends DocType> (type: T, bytes: Uint8Array, ctx: Verifying): DocOf[T] {
  const { body } = openDocument(type, bytes, ctx.publicKey, { impl: ctx.impl })
  return validateDocument(type, body)
}

function sign<T extends DocType> (type: T, doc: DocOf[T], signer: Signer): Uint8Array {
  return signDocument(type, validateDocument(type, doc), signer)
}

// ---- rules -------------------------------------------------------------------

export interface RulesContext extends Verifying {
  now: number
  /** The rules already held: anything older, or as old with other bytes, is a rollback/freeze attempt. */
  held?: { version: number, bytes: Uint8Array }
  /** Skip the validity window: only for reading back stored rules as a rollback floor, never for acting on them. */
  ignoreWindow?: boolean
}

export function signRules (rules: Rules, signer: Signer): Uint8Array {
  return sign('rules', rules, signer)
}

export function verifyRules (bytes: Uint8Array, ctx: RulesContext): Rules {
  const rules = open('rules', bytes, ctx)
  if (ctx.held !== undefined) {
    if (rules.version < ctx.held.version) throw new OlderVersionError(`rules version ${rules.version} is older than the held ${ctx.held.version}`)
    if (rules.version === ctx.held.version && !bytesEqual(bytes, ctx.held.bytes)) {
      throw new OlderVersionError(`rules version ${rules.version} differs from the held rules of the same version`)
    }
  }
  if (ctx.ignoreWindow !== true) checkWindow('rules', ctx.now, rules.issuedAt, rules.expiresAt)
  return rules
}

// ---- revocations -------------------------------------------------------------

export interface RevocationsContext extends Verifying {
  now: number
  /** The list already held: anything older, or as old with other bytes, is a rollback (or a freeze attempt). */
  held?: { version: number, bytes: Uint8Array }
  /** Skip the validity window: only for reading back a stored list as the rollback floor, never for acting on it. */
  ignoreWindow?: boolean
}

export function signRevocations (list: Revocations, signer: Signer): Uint8Array {
  return sign('revocations', list, signer)
}

/** Verify a revocation list with the rules' protections: older version → OlderVersionError, expired → ExpiredError. */
export function verifyRevocations (bytes: Uint8Array, ctx: RevocationsContext): Revocations {
  const list = open('revocations', bytes, ctx)
  if (ctx.held !== undefined) {
    if (list.version < ctx.held.version) throw new OlderVersionError(`revocation list version ${list.version} is older than the held ${ctx.held.version}`)
    if (list.version === ctx.held.version && !bytesEqual(bytes, ctx.held.bytes)) {
      throw new OlderVersionError(`revocation list version ${list.version} differs from the held list of the same version`)
    }
  }
  if (ctx.ignoreWindow !== true) checkWindow('revocations', ctx.now, list.issuedAt, list.expiresAt)
  return list
}

// ---- manifest ----------------------------------------------------------------

export interface ManifestContext extends Verifying {
  itemId?: string
}

export function signManifest (manifest: Manifest, signer: Signer): Uint8Array {
  return sign('manifest', manifest, signer)
}

export function verifyManifest (bytes: Uint8Array, ctx: ManifestContext): Manifest {
  const manifest = open('manifest', bytes, ctx)
  expect('manifest', 'item', manifest.itemId, ctx.itemId)
  return manifest
}

// ---- license -----------------------------------------------------------------

export interface LicenseContext extends Verifying {
  now: number
  itemId?: string
  accountId?: string
  licenseId?: string
}

export function signLicense (license: License, signer: Signer): Uint8Array {
  return sign('license', license, signer)
}

export function verifyLicense (bytes: Uint8Array, ctx: LicenseContext): License {
  const license = open('license', bytes, ctx)
  expect('license', 'item', license.itemId, ctx.itemId)
  expect('license', 'account', license.accountId, ctx.accountId)
  expect('license', 'licenseId', license.licenseId, ctx.licenseId)
  checkWindow('license', ctx.now, license.notBefore, license.expiresAt)
  return license
}

// ---- directive ---------------------------------------------------------------

export interface DirectiveContext extends Verifying {
  now: number
  /** The Noise-authenticated PeerId of the client presenting it: a copied directive names someone else. */
  clientPeerId?: string
  itemId?: string
  rulesVersion?: number
  licenseId?: string
}

/**
 * Peers already checked against DirectivePeerSchema while frozen all the way
 * down: they can never change, so naming one in another directive needs no
 * second check (main names the same ranked peers in thousands a second).
 */
const checkedPeers = new WeakSet<object>()

function isFrozenData (o: object): boolean {
  return Object.isFrozen(o) && onlyDataProperties(o)
}

function isCheckedPeer (p: unknown): boolean {
  if (typeof p !== 'object' || p === null) return false
  if (checkedPeers.has(p)) return true
  const addrs = (p as { addrs?: unknown }).addrs
  if (!isFrozenData(p) || typeof addrs !== 'object' || addrs === null || !isFrozenData(addrs)) return false
  if (!DirectivePeerSchema.safeParse(p).success) return false
  checkedPeers.add(p)
  return true
}

/** Every index, holes included (which `every` would skip). */
function allCheckedPeers (peers: unknown[]): boolean {
  for (let i = 0; i < peers.length; i++) if (!isCheckedPeer(peers[i])) return false
  return true
}

/**
 * The directive against DirectiveSchema, checking frozen peers once: the
 * fields but the peers go through the schema with no peers (its refinement
 * included), and the list must be an array within MAX_DIRECTIVE_PEERS of
 * checked peers — together exactly what the whole schema asks. Anything
 * else, and every failure (for its message), goes through the whole schema.
 */
function validDirective (directive: Directive): Directive {
  const fields = typeof directive === 'object' && directive !== null ? { ...directive } : undefined
  const peers: unknown = fields?.peers
  if (fields !== undefined && Array.isArray(peers) && Object.getPrototypeOf(peers) === Array.prototype &&
    peers.length <= MAX_DIRECTIVE_PEERS && allCheckedPeers(peers)) {
    fields.peers = []
    const result = DirectiveSchema.safeParse(fields)
    if (result.success) return { ...result.data, peers: peers as DirectivePeer[] }
  }
  return validateDocument('directive', directive)
}

export function signDirective (directive: Directive, signer: Signer): Uint8Array {
  return signDocument('directive', validDirective(directive), signer)
}

export function verifyDirective (bytes: Uint8Array, ctx: DirectiveContext): Directive {
  const directive = open('directive', bytes, ctx)
  expect('directive', 'client', directive.clientPeerId, ctx.clientPeerId)
  expect('directive', 'item', directive.itemId, ctx.itemId)
  expect('directive', 'rules version', directive.rulesVersion, ctx.rulesVersion)
  expect('directive', 'licenseId', directive.licenseId, ctx.licenseId)
  checkWindow('directive', ctx.now, directive.issuedAt, directive.expiresAt)
  return directive
}

// ---- heartbeat ---------------------------------------------------------------

export interface HeartbeatContext {
  now: number
  /** The node's own Ed25519 public key; if omitted it is taken from peerId (an Ed25519 PeerId embeds its key). */
  publicKey?: Uint8Array
  /** The PeerId the heartbeat claims to come from (e.g. the URL's :peerId). */
  peerId?: string
  impl?: Ed25519Impl
}

/** Sign a heartbeat with the node's own key (its libp2p identity); heartbeat.peerId must be that key's PeerId. */
export function signHeartbeat (heartbeat: Heartbeat, signer: Signer): Uint8Array {
  if (heartbeat?.peerId !== peerIdOf(signer.publicKey)) throw new MismatchError('heartbeat.peerId must be the PeerId of the signing key')
  return sign('heartbeat', heartbeat, signer)
}

/** Sign a heartbeat with the node's raw Ed25519 secret (32-byte seed, or libp2p's 64-byte seed + public key). */
export function signHeartbeatRaw (heartbeat: Heartbeat, secretKey: Uint8Array, impl: Ed25519Impl = 'node'): Uint8Array {
  return signHeartbeat(heartbeat, createSigner(secretKey, impl))
}

/**
 * Verify a node's heartbeat: signed by the key its peerId names, from that
 * peer, sent within CLOCK_SKEW_MS of now (either way).
 */
export function verifyHeartbeat (bytes: Uint8Array, ctx: HeartbeatContext): Heartbeat {
  let publicKey = ctx.publicKey
  if (publicKey === undefined) {
    if (ctx.peerId === undefined) throw new TypeError('verifyHeartbeat needs publicKey or peerId')
    publicKey = publicKeyOfPeerId(ctx.peerId)
  }
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) throw new TypeError('publicKey must be 32 bytes')
  const heartbeat = open('heartbeat', bytes, { publicKey, impl: ctx.impl })
  expect('heartbeat', 'peer', heartbeat.peerId, ctx.peerId)
  expect('heartbeat', 'peer', heartbeat.peerId, peerIdOf(publicKey))
  checkWindow('heartbeat', ctx.now, heartbeat.sentAt, heartbeat.sentAt)
  return heartbeat
}

/** The type and key id of an envelope, unverified: for routing or logging before a key is chosen. */
export function peekDocument (bytes: Uint8Array): { type: DocType, keyId: string } {
  const env = readEnvelope(bytes)
  return { type: env.t, keyId: env.k }
}
