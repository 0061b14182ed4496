/**
 * A token bucket for an upload cap (`--max-upload`): `take(n)` resolves
 * when n bytes may be sent. Waiters are served in order, so one large
 * request cannot starve others forever.
 */

/** Default burst: a little over one chunk, so a capped node still sends whole chunks smoothly. */
export const DEFAULT_BURST_BYTES = 2 * 1024 * 1024

export class TokenBucket {
  private tokens: number
  private last: number
  private queue: Promise<void> = Promise.resolve()
  readonly burstBytes: number

  constructor (readonly bytesPerSecond: number, burstBytes = DEFAULT_BURST_BYTES, private readonly now: () => number = () => performance.now()) {
    if (!(bytesPerSecond > 0)) throw new RangeError('bytesPerSecond must be > 0')
    this.burstBytes = Math.max(1, burstBytes)
    this.tokens = this.burstBytes
    this.last = this.now()
  }

  private refill (): void {
    const t = this.now()
    this.tokens = Math.min(this.burstBytes, this.tokens + (t - this.last) * this.bytesPerSecond / 1000)
    this.last = t
  }

  /** Wait until `bytes` may go. A request larger than the burst waits for the deficit, then drives the bucket negative. */
  async take (bytes: number, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const turn = this.queue.then(async () => {
      this.refill()
      const need = Math.min(bytes, this.burstBytes)
      while (this.tokens < need) {
        opts.signal?.throwIfAborted()
        const waitMs = Math.ceil((need - this.tokens) * 1000 / this.bytesPerSecond)
        await sleep(Math.max(1, waitMs), opts.signal)
        this.refill()
      }
      this.tokens -= bytes
    })
    this.queue = turn.catch(() => {})
    await turn
  }
}

function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(t); reject(signal?.reason) }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
