/**
 * What a run measures: running totals, a time series sampled every
 * `sampleIntervalSeconds`, and the download-time and startup-delay samples
 * whose distribution the report plots. Everything here is a function of the
 * simulated events only (never of wall time), so a run's metrics.json is the
 * same bytes every time.
 */

/** Columns of the time series, in CSV order. Byte columns are bytes sent in the interval. */
export const SERIES_COLUMNS = [
  'time_s', 'requests', 'edge_requests', 'edge_hits', 'downloads_done',
  'bytes_to_clients', 'bytes_from_edges', 'bytes_from_peers', 'bytes_from_parents', 'bytes_from_origin',
  'peer_bytes_to_clients', 'parent_bytes_to_clients', 'parent_bytes_to_edges', 'online_clients', 'active_downloads', 'pending_events'
] as const
/** Appended to the series when the scenario has faults (nodes_down is a gauge, the rest per interval). */
export const FAULT_SERIES_COLUMNS = ['nodes_down', 'failures', 'lost_chunks', 'failovers', 'download_seconds_sum'] as const
export type SeriesColumn = typeof SERIES_COLUMNS[number]

export class Totals {
  requests = 0
  requestedBytes = 0
  /** Requests not served: no online idle client was picked, or the item was already held. */
  skippedBusy = 0
  alreadyHeld = 0
  edgeRequests = 0
  edgeHits = 0
  edgeRequestBytes = 0
  edgeHitBytes = 0
  edgeEvictions = 0
  prepositioned = 0
  downloadsDone = 0
  /** Bytes received by clients, by the role of the sender. */
  clientBytesFromEdges = 0
  clientBytesFromPeers = 0
  clientBytesFromParents = 0
  /** Bytes received by edges (fills), by sender. */
  edgeBytesFromPeers = 0
  edgeBytesFromParents = 0
  /** Bytes parents received from the origin (releases). */
  originBytes = 0
  chunkTransfers = 0
}

export class Series {
  readonly rows: number[][] = []
}

/** Download times and startup delays, kept as samples (8 bytes each). */
export class Samples {
  private data = new Float64Array(1024)
  n = 0
  add (x: number): void {
    if (this.n === this.data.length) { const d = new Float64Array(this.n * 2); d.set(this.data); this.data = d }
    this.data[this.n++] = x
  }
  sorted (): Float64Array { return this.data.slice(0, this.n).sort() }
}

export interface Distribution {
  count: number
  mean: number
  p50: number
  p90: number
  p99: number
  max: number
}

export function distribution (sorted: Float64Array): Distribution {
  const n = sorted.length
  if (n === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 }
  let sum = 0
  for (let i = 0; i < n; i++) sum += sorted[i]!
  const q = (p: number): number => sorted[Math.min(n - 1, Math.floor(p * n))]!
  return { count: n, mean: sum / n, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: sorted[n - 1]! }
}

/** At most this many points of a CDF go into metrics.json and the report (enough for a smooth curve). */
export const CDF_POINTS = 200

/** The CDF sampled at CDF_POINTS quantiles: [value, fraction] pairs. */
export function cdf (sorted: Float64Array): Array<[number, number]> {
  const n = sorted.length
  if (n === 0) return []
  const out: Array<[number, number]> = []
  const steps = Math.min(CDF_POINTS, n)
  for (let i = 1; i <= steps; i++) {
    const idx = Math.ceil(i * n / steps) - 1
    out.push([sorted[idx]!, (idx + 1) / n])
  }
  return out
}
