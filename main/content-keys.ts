/**
 * The content key of an encrypted item, sealed to the client a directive
 * names (protocol/seal.ts), for `POST /v1/directives`. The sealed box rides
 * beside the signed directive, never inside it and never in a log line; only
 * the directive's own client (its PeerId's key) opens it, and only the
 * licence's own account gets a directive at all (checkLicenseUse).
 *
 * A client renews its directive every few minutes with the same PeerId:
 * the box for one (licence, client, key) is kept and handed out again, so
 * renewals cost no curve arithmetic (a fresh box would be as good, only slower).
 */
import { randomBytes } from 'node:crypto'
import { sealContentKey, SEAL_NONCE_BYTES, X25519_BYTES, type SealedBox } from '../protocol/seal.ts'
import type { Manifest } from '../protocol/types.ts'
import type { Catalog } from './catalog.ts'
import { Lru } from './lru.ts'

/** Sealed boxes kept for renewals: one per active (licence, client) pair; ~200 bytes each. */
export const SEALED_BOX_CACHE_ENTRIES = 10_000

export class ContentKeys {
  readonly #catalog: Catalog
  readonly #boxes = new Lru<string, SealedBox>(SEALED_BOX_CACHE_ENTRIES)

  constructor (catalog: Catalog) {
    this.#catalog = catalog
  }

  /** The sealed content key for this licence and client, or undefined when the item is not encrypted. */
  async sealFor (manifest: Manifest, licenseId: string, clientPeerId: string): Promise<SealedBox | undefined> {
    const keyId = manifest.encryption?.keyId
    if (keyId === undefined) return undefined
    const id = `${keyId}\n${licenseId}\n${clientPeerId}`
    const kept = this.#boxes.get(id)
    if (kept !== undefined) return kept
    const contentKey = await this.#catalog.contentKey(manifest)
    if (contentKey === undefined) return undefined
    const box = sealContentKey({
      contentKey,
      clientPeerId,
      licenseId,
      ephemeralSecret: new Uint8Array(randomBytes(X25519_BYTES)),
      nonce: new Uint8Array(randomBytes(SEAL_NONCE_BYTES))
    })
    this.#boxes.set(id, box)
    return box
  }
}

const perCatalog = new WeakMap<Catalog, ContentKeys>()

/**
 * The `{ contentKey }` to spread into a directive answer (the API's and the storefront's player's): the item's
 * key sealed to `clientPeerId` for this licence, or nothing for a plaintext item.
 */
export async function sealedKeyField (catalog: Catalog, license: { itemId: string, licenseId: string }, clientPeerId: string, version?: number): Promise<{ contentKey?: SealedBox }> {
  let keys = perCatalog.get(catalog)
  if (keys === undefined) perCatalog.set(catalog, keys = new ContentKeys(catalog))
  await catalog.lookup(license.itemId)
  // the version the directive names (a replace has its own key), else the newest
  const manifest = version === undefined ? catalog.manifest(license.itemId) : (await catalog.manifestVersion(license.itemId, version))?.manifest
  const contentKey = manifest === undefined ? undefined : await keys.sealFor(manifest, license.licenseId, clientPeerId)
  return contentKey === undefined ? {} : { contentKey }
}
