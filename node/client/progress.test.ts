import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { PassThrough } from 'node:stream'
import { Progress } from './progress.ts'
import type { DownloadStats } from '../download/stats.ts'

const MiB = 1024 * 1024

function stats (done: number, total: number): DownloadStats {
  return {
    totalBytes: total, doneBytes: done, doneChunks: Math.floor(done / MiB), chunkCount: Math.ceil(total / MiB),
    byKind: { edge: done, parent: 0, peer: 0, origin: 0 }, receivedBytes: done, wastedBytes: 0, resumedChunks: 0, resumedBytes: 0, sources: []
  } as unknown as DownloadStats
}

/** A stream that looks like a terminal to cli-progress and keeps what it was sent. */
function terminal (): { stream: PassThrough, text: () => string } {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (d: Buffer) => { text += d.toString() })
  Object.assign(stream, { isTTY: true, columns: 200, rows: 40, cursorTo: () => true, clearLine: () => true, moveCursor: () => true })
  return { stream, text: () => text }
}

test('the progress bar on a terminal shows done and total both in MiB', () => {
  const t = terminal()
  const p = new Progress({ mode: 'bar', label: 'film.mp4', err: t.stream, stats: () => stats(98 * MiB, 200 * MiB) })
  p.start()
  p.stop()
  const shown = t.text().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
  assert.match(shown, /49% 98\.0\/200\.0 MiB /)
  assert.not.match(shown, /209715200/)
})

test('plain progress lines (not a terminal) show MiB of MiB too', async () => {
  const out = new PassThrough()
  let text = ''
  out.on('data', (d: Buffer) => { text += d.toString() })
  const p = new Progress({ mode: 'lines', label: 'film.mp4', err: out, stats: () => stats(98 * MiB, 200 * MiB) })
  p.start()
  const until = Date.now() + 10_000
  while (text === '' && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 50))
  p.stop()
  assert.match(text, /^film\.mp4 49% 98\.0\/200\.0 MiB /)
})

test.run()
