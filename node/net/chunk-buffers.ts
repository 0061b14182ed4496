/**
 * Read buffers for chunk files, used again rather than allocated per read.
 *
 * A new 1 MiB buffer per chunk read cost a serving edge its page faults
 * (fresh memory is faulted in page by page), its share of garbage
 * collection (V8 collects on external-memory growth) and the allocation
 * itself: about a fifth of a warm edge's CPU (issue 17, `--cpu-prof` under
 * bench/node-throughput.ts). The store reads into a buffer taken from this
 * pool; a sender that writes the chunk in one piece hands it back once the
 * bytes have left (node/net/fast-lane/server.ts, in the write's callback), and
 * every other holder simply drops it (the garbage collector takes it, as
 * before).
 *
 * Each buffer has CHUNK_HEADROOM_BYTES in front of the chunk, owned by the
 * pool: a sender may put its frame header there (withHeader) and write
 * header and chunk as one contiguous buffer — TLS would otherwise copy the
 * two into a new buffer of their joint size before encrypting.
 *
 * Ownership is by identity: only a view this pool handed out and that is not
 * back yet can be framed or recycled (twice, or a foreign buffer, is a no-op),
 * so a chunk that came from elsewhere (a fill's receive buffer, shared by its
 * waiters) is never reused.
 */

/** Bytes in front of every pooled chunk: the fast lane's data-frame header (length varint ≤ 4, request id 4, data header 5) fits. */
export const CHUNK_HEADROOM_BYTES = 16
/** Free buffers kept, in bytes (process-wide): enough for the lookahead of a few busy connections; more are left to the GC. */
export const POOL_MAX_FREE_BYTES = 64 * 1024 * 1024

export class ChunkBufferPool {
  private readonly free: Buffer[] = []
  private freeBytes = 0
  /** Backing buffers handed out and not back yet. */
  private readonly out = new WeakSet<ArrayBufferLike>()

  constructor (readonly maxFreeBytes: number = POOL_MAX_FREE_BYTES) {}

  /** Buffers waiting to be used again, and their bytes. */
  get stats (): { free: number, freeBytes: number } { return { free: this.free.length, freeBytes: this.freeBytes } }

  /**
   * A buffer of at least `capacity` bytes after the headroom, not zero-filled (the caller overwrites what it
   * hands on, and hands on only what it wrote). Returns the whole backing view; `chunkView` cuts the chunk out.
   */
  take (capacity: number): Buffer {
    if (!Number.isSafeInteger(capacity) || capacity < 0) throw new RangeError(`not a capacity: ${capacity}`)
    const need = CHUNK_HEADROOM_BYTES + capacity
    let buf: Buffer | undefined
    // the few free buffers are nearly always of one size (an item's chunk size): first fit
    for (let i = this.free.length - 1; i >= 0; i--) {
      const b = this.free[i]!
      if (b.byteLength >= need && b.byteLength <= 2 * need) {
        this.free.splice(i, 1)
        this.freeBytes -= b.byteLength
        buf = b
        break
      }
    }
    // a backing store of its own (not Buffer's shared 8 KiB slab): the whole ArrayBuffer is this chunk's
    buf ??= Buffer.allocUnsafeSlow(need)
    this.out.add(buf.buffer)
    return buf
  }

  /** The chunk's view of a buffer from take: `length` bytes after the headroom. */
  chunkView (buf: Buffer, length: number): Buffer {
    return buf.subarray(CHUNK_HEADROOM_BYTES, CHUNK_HEADROOM_BYTES + length)
  }

  /** Is `chunk` a view this pool handed out (through chunkView) and not yet back? */
  owns (chunk: Uint8Array): boolean {
    return chunk.byteOffset === CHUNK_HEADROOM_BYTES && this.out.has(chunk.buffer)
  }

  /**
   * `header` then `chunk` as one contiguous view, the header written into the headroom; null when `chunk` is not
   * this pool's or the header does not fit (then write the two separately).
   */
  withHeader (chunk: Uint8Array, header: Uint8Array): Uint8Array | null {
    if (!this.owns(chunk) || header.length > CHUNK_HEADROOM_BYTES) return null
    const start = CHUNK_HEADROOM_BYTES - header.length
    const whole = Buffer.from(chunk.buffer, start, header.length + chunk.length)
    whole.set(header, 0)
    return whole
  }

  /** Hand `chunk` back: nothing may read or write it afterwards. A view the pool does not own is left alone. */
  recycle (chunk: Uint8Array): void {
    if (!this.owns(chunk)) return
    const backing = chunk.buffer
    this.out.delete(backing)
    if (this.freeBytes + backing.byteLength > this.maxFreeBytes) return
    this.free.push(Buffer.from(backing, 0, backing.byteLength))
    this.freeBytes += backing.byteLength
  }
}

/** The process's pool: the chunk stores read into it and the fast-lane server gives back to it. */
export const chunkReadBuffers = new ChunkBufferPool()
