/**
 * Disk back-pressure: verified bytes handed to the store and not yet written.
 * Past the bound the engine asks for nothing more, and a source that awaits
 * `room()` in its onChunk stops reading its stream, so a slow disk slows the
 * senders instead of filling memory.
 */
export class StoreGate {
  private pendingBytes = 0
  private held: Array<() => void> = []

  constructor (private readonly maxPendingBytes: number) {}

  /** The store is behind: no new request should go out. */
  get full (): boolean { return this.pendingBytes >= this.maxPendingBytes }

  /** `bytes` were handed to the store. */
  add (bytes: number): void { this.pendingBytes += bytes }

  /** `bytes` were written (or failed): the held sources go on once below the bound. */
  done (bytes: number): void {
    this.pendingBytes -= bytes
    if (!this.full) this.releaseAll()
  }

  /** Undefined while there is room; else a promise that settles once there is. */
  room (): Promise<void> | undefined {
    if (!this.full) return undefined
    return new Promise<void>(resolve => { this.held.push(resolve) })
  }

  /** Let every held source go (there is room, or the engine ended). */
  releaseAll (): void {
    const held = this.held
    this.held = []
    for (const f of held) f()
  }
}
