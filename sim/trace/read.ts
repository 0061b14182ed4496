/**
 * Request traces, streamed: a trace file is read a block at a time and
 * handed out in batches of typed arrays, never loaded whole, so a 10^8-
 * request trace needs memory for its distinct objects (one map entry and
 * one size each) and nothing per request.
 *
 * Three formats:
 * - `oracle`: libCacheSim's oracleGeneral binary, 24 bytes per request,
 *   little-endian `{uint32 time; uint64 objId; uint32 size; int64 nextAccessVtime}`
 *   (libCacheSim's traceReader/customizedReader/oracleGeneralBin.h). As in
 *   libCacheSim, requests of size 0 are skipped.
 * - `libcsv`: libCacheSim's CSV reader, columns chosen by its trace
 *   parameters (`time-col=2,obj-id-col=5,obj-size-col=4,delimiter=,,has-header=true`,
 *   columns counted from 1), or found by name from a header line.
 * - `csv`: plain `time,item,size[,region][,client]`, a header line optional.
 *
 * Object ids become dense item numbers 0, 1, 2, ... in order of first
 * appearance; the reader keeps each item's size at first appearance (the
 * working set is their sum).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'

export type TraceFormat = 'oracle' | 'libcsv' | 'csv'
export const TRACE_FORMATS: readonly TraceFormat[] = ['oracle', 'libcsv', 'csv']

/** One oracleGeneral record: 4 + 8 + 4 + 8 bytes. */
export const ORACLE_RECORD_BYTES = 24
/** Bytes read per system call: large enough that the call's cost vanishes, small enough to stay in cache. */
export const READ_BLOCK_BYTES = 1 << 20
/** Requests handed out per batch. */
export const BATCH_REQUESTS = 1 << 14
/**
 * Distinct objects a trace may have: V8's Map holds at most 2^24 entries,
 * and the id map is one; beyond it the reader stops with a clear error.
 */
export const MAX_TRACE_ITEMS = (1 << 24) - 1
/** A CSV line longer than this is not a trace line (a binary file read as CSV, or no line breaks). */
export const MAX_LINE_BYTES = 4096
/** Largest object size accepted from a CSV trace (1 TiB): a bigger one is a unit or parsing mistake. */
export const MAX_OBJECT_BYTES = 2 ** 40
/** A CSV object id longer than this is rejected (ids are keys, kept in memory once per object). */
export const MAX_ID_CHARS = 256
/** Regions and clients named by a plain CSV trace are indices below this. */
export const MAX_TRACE_INDEX = 1 << 24
/** Longest trace-parameters text: a handful of key=value pairs. */
export const MAX_PARAMS_CHARS = 1000
/** Times beyond this (seconds, or the trace's unit) are rejected: far past any trace, and exact as doubles. */
export const MAX_TRACE_TIME = 2 ** 52

export class TraceError extends Error {
  name = 'TraceError'
}

/** Which columns of a CSV line hold what (0-based), and how lines are split. */
export interface CsvLayout {
  time: number
  id: number
  size: number
  /** -1: not in the trace. */
  region: number
  client: number
  delimiter: string
  /** true: the first line is a header; null: decide from the first line (a header if its time field is not a number). */
  hasHeader: boolean | null
}

export interface TraceOptions {
  format: TraceFormat
  /** libcsv only: libCacheSim's trace parameters string. */
  params?: string
}

/** A batch of requests: the first `n` entries of each array are valid. */
export interface TraceBatch {
  n: number
  time: Float64Array
  item: Int32Array
  size: Float64Array
  /** -1 where the trace names none. */
  region: Int32Array
  client: Int32Array
}

const PLAIN_LAYOUT: CsvLayout = { time: 0, id: 1, size: 2, region: 3, client: 4, delimiter: ',', hasHeader: null }

const HEADER_NAMES: Record<'time' | 'id' | 'size', readonly string[]> = {
  time: ['time', 'clock_time', 'real_time', 'timestamp', 'ts'],
  id: ['obj_id', 'id', 'item', 'key', 'object', 'obj', 'lbn', 'lba'],
  size: ['obj_size', 'size', 'bytes', 'object_size']
}

/**
 * Parse libCacheSim's CSV trace parameters, e.g.
 * `time-col=2,obj-id-col=5,obj-size-col=4,delimiter=,,has-header=true`.
 * Unknown keys are errors, so a misspelt one never falls back to a default.
 */
export function parseLibCsvParams (text: string): Partial<CsvLayout> {
  if (text.length > MAX_PARAMS_CHARS) throw new TraceError(`trace parameters are longer than ${MAX_PARAMS_CHARS} characters`)
  const out: Partial<CsvLayout> = {}
  const re = /\s*([a-z-]+)\s*=\s*(.*?)\s*(?:,(?=\s*[a-z-]+\s*=)|$)/gy
  let m: RegExpExecArray | null
  let consumed = 0
  while (consumed < text.length && (m = re.exec(text)) !== null) {
    consumed = re.lastIndex
    const key = m[1]!; const value = m[2]!
    const col = (): number => {
      if (!/^\d{1,3}$/.test(value) || Number(value) < 1) throw new TraceError(`trace parameter ${key} must be a column number from 1, got '${value}'`)
      return Number(value) - 1
    }
    switch (key) {
      case 'time-col': out.time = col(); break
      case 'obj-id-col': out.id = col(); break
      case 'obj-size-col': out.size = col(); break
      case 'delimiter': {
        const d = value === '\\t' || value === 'tab' ? '\t' : value
        if (d.length !== 1) throw new TraceError(`trace parameter delimiter must be one character, got '${value}'`)
        out.delimiter = d
        break
      }
      case 'has-header':
        if (value !== 'true' && value !== 'false') throw new TraceError(`trace parameter has-header must be true or false, got '${value}'`)
        out.hasHeader = value === 'true'
        break
      // libCacheSim's obj-id-is-num only says how it hashes ids; ids here are exact strings either way
      case 'obj-id-is-num': break
      default: throw new TraceError(`unknown trace parameter '${key}' (known: time-col, obj-id-col, obj-size-col, delimiter, has-header, obj-id-is-num)`)
    }
    if (re.lastIndex === m.index) break
  }
  if (consumed < text.trim().length) throw new TraceError(`cannot parse trace parameters '${text}' (expected key=value pairs such as time-col=1,obj-id-col=2,obj-size-col=3)`)
  return out
}

/**
 * The format a file name suggests, or null: libCacheSim names its binary
 * traces `*.oracleGeneral*`.
 */
export function formatFromName (path: string): TraceFormat | null {
  const base = path.split('/').pop() ?? path
  if (/oracleGeneral/i.test(base) || /\.bin$/i.test(base)) return 'oracle'
  if (/\.csv$/i.test(base)) return 'csv'
  return null
}

/**
 * A trace file opened for streaming. `next()` returns the next batch (the
 * same arrays each time) or null at the end; `rewind()` starts again with
 * the same item numbering. Throws TraceError naming the line or record of
 * the first bad input.
 */
export class TraceReader {
  readonly path: string
  readonly format: TraceFormat
  readonly fileBytes: number
  /** Dense item number → its size at first appearance (grown as items appear). */
  itemSize = new Float64Array(1024)
  /** Distinct items seen so far (after a whole pass: in the trace). */
  items = 0
  /** Requests handed out in this pass, and zero-size requests skipped. */
  requests = 0
  skippedZeroSize = 0
  private readonly ids = new Map<string | number | bigint, number>()
  private readonly fd: number
  private readonly buf = Buffer.allocUnsafe(READ_BLOCK_BYTES)
  private readonly batch: TraceBatch
  private pos = 0
  /** Bytes of buf holding unread data, from `start`. */
  private start = 0
  private end = 0
  private eof = false
  private line = 0
  private layout: CsvLayout
  private headerDone = false
  /** libcsv without column parameters: a header line names the columns. */
  private columnsByName = false
  private readonly decoder = new TextDecoder('utf-8', { fatal: false })

  constructor (path: string, opts: TraceOptions) {
    this.path = path
    this.format = opts.format
    try {
      this.fd = openSync(path, 'r')
    } catch (err) {
      throw new TraceError(`cannot open ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    const st = fstatSync(this.fd)
    if (!st.isFile()) { closeSync(this.fd); throw new TraceError(`${path} is not a regular file`) }
    this.fileBytes = st.size
    const head = Buffer.alloc(4)
    readSync(this.fd, head, 0, 4, 0)
    if (head.readUInt32LE(0) === 0xfd2fb528) { closeSync(this.fd); throw new TraceError(`${path} is zstd-compressed; decompress it first (zstd -d)`) }
    if (this.format === 'oracle' && st.size % ORACLE_RECORD_BYTES !== 0) {
      closeSync(this.fd)
      throw new TraceError(`${path} is ${st.size} bytes, not a whole number of ${ORACLE_RECORD_BYTES}-byte oracleGeneral records`)
    }
    if (this.format === 'libcsv') {
      const p = parseLibCsvParams(opts.params ?? '')
      const explicit = p.time !== undefined || p.id !== undefined || p.size !== undefined
      this.layout = { time: p.time ?? 0, id: p.id ?? 1, size: p.size ?? 2, region: -1, client: -1, delimiter: p.delimiter ?? ',', hasHeader: p.hasHeader ?? null }
      this.columnsByName = !explicit
    } else {
      if (opts.params !== undefined && opts.params !== '') { closeSync(this.fd); throw new TraceError('trace parameters apply to the libcsv format only') }
      this.layout = { ...PLAIN_LAYOUT }
    }
    const n = BATCH_REQUESTS
    this.batch = { n: 0, time: new Float64Array(n), item: new Int32Array(n), size: new Float64Array(n), region: new Int32Array(n), client: new Int32Array(n) }
  }

  close (): void {
    closeSync(this.fd)
  }

  /** Start again from the first request; item numbers stay as assigned. */
  rewind (): void {
    this.pos = 0; this.start = 0; this.end = 0; this.eof = false; this.line = 0
    this.requests = 0; this.skippedZeroSize = 0
    this.headerDone = false
  }

  private fill (): void {
    // keep the unread tail, then read after it
    if (this.start > 0) {
      this.buf.copy(this.buf, 0, this.start, this.end)
      this.end -= this.start
      this.start = 0
    }
    const n = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, this.pos)
    this.pos += n
    this.end += n
    if (n === 0) this.eof = true
  }

  private itemOf (key: string | number | bigint, size: number): number {
    let it = this.ids.get(key)
    if (it === undefined) {
      if (this.items >= MAX_TRACE_ITEMS) throw new TraceError(`${this.path}: more than ${MAX_TRACE_ITEMS} distinct objects (the most one run can index)`)
      it = this.items++
      this.ids.set(key, it)
      if (it >= this.itemSize.length) {
        const grown = new Float64Array(this.itemSize.length * 2)
        grown.set(this.itemSize)
        this.itemSize = grown
      }
      this.itemSize[it] = size
    }
    return it
  }

  next (): TraceBatch | null {
    const b = this.batch
    b.n = 0
    if (this.format === 'oracle') this.nextOracle(b)
    else this.nextCsv(b)
    this.requests += b.n
    return b.n === 0 ? null : b
  }

  private nextOracle (b: TraceBatch): void {
    const buf = this.buf
    while (b.n < BATCH_REQUESTS) {
      if (this.end - this.start < ORACLE_RECORD_BYTES) {
        if (this.eof) return
        this.fill()
        continue
      }
      const o = this.start
      this.start += ORACLE_RECORD_BYTES
      const size = buf.readUInt32LE(o + 12)
      if (size === 0) { this.skippedZeroSize++; continue }
      const lo = buf.readUInt32LE(o + 4); const hi = buf.readUInt32LE(o + 8)
      // ids below 2^53 are exact as numbers (cheaper keys); above, a bigint keeps them distinct
      const key: number | bigint = hi < 0x200000 ? hi * 0x100000000 + lo : buf.readBigUInt64LE(o + 4)
      const i = b.n++
      b.time[i] = buf.readUInt32LE(o)
      b.item[i] = this.itemOf(key, size)
      b.size[i] = size
      b.region[i] = -1
      b.client[i] = -1
    }
  }

  private where (): string {
    return `${this.path} line ${this.line}`
  }

  private nextCsv (b: TraceBatch): void {
    const buf = this.buf
    while (b.n < BATCH_REQUESTS) {
      let nl = buf.indexOf(10, this.start)
      if (nl < 0 || nl >= this.end) {
        if (this.end - this.start > MAX_LINE_BYTES) throw new TraceError(`${this.path} line ${this.line + 1} is longer than ${MAX_LINE_BYTES} bytes; is this a CSV trace?`)
        if (!this.eof) { this.fill(); continue }
        if (this.start >= this.end) return
        nl = this.end // the last line has no line break
      }
      if (nl - this.start > MAX_LINE_BYTES) throw new TraceError(`${this.path} line ${this.line + 1} is longer than ${MAX_LINE_BYTES} bytes; is this a CSV trace?`)
      let text = this.decoder.decode(buf.subarray(this.start, nl))
      this.start = Math.min(nl + 1, this.end)
      this.line++
      if (text.endsWith('\r')) text = text.slice(0, -1)
      if (text.trim() === '' || text.startsWith('#')) continue
      const f = text.split(this.layout.delimiter)
      if (!this.headerDone) {
        this.headerDone = true
        if (this.header(f)) continue
      }
      this.csvLine(b, f)
    }
  }

  /** Handles the first line: true if it was a header (and takes column names from it where allowed). */
  private header (f: string[]): boolean {
    const L = this.layout
    const numeric = /^\s*[-+]?\.?\d/.test(f[L.time] ?? '')
    const isHeader = L.hasHeader ?? !numeric
    if (!isHeader) return false
    if (this.columnsByName) {
      // columns by name: the header chose them
      const names = f.map(s => s.trim().toLowerCase())
      for (const k of ['time', 'id', 'size'] as const) {
        const i = names.findIndex(n => HEADER_NAMES[k].includes(n))
        if (i < 0) throw new TraceError(`${this.where()}: the header names no ${k} column (looked for ${HEADER_NAMES[k].join(', ')}); give --trace-params time-col=N,obj-id-col=N,obj-size-col=N`)
        L[k] = i
      }
    }
    return true
  }

  private csvLine (b: TraceBatch, f: string[]): void {
    const L = this.layout
    const need = Math.max(L.time, L.id, L.size) + 1
    if (f.length < need) throw new TraceError(`${this.where()}: ${f.length} fields, need at least ${need}`)
    if (this.format === 'csv' && f.length > 5) throw new TraceError(`${this.where()}: ${f.length} fields; a plain CSV trace has time,item,size[,region][,client]`)
    const timeText = f[L.time]!.trim()
    const time = Number(timeText)
    if (timeText === '' || !Number.isFinite(time) || Math.abs(time) > MAX_TRACE_TIME) throw new TraceError(`${this.where()}: time '${timeText}' is not a number within ±2^52`)
    const sizeText = f[L.size]!.trim()
    const size = Number(sizeText)
    if (!/^\d+$/.test(sizeText) || size > MAX_OBJECT_BYTES) throw new TraceError(`${this.where()}: size '${sizeText}' is not a whole number of bytes up to 2^40`)
    if (size === 0) { this.skippedZeroSize++; return }
    const id = f[L.id]!.trim()
    if (id === '' || id.length > MAX_ID_CHARS) throw new TraceError(`${this.where()}: object id must be 1 to ${MAX_ID_CHARS} characters`)
    const i = b.n++
    b.time[i] = time
    b.item[i] = this.itemOf(id, size)
    b.size[i] = size
    b.region[i] = this.index(f, L.region, 'region')
    b.client[i] = this.index(f, L.client, 'client')
  }

  private index (f: string[], col: number, what: string): number {
    if (col < 0 || col >= f.length) return -1
    const t = f[col]!.trim()
    if (t === '') return -1
    if (!/^\d{1,8}$/.test(t) || Number(t) >= MAX_TRACE_INDEX) throw new TraceError(`${this.where()}: ${what} '${t}' is not an index from 0 to ${MAX_TRACE_INDEX - 1}`)
    return Number(t)
  }
}

/** Writers for tests and for the generated bench traces: the same formats, from arrays. */
export function oracleRecord (time: number, id: bigint | number, size: number, nextAccess: bigint | number = -1): Buffer {
  const b = Buffer.alloc(ORACLE_RECORD_BYTES)
  b.writeUInt32LE(time, 0)
  b.writeBigUInt64LE(BigInt(id), 4)
  b.writeUInt32LE(size, 12)
  b.writeBigInt64LE(BigInt(nextAccess), 16)
  return b
}
