/**
 * A source's measured throughput and round trip, and the window of chunks in
 * flight they call for: about `targetQueueMs` of the source's data, so a fast
 * source is kept busy and a slow one is not handed what others could fetch.
 */
import type { SchedulerLimits } from './limits.ts'

/** Throughput is measured over this many recent chunks: reacts within a window, ignores one odd gap. */
export const RATE_SAMPLES = 16
/** The base round trip of a source is the fastest of this many recent first-chunk latencies. */
export const LATENCY_SAMPLES = 16
/** ...and throughput over at least this much time. */
export const MIN_RATE_SPAN_MS = 100

export class RateMeter {
  /** Bytes per second (0 before the first chunk). */
  rate = 0
  /** When the sampler last saw an event while busy. */
  private lastSampleAt: number
  private readonly samples: Array<{ bytes: number, dt: number }> = []
  /** First-chunk latencies of recent requests (ms). */
  private readonly latencies: number[] = []
  private sampleBytes = 0
  private sampleTime = 0

  constructor (now: number) { this.lastSampleAt = now }

  /** The source went from idle to busy: idle time is not counted against its throughput. */
  busyFrom (now: number): void { this.lastSampleAt = now }

  /** A request's first chunk came `ms` after it was asked. */
  firstChunkAfter (ms: number): void {
    this.latencies.push(ms)
    if (this.latencies.length > LATENCY_SAMPLES) this.latencies.shift()
  }

  /**
   * Throughput over the source's recent busy time: bytes of the last
   * RATE_SAMPLES chunks over the busy time they took, never over less than
   * MIN_RATE_SPAN_MS (a first chunk that was already buffered must not look
   * like gigabytes per second and open a huge window).
   */
  sample (bytes: number, now: number): void {
    const dt = Math.max(now - this.lastSampleAt, 0)
    this.lastSampleAt = now
    this.samples.push({ bytes, dt })
    this.sampleBytes += bytes
    this.sampleTime += dt
    while (this.samples.length > RATE_SAMPLES) {
      const old = this.samples.shift() as { bytes: number, dt: number }
      this.sampleBytes -= old.bytes
      this.sampleTime -= old.dt
    }
    this.rate = this.sampleBytes / (Math.max(this.sampleTime, MIN_RATE_SPAN_MS) / 1000)
  }

  /** Chunks to keep in flight at this source. */
  window (limits: SchedulerLimits, chunkBytes: number): number {
    const { initialWindow, minWindow, maxWindow, targetQueueMs } = limits
    if (this.rate <= 0) return initialWindow
    // cover at least twice the source's base round trip (its fastest recent first-chunk latency),
    // else a slow round trip would cap the window, which caps the measured rate, which caps the window
    const horizonMs = Math.max(targetQueueMs, 2 * (this.latencies.length > 0 ? Math.min(...this.latencies) : 0))
    const w = Math.ceil((this.rate * horizonMs / 1000) / (chunkBytes || 1)) + 1
    return Math.max(minWindow, Math.min(maxWindow, w))
  }
}
