/**
 * Verified manifests, by the item's wire key (protocol/item-key.ts: the itemId for version 1, itemId@N after a
 * replace): memory, then the state db, then main. A key names one signed manifest forever, so nothing cached
 * goes stale; the manifests handed out carry the key as their itemId, which is what the chunk and have protocols,
 * the filler and main's origin route ask by. Concurrent asks for the same key share one fetch.
 */
import { verifyManifest } from '../../protocol/documents.ts'
import { fromText, toText } from '../../protocol/signing.ts'
import { MAX_DOCUMENT_BYTES } from '../../protocol/limits.ts'
import { MismatchError } from '../../protocol/errors.ts'
import { parseContentKey } from '../../protocol/item-key.ts'
import type { Manifest } from '../../protocol/types.ts'
import type { MainClient } from '../control/main-client.ts'
import type { StateDb } from '../control/state.ts'

const PREFIX = 'manifest:'

export class ManifestCache {
  private readonly manifests = new Map<string, Manifest>()
  private readonly pending = new Map<string, Promise<Manifest>>()

  constructor (private readonly main: MainClient, private readonly state: StateDb, private readonly mainPublicKey: Uint8Array) {}

  /** Load every stored manifest (re-verified). */
  async load (): Promise<void> {
    for await (const [k, text] of this.state.entries(PREFIX)) {
      const key = k.slice(PREFIX.length)
      try {
        this.manifests.set(key, this.open(key, fromText(text, MAX_DOCUMENT_BYTES.manifest)))
      } catch { /* a bad stored manifest is refetched on demand */ }
    }
  }

  /** Verify a manifest for a key: main's signature, that item, that version; returned with the key as its itemId. */
  private open (key: string, bytes: Uint8Array): Manifest {
    const { itemId, version } = parseContentKey(key)
    const manifest = verifyManifest(bytes, { publicKey: this.mainPublicKey, itemId })
    if (manifest.version !== version) throw new MismatchError(`manifest of ${itemId} is version ${manifest.version}, not ${version}`)
    return { ...manifest, itemId: key }
  }

  known (key: string): Manifest | undefined {
    return this.manifests.get(key)
  }

  all (): Manifest[] {
    return [...this.manifests.values()]
  }

  /** Drop a manifest (its item was taken down or the version collected). */
  async forget (key: string): Promise<void> {
    this.manifests.delete(key)
    await this.state.delete(PREFIX + key)
  }

  async get (key: string, opts: { signal?: AbortSignal } = {}): Promise<Manifest> {
    const m = this.manifests.get(key)
    if (m !== undefined) return m
    let p = this.pending.get(key)
    if (p === undefined) {
      p = (async () => {
        const { itemId, version } = parseContentKey(key)
        const bytes = await this.main.getManifest(itemId, { signal: opts.signal, version })
        const manifest = this.open(key, bytes)
        await this.state.put(PREFIX + key, toText(bytes))
        this.manifests.set(key, manifest)
        return manifest
      })().finally(() => this.pending.delete(key))
      this.pending.set(key, p)
    }
    return await p
  }
}
