/**
 * Those waiting for a chunk to be stored: play's Range requests (`waitFor`)
 * and an on-demand engine's callers (`want`). One promise per chunk, shared by
 * every waiter, settled once: with the verified bytes when the chunk is
 * stored, or with the error that ended the engine.
 */
import type { VerifiedChunk } from '../../protocol/chunking.ts'

interface Deferred { resolve: (c: VerifiedChunk) => void, reject: (e: Error) => void, promise: Promise<VerifiedChunk> }

export class ChunkWaiters {
  private readonly byIndex = new Map<number, Deferred>()

  /** The promise of chunk `index`'s bytes, made on first ask. */
  promiseOf (index: number): Promise<VerifiedChunk> {
    let d = this.byIndex.get(index)
    if (d === undefined) { d = deferred(); this.byIndex.set(index, d) }
    return d.promise
  }

  /** Chunk `index` is stored: its waiters get the bytes. False: nobody was waiting (the bytes went nowhere). */
  stored (index: number, chunk: VerifiedChunk): boolean {
    const d = this.byIndex.get(index)
    if (d === undefined) return false
    this.byIndex.delete(index)
    d.resolve(chunk)
    return true
  }

  /** The engine ended: every waiter hears why. */
  failAll (err: Error): void {
    for (const d of this.byIndex.values()) d.reject(err)
    this.byIndex.clear()
  }
}

function deferred (): Deferred {
  let resolve!: (c: VerifiedChunk) => void
  let reject!: (e: Error) => void
  const promise = new Promise<VerifiedChunk>((res, rej) => { resolve = res; reject = rej })
  // a promise nobody awaits any more (its caller gave up, or it was readahead) must not become an unhandled rejection
  promise.catch(() => {})
  return { resolve, reject, promise }
}
