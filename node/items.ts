/**
 * Verified manifests, by itemId: memory, then the state db, then main.
 * Concurrent asks for the same item share one fetch.
 */
import { verifyManifest } from '../protocol/documents.ts'
import { fromText, toText } from '../protocol/signing.ts'
import { MAX_DOCUMENT_BYTES } from '../protocol/limits.ts'
import type { Manifest } from '../protocol/types.ts'
import type { MainClient } from './main-client.ts'
import type { StateDb } from './state.ts'

const PREFIX = 'manifest:'

export class ManifestCache {
  private readonly manifests = new Map<string, Manifest>()
  private readonly pending = new Map<string, Promise<Manifest>>()

  constructor (private readonly main: MainClient, private readonly state: StateDb, private readonly mainPublicKey: Uint8Array) {}

  /** Load every stored manifest (re-verified). */
  async load (): Promise<void> {
    for await (const [key, text] of this.state.entries(PREFIX)) {
      const itemId = key.slice(PREFIX.length)
      try {
        this.manifests.set(itemId, verifyManifest(fromText(text, MAX_DOCUMENT_BYTES.manifest), { publicKey: this.mainPublicKey, itemId }))
      } catch { /* a bad stored manifest is refetched on demand */ }
    }
  }

  known (itemId: string): Manifest | undefined {
    return this.manifests.get(itemId)
  }

  all (): Manifest[] {
    return [...this.manifests.values()]
  }

  async get (itemId: string, opts: { signal?: AbortSignal } = {}): Promise<Manifest> {
    const m = this.manifests.get(itemId)
    if (m !== undefined) return m
    let p = this.pending.get(itemId)
    if (p === undefined) {
      p = (async () => {
        const bytes = await this.main.getManifest(itemId, { signal: opts.signal })
        const manifest = verifyManifest(bytes, { publicKey: this.mainPublicKey, itemId })
        await this.state.put(PREFIX + itemId, toText(bytes))
        this.manifests.set(itemId, manifest)
        return manifest
      })().finally(() => this.pending.delete(itemId))
      this.pending.set(itemId, p)
    }
    return await p
  }
}
