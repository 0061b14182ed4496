/**
 * Frame bodies for the fast-lane client, handed out again once their owner
 * is done with them. A requester receives every chunk into a frame body of
 * its own (header + 1 MiB); a new body per frame cost a requester about a
 * quarter of its CPU in page faults and the GC work that external memory
 * triggers (profile of the node-throughput bench's requester: garbage
 * collector 18 %, FastBuffer 9 %; on this VM `Buffer.allocUnsafeSlow(1 MiB)`
 * plus a copy takes 0.27-0.52 ms against 0.03 ms for the copy alone).
 *
 * The rule that keeps this safe: only the one who holds the only reference
 * to a body may hand it back (`recycle`), and after that it must not touch
 * it. The download engine does so for chunks nobody else was given (a
 * duplicate, a bad chunk, or a stored chunk no waiter took, where the store
 * keeps nothing); everyone else never recycles, and their bodies go to the GC
 * as before. A body the pool did not make, or one already handed back, is
 * ignored.
 */

/** Smaller frames (ends, errors, small last chunks) are not worth keeping. */
export const POOL_MIN_BYTES = 64 * 1024
/** Free bodies kept at most (bytes): about sixteen 1 MiB chunks, more than a requester has in flight per connection. */
export const POOL_MAX_FREE_BYTES = 16 * 1024 * 1024

export class FramePool {
  private readonly free = new Map<number, ArrayBuffer[]>()
  private freeBytes = 0
  private readonly made = new WeakSet<ArrayBuffer>()
  private readonly inFree = new WeakSet<ArrayBuffer>()

  /** A body of exactly `length` bytes, not zero-filled (every byte is overwritten before it is handed on). */
  alloc (length: number): Buffer {
    if (length >= POOL_MIN_BYTES) {
      const ab = this.free.get(length)?.pop()
      if (ab !== undefined) {
        this.inFree.delete(ab)
        this.freeBytes -= ab.byteLength
        return Buffer.from(ab, 0, length)
      }
    }
    const body = Buffer.allocUnsafeSlow(length)
    if (length >= POOL_MIN_BYTES) this.made.add(body.buffer)
    return body
  }

  /** `view` (a body or a view into one) is no longer referenced by its caller: its body may be handed out again. */
  recycle (view: Uint8Array): void {
    const ab = view.buffer
    if (!(ab instanceof ArrayBuffer) || !this.made.has(ab) || this.inFree.has(ab)) return
    if (this.freeBytes + ab.byteLength > POOL_MAX_FREE_BYTES) return
    let list = this.free.get(ab.byteLength)
    if (list === undefined) { list = []; this.free.set(ab.byteLength, list) }
    list.push(ab)
    this.inFree.add(ab)
    this.freeBytes += ab.byteLength
  }

  /** Bytes held free now. */
  get freeSize (): number { return this.freeBytes }
}
