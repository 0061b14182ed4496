/**
 * What the user sees while a download runs: a bar on a terminal (bytes,
 * rate, ETA, bytes per source kind), one JSON object per line for scripts
 * (`--json`), plain lines when stderr is not a terminal, or nothing
 * (`--quiet`). The rate is measured over a sliding window so it follows the
 * network, not the average since start.
 */
import cliProgress from 'cli-progress'
import type { DownloadStats, SchedulerEvent } from '../download/stats.ts'

export type ProgressMode = 'bar' | 'json' | 'lines' | 'quiet'

/** The rate shown is over about this much recent time. */
export const RATE_WINDOW_MS = 3_000
/** How often progress is drawn or printed. */
export const PROGRESS_INTERVAL_MS = 250
/** Plain (non-terminal) progress lines come at most this often. */
export const LINES_INTERVAL_MS = 2_000

const MIB = 1024 * 1024

export interface ProgressOptions {
  mode: ProgressMode
  label: string
  /** Where the bar and lines go (stderr by default); JSON goes to `out` (stdout by default). */
  err?: NodeJS.WritableStream
  out?: NodeJS.WritableStream
  stats: () => DownloadStats
}

export function chooseMode (flags: { json?: boolean, quiet?: boolean }, isTTY: boolean): ProgressMode {
  if (flags.json === true) return 'json'
  if (flags.quiet === true) return 'quiet'
  return isTTY ? 'bar' : 'lines'
}

export function mib (bytes: number): string {
  return (bytes / MIB).toFixed(1)
}

export class Progress {
  private readonly opts: ProgressOptions
  private readonly samples: Array<{ t: number, bytes: number }> = []
  private bar: cliProgress.SingleBar | undefined
  private timer: NodeJS.Timeout | undefined
  private lastLineAt = 0
  private readonly startedAt = performance.now()

  constructor (opts: ProgressOptions) {
    this.opts = opts
  }

  start (): void {
    const s = this.opts.stats()
    if (this.opts.mode === 'bar') {
      this.bar = new cliProgress.SingleBar({
        format: `${this.opts.label} {bar} {percentage}% {doneMiB}/{totalMiB} MiB {rate} MiB/s ETA {eta_formatted} | edge {edge} parent {parent} peer {peer} MiB`,
        stream: (this.opts.err ?? process.stderr) as NodeJS.WriteStream,
        hideCursor: true,
        etaBuffer: 40,
        barsize: 24
      }, cliProgress.Presets.shades_classic)
      this.bar.start(s.totalBytes, s.doneBytes, this.payload(s))
    }
    this.timer = setInterval(() => { this.draw() }, PROGRESS_INTERVAL_MS)
    this.timer.unref()
  }

  /** Notable events: printed as they happen (bad chunks, dropped sources, new directives). */
  event (e: SchedulerEvent): void {
    if (e.type === 'chunk') return
    if (this.opts.mode === 'json') { this.json({ ...e }); return }
    if (this.opts.mode === 'quiet') return
    const line = e.type === 'bad-chunk'
      ? `bad chunk ${e.index} from ${e.kind} ${short(e.source)} (strike ${e.strikes})`
      : e.type === 'drop'
        ? `dropped ${e.kind} ${short(e.source)}: ${e.reason}`
        : e.type === 'failure'
          ? `${e.kind} ${short(e.source)} failed: ${e.error}`
          : `new directive (${e.reason}): ${e.added} new source(s)`
    if (this.bar !== undefined) this.bar.updateETA()
    ;(this.opts.err ?? process.stderr).write(`${this.bar !== undefined ? '\n' : ''}${line}\n`)
  }

  rate (): number {
    const now = performance.now()
    const s = this.opts.stats()
    this.samples.push({ t: now, bytes: s.doneBytes })
    while (this.samples.length > 2 && now - (this.samples[0] as { t: number }).t > RATE_WINDOW_MS) this.samples.shift()
    const first = this.samples[0] as { t: number, bytes: number }
    const dt = (now - first.t) / 1000
    return dt > 0 ? (s.doneBytes - first.bytes) / dt : 0
  }

  /** The bar's fields. Not `total` or `value`: cli-progress fills those itself with the raw byte counts (the bar once read `98.0/209715200 MiB`). */
  private payload (s: DownloadStats, rate = 0): Record<string, string> {
    return {
      doneMiB: mib(s.doneBytes),
      totalMiB: mib(s.totalBytes),
      rate: mib(rate),
      edge: mib(s.byKind.edge),
      parent: mib(s.byKind.parent),
      peer: mib(s.byKind.peer)
    }
  }

  private draw (): void {
    const s = this.opts.stats()
    const rate = this.rate()
    if (this.bar !== undefined) {
      this.bar.update(s.doneBytes, this.payload(s, rate))
    } else if (this.opts.mode === 'json') {
      this.json({ type: 'progress', doneBytes: s.doneBytes, totalBytes: s.totalBytes, rate: Math.round(rate), etaSeconds: eta(s, rate), byKind: s.byKind })
    } else if (this.opts.mode === 'lines') {
      const now = performance.now()
      if (now - this.lastLineAt < LINES_INTERVAL_MS) return
      this.lastLineAt = now
      const pct = s.totalBytes === 0 ? 100 : Math.floor(100 * s.doneBytes / s.totalBytes)
      ;(this.opts.err ?? process.stderr).write(`${this.opts.label} ${pct}% ${mib(s.doneBytes)}/${mib(s.totalBytes)} MiB ${mib(rate)} MiB/s ETA ${eta(s, rate) ?? '?'}s | edge ${mib(s.byKind.edge)} parent ${mib(s.byKind.parent)} peer ${mib(s.byKind.peer)} MiB\n`)
    }
  }

  /** Stop drawing; `final` prints the closing summary. */
  stop (final?: { ok: boolean, message?: string }): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    const s = this.opts.stats()
    if (this.bar !== undefined) {
      this.bar.update(s.doneBytes, this.payload(s, this.rate()))
      this.bar.stop()
      this.bar = undefined
    }
    if (final === undefined) return
    const secs = (performance.now() - this.startedAt) / 1000
    const avg = secs > 0 ? (s.doneBytes - s.resumedBytes) / secs : 0
    if (this.opts.mode === 'json') {
      this.json({ type: final.ok ? 'done' : 'error', message: final.message, seconds: round(secs), ...s })
    } else if (this.opts.mode !== 'quiet' && final.ok) {
      const used = s.sources.filter(x => x.bytes > 0).length
      const penalised = s.sources.filter(x => x.badChunks > 0).map(x => `${x.kind} ${short(x.id)} (${x.badChunks} bad${x.dropped !== false ? ', dropped' : ''})`)
      ;(this.opts.err ?? process.stderr).write(
        `${this.opts.label}: ${mib(s.doneBytes - s.resumedBytes)} MiB in ${secs.toFixed(1)} s (${mib(avg)} MiB/s) from ${used} source(s): ` +
        `edge ${mib(s.byKind.edge)}, parent ${mib(s.byKind.parent)}, peer ${mib(s.byKind.peer)} MiB` +
        (s.resumedChunks > 0 ? `, ${s.resumedChunks} chunk(s) resumed` : '') +
        (penalised.length > 0 ? `; penalised: ${penalised.join(', ')}` : '') + '\n')
    }
  }

  json (obj: Record<string, unknown>): void {
    (this.opts.out ?? process.stdout).write(JSON.stringify(obj) + '\n')
  }
}

function eta (s: DownloadStats, rate: number): number | null {
  if (rate <= 0) return null
  return Math.round((s.totalBytes - s.doneBytes) / rate)
}

function round (n: number): number { return Math.round(n * 1000) / 1000 }

export function short (peerId: string): string {
  return peerId.length > 12 ? `…${peerId.slice(-8)}` : peerId
}
