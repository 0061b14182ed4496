/**
 * Trace replay runs the eviction classes the edges run: a known request
 * sequence, written by this test as libCacheSim's oracleGeneral binary, as
 * libCacheSim CSV and as plain CSV, replayed by `replayCache`, gives exactly
 * the hits that protocol's policies give when driven directly, request by
 * request. Plus the readers' bounds: malformed input is a TraceError that
 * names the line or the record.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { access, createEvictionPolicy, EVICTION_POLICY_NAMES } from '../../protocol/policy/eviction.ts'
import { Rng, Zipf } from '../../protocol/random.ts'
import { parseCacheSize, replayCache } from './cache.ts'
import { BATCH_REQUESTS, MAX_LINE_BYTES, oracleRecord, parseLibCsvParams, TraceError, TraceReader, type TraceOptions } from './read.ts'

const dir = mkdtempSync(join(tmpdir(), 'reelnet-trace-'))

/** More requests than one batch, so batch boundaries are crossed. */
const REQUESTS = BATCH_REQUESTS * 2 + 1234
const OBJECTS = 3000

interface Req { time: number, id: bigint, size: number }
const rng = new Rng(7)
const zipf = new Zipf(OBJECTS, 0.9)
// ids: some beyond 2^53 (exact only as bigints), sizes 1 KiB to 1 MiB, fixed per object
const ids = Array.from({ length: OBJECTS }, (_, i) => i % 7 === 0 ? (1n << 60n) + BigInt(i) * 1000003n : BigInt(i * 31 + 5))
const sizes = Array.from({ length: OBJECTS }, () => 1024 + Math.floor(rng.next() * (1 << 20)))
const seq: Req[] = Array.from({ length: REQUESTS }, (_, i) => { const o = zipf.sample(rng); return { time: 1000 + Math.floor(i / 10), id: ids[o]!, size: sizes[o]! } })
const workingSet = [...new Set(seq.map(r => r.id))].reduce((a, id) => a + sizes[ids.indexOf(id)]!, 0)

// oracleGeneral: a zero-size record in the middle, which libCacheSim skips
const oracle = join(dir, 'trace.oracleGeneral.bin')
writeFileSync(oracle, Buffer.concat([...seq.slice(0, 100).map(r => oracleRecord(r.time, r.id, r.size)), oracleRecord(1010, 99n, 0), ...seq.slice(100).map(r => oracleRecord(r.time, r.id, r.size))]))
// libCacheSim CSV laid out like its data/trace.csv (version,time,op,size,lbn) with CRLF endings
const libcsv = join(dir, 'trace.libcsv')
writeFileSync(libcsv, 'version,time,op,size,lbn\r\n' + seq.map(r => `1,${r.time},2a,${r.size},${r.id}\r\n`).join(''))
// the same, columns named by the header only
const libcsvByName = join(dir, 'named.libcsv')
writeFileSync(libcsvByName, 'obj_size;clock_time;obj_id\n' + seq.map(r => `${r.size};${r.time};${r.id}`).join('\n'))
// plain CSV, with and without a header, regions and clients in two columns
const plain = join(dir, 'trace.csv')
writeFileSync(plain, 'time,item,size,region,client\n' + seq.map((r, i) => `${r.time},${r.id},${r.size},${i % 3},${i % 50}`).join('\n') + '\n')
const plainBare = join(dir, 'bare.csv')
writeFileSync(plainBare, seq.map(r => `${r.time},${r.id},${r.size}`).join('\n') + '\n')

const files: Array<[string, string, TraceOptions]> = [
  ['oracleGeneral', oracle, { format: 'oracle' }],
  ['libCacheSim CSV with trace parameters', libcsv, { format: 'libcsv', params: 'time-col=2,obj-id-col=5,obj-size-col=4,delimiter=,,has-header=true' }],
  ['libCacheSim CSV, columns by header', libcsvByName, { format: 'libcsv', params: 'delimiter=;' }],
  ['plain CSV with a header', plain, { format: 'csv' }],
  ['plain CSV without a header', plainBare, { format: 'csv' }]
]
const cacheSizes = ['1%', '10%', '8MiB'].map(parseCacheSize)

/** What the policies answer when driven directly with the sequence (keys: the original ids). */
const direct = new Map<string, boolean[]>()
for (const p of EVICTION_POLICY_NAMES) {
  for (const s of cacheSizes) {
    const cap = s.bytes ?? Math.floor(workingSet * s.percent! / 100)
    const policy = createEvictionPolicy<bigint>(p, cap)
    direct.set(`${p} ${s.label}`, seq.map(r => access(policy, r.id, r.size).hit))
  }
}

for (const [name, path, opts] of files) {
  test(`${name}: replay gives exactly the hits of the policy classes driven directly`, () => {
    const reader = new TraceReader(path, opts)
    const got: boolean[][] = []
    const r = replayCache(reader, EVICTION_POLICY_NAMES, cacheSizes, { onAccess: (run, _item, hit) => { (got[run] ??= []).push(hit) } })
    reader.close()
    assert.is(r.requests, REQUESTS)
    assert.is(r.workingSetBytes, workingSet)
    assert.is(r.items, new Set(seq.map(x => x.id)).size)
    assert.is(r.skippedZeroSize, path === oracle ? 1 : 0)
    assert.is(r.passes, 2, 'percent sizes need the working set first')
    r.runs.forEach((run, i) => {
      const want = direct.get(`${run.policy} ${run.size}`)!
      assert.equal(got[i], want, `${run.policy} ${run.size}`)
      const hits = want.filter(Boolean).length
      assert.is(run.hits, hits)
      assert.ok(hits > 0 && hits < REQUESTS, `${run.policy} ${run.size}: some hits, some misses (${hits})`)
      assert.is(run.missRatio, (REQUESTS - hits) / REQUESTS)
      const hitBytes = seq.reduce((a, q, j) => a + (want[j] === true ? q.size : 0), 0)
      assert.is(run.hitBytes, hitBytes)
    })
  })
}

test('plain CSV: region and client columns are read', () => {
  const reader = new TraceReader(plain, { format: 'csv' })
  const b = reader.next()!
  assert.is(b.region[4], 1)
  assert.is(b.client[49], 49)
  reader.close()
  const bare = new TraceReader(plainBare, { format: 'csv' })
  assert.is(bare.next()!.region[0], -1)
  bare.close()
})

test('libCacheSim trace parameters parse, and bad ones are named', () => {
  assert.equal(parseLibCsvParams('time-col=2, obj-id-col=5, obj-size-col=4, delimiter=,, has-header=true'), { time: 1, id: 4, size: 3, delimiter: ',', hasHeader: true })
  assert.equal(parseLibCsvParams('delimiter=\\t'), { delimiter: '\t' })
  assert.throws(() => parseLibCsvParams('time-col=0'), /column number from 1/)
  assert.throws(() => parseLibCsvParams('colour=red'), /unknown trace parameter 'colour'/)
  assert.throws(() => parseLibCsvParams('has-header=maybe'), /true or false/)
  assert.throws(() => parseLibCsvParams('delimiter=,'.repeat(200)), /longer than 1000 characters/)
})

function fails (name: string, content: string | Buffer, opts: TraceOptions, pattern: RegExp): void {
  const p = join(dir, name)
  writeFileSync(p, content)
  assert.throws(() => {
    const r = new TraceReader(p, opts)
    try { while (r.next() !== null) { /* read it all */ } } finally { r.close() }
  }, (e: Error) => e instanceof TraceError && pattern.test(e.message), `${name}: ${pattern}`)
}

test('bad traces are TraceErrors naming the problem', () => {
  fails('short.oracleGeneral', Buffer.alloc(ORACLE_BAD_LENGTH), { format: 'oracle' }, /not a whole number of 24-byte/)
  fails('zst.oracleGeneral', Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]), { format: 'oracle' }, /zstd-compressed/)
  fails('neg.csv', '1,a,100\n2,b,-5\n', { format: 'csv' }, /line 2: size '-5'/)
  fails('huge.csv', `1,a,${2 ** 41}\n`, { format: 'csv' }, /up to 2\^40/)
  fails('time.csv', '1,a,100\nnoon,b,5\n', { format: 'csv' }, /line 2: time 'noon'/)
  fails('few.csv', '1,a\n', { format: 'csv' }, /2 fields, need at least 3/)
  fails('many.csv', '1,a,3,0,0,9\n', { format: 'csv' }, /time,item,size\[,region\]\[,client\]/)
  fails('region.csv', '1,a,3,x\n', { format: 'csv' }, /region 'x'/)
  fails('long.csv', 'x'.repeat(MAX_LINE_BYTES * 3), { format: 'csv' }, /longer than 4096 bytes/)
  fails('noheader.libcsv', 'alpha,beta,gamma\n1,2,3\n', { format: 'libcsv' }, /names no time column/)
  assert.throws(() => new TraceReader(join(dir, 'absent.csv'), { format: 'csv' }), /cannot open .*ENOENT/)
})

test('cache sizes: bytes, units and percentages; bad ones are clear', () => {
  assert.equal(parseCacheSize('409600'), { label: '409600', bytes: 409600 })
  assert.equal(parseCacheSize('64MiB'), { label: '64MiB', bytes: 64 << 20 })
  assert.equal(parseCacheSize('2GB'), { label: '2GB', bytes: 2e9 })
  assert.equal(parseCacheSize('0.1%'), { label: '0.1%', percent: 0.1 })
  assert.throws(() => parseCacheSize('150%'), /at most 100/)
  assert.throws(() => parseCacheSize('0'), /at least 1 byte/)
  assert.throws(() => parseCacheSize('lots'), /is not bytes/)
  assert.throws(() => parseCacheSize('9PB'), /is not bytes/)
})

/** Not a multiple of the record size. */
const ORACLE_BAD_LENGTH = 24 * 3 + 5

test.after(() => { rmSync(dir, { recursive: true, force: true }) })

test.run()
