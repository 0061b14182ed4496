/**
 * The download cap (`--max-download`): chunks are asked for no faster than
 * `rate` bytes per second on average — a token bucket of one second at the
 * cap, holding at least one chunk.
 */
export class DownloadCap {
  private tokens = 0
  /** When the bucket was last refilled (-1: never). */
  private at = -1

  /** `rate` bytes per second; 0 for no cap. */
  constructor (private readonly rate: number, private readonly chunkBytes: number) {}

  /** Chunks the cap lets us ask for now (Infinity without a cap); `spend` takes their tokens. */
  chunks (now: number): number {
    if (!(this.rate > 0)) return Infinity
    const chunk = this.chunkBytes || 1
    const burst = Math.max(chunk, this.rate)
    this.tokens = this.at < 0 ? burst : Math.min(burst, this.tokens + (now - this.at) * this.rate / 1000)
    this.at = now
    return Math.floor(this.tokens / chunk)
  }

  spend (bytes: number): void {
    if (this.rate > 0) this.tokens -= bytes
  }
}
