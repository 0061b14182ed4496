/**
 * `reelnet sim cache TRACE [--policy ...] [--size ...] [--out DIR]`: a trace
 * replayed, streamed, through protocol's eviction classes; the miss-ratio
 * table on stdout, mrc.csv and mrc.html in DIR. See `reelnet sim --help`.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CommandError, parseFlags, UsageError } from '../command.ts'
import { EVICTION_POLICY_NAMES, isEvictionPolicyName, type EvictionPolicyName } from '../../protocol/policy/eviction.ts'
import { CacheSizeError, MAX_CACHE_RUNS, parseCacheSize, replayCache, type CacheSize } from '../../sim/trace/cache.ts'
import { formatFromName, TRACE_FORMATS, TraceError, TraceReader, type TraceFormat } from '../../sim/trace/read.ts'
import { cacheCsv, cacheHtml, cacheTable } from '../../sim/trace/report.ts'
import { ensureWritable } from './sim.ts'

/** Longest --policy or --size list text read (a list of a few dozen short names). */
const MAX_LIST_CHARS = 1000
const DEFAULT_SIZES = '0.1%,1%,10%'
/** Progress on stderr at most this often (only on a terminal). */
const PROGRESS_EVERY_MS = 500

function list (flag: string, text: string): string[] {
  if (text.length > MAX_LIST_CHARS) throw new UsageError(`--${flag} is longer than ${MAX_LIST_CHARS} characters`)
  const parts = text.split(',').map(s => s.trim())
  if (parts.some(p => p === '')) throw new UsageError(`--${flag} has an empty entry: '${text}'`)
  return parts
}

export async function runCache (argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    policy: { type: 'string', short: 'p' },
    size: { type: 'string', short: 'z' },
    format: { type: 'string', short: 'f' },
    'trace-params': { type: 'string', short: 't' },
    out: { type: 'string', short: 'o' },
    quiet: { type: 'boolean', short: 'q' }
  }, true)
  if (positionals.length !== 1) throw new UsageError('give exactly one trace file: reelnet sim cache TRACE (see reelnet sim --help)')
  const file = positionals[0]!
  const policies: EvictionPolicyName[] = []
  for (const p of list('policy', values.policy ?? EVICTION_POLICY_NAMES.join(','))) {
    if (!isEvictionPolicyName(p)) throw new UsageError(`--policy: unknown policy '${p}' (have ${EVICTION_POLICY_NAMES.join(', ')})`)
    if (!policies.includes(p)) policies.push(p)
  }
  let sizes: CacheSize[]
  try {
    sizes = list('size', values.size ?? DEFAULT_SIZES).map(parseCacheSize)
  } catch (err) {
    if (err instanceof CacheSizeError) throw new UsageError(`--size: ${err.message}`)
    throw err
  }
  if (policies.length * sizes.length > MAX_CACHE_RUNS) throw new UsageError(`${policies.length} policies × ${sizes.length} sizes is more than ${MAX_CACHE_RUNS} caches; split the run`)
  let format: TraceFormat | null = null
  if (values.format !== undefined) {
    if (!(TRACE_FORMATS as readonly string[]).includes(values.format)) throw new UsageError(`--format must be one of ${TRACE_FORMATS.join(', ')}, got '${values.format}'`)
    format = values.format as TraceFormat
  } else format = values['trace-params'] !== undefined ? 'libcsv' : formatFromName(file)
  if (format === null) throw new UsageError(`cannot tell the format of ${file} from its name; give --format ${TRACE_FORMATS.join('|')}`)
  const out = values.out === undefined ? null : ensureWritable(values.out, values.out)

  const showProgress = values.quiet !== true && process.stderr.isTTY === true
  let last = 0
  const onProgress = showProgress
    ? (n: number): void => {
        const now = performance.now()
        if (now - last < PROGRESS_EVERY_MS) return
        last = now
        process.stderr.write(`\r${n.toLocaleString('en')} requests read`)
      }
    : undefined
  const started = performance.now()
  let reader: TraceReader | undefined
  let result
  try {
    reader = new TraceReader(file, { format, params: values['trace-params'] })
    result = replayCache(reader, policies, sizes, { onProgress })
  } catch (err) {
    if (err instanceof TraceError || err instanceof CacheSizeError) throw new CommandError(err.message)
    throw err
  } finally {
    reader?.close()
    if (showProgress) process.stderr.write('\r\x1b[K')
  }
  const wall = (performance.now() - started) / 1000
  if (result.requests === 0) throw new CommandError(`${file} holds no requests`)
  const rss = process.resourceUsage().maxRSS / 1024
  console.log(`${file}: ${result.requests.toLocaleString('en')} requests, ${result.items.toLocaleString('en')} distinct objects, working set ${(result.workingSetBytes / 2 ** 20).toFixed(1)} MiB${result.skippedZeroSize > 0 ? `, ${result.skippedZeroSize.toLocaleString('en')} zero-size requests skipped` : ''}`)
  console.log(cacheTable(result))
  console.log(`${result.passes} pass${result.passes > 1 ? 'es' : ''} over the trace in ${wall.toFixed(1)} s (${Math.round(result.requests * result.passes / wall).toLocaleString('en')} requests/s read, ${result.runs.length} caches), peak RSS ${rss.toFixed(0)} MiB`)
  if (out !== null) {
    try {
      writeFileSync(join(out, 'mrc.csv'), cacheCsv(result))
      writeFileSync(join(out, 'mrc.html'), cacheHtml(file.split('/').pop() ?? file, result))
    } catch (err) {
      throw new CommandError(`cannot write results to ${values.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    console.log(`wrote mrc.csv, mrc.html to ${values.out}`)
  }
  return 0
}
