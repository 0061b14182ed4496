/**
 * Runs every uvu suite (`*.test.ts` under the source folders) in its own
 * process and prints one closing line built from the real counts:
 * `N passed, N failed`. The client's network suite runs first, alone; then
 * two lanes run side by side: the other network suites (many processes
 * each, timing-sensitive) one after another, longest first, and beside them
 * the type-check, the small end-to-end suites and every unit suite in one
 * batch process — never two networks competing for the two cores. A suite that crashes before reporting counts
 * is one failure, so a broken file can never pass silently.
 */
import './require-node.ts'
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { build, stop as stopEsbuild } from 'esbuild'

const ROOTS = ['protocol', 'main', 'node', 'sim', 'cli', 'test']
/**
 * Kill a suite that runs longer than this. The whole run should stay under 15 minutes; on a loaded CI machine a
 * network suite has taken 7 minutes, and a suite killed there is a failure, not a saving.
 */
const SUITE_TIMEOUT_MS = 12 * 60_000
/**
 * Once uvu has printed its summary, a suite has this long to exit; a process
 * it left behind (a spawned server that was never stopped) must not hold the
 * whole run hostage. The suite's process group is killed after it.
 */
const EXIT_GRACE_MS = 10_000

function findSuites (dir: string, out: string[]): void {
  let entries: string[]
  try { entries = readdirSync(dir) } catch { return }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) findSuites(path, out)
    else if (name.endsWith('.test.ts')) out.push(path)
  }
}

const USAGE = `usage: node --import tsx test/run.ts [--only TEXT] [FILTER...]
  Type-checks and runs every suite (*.test.ts under ${ROOTS.join(', ')}); its last line is \`N passed, N failed\`.
  FILTER...    only the suites whose path contains one of these
  --only TEXT  only the suites whose path contains TEXT (with FILTERs: and one of them)
               With either, the type-check is left out.
  -h, --help   print this
  VERBOSE=1 in the environment prints every suite's output, passed or failed.`

/**
 * The command line, read before anything is built: an unknown flag is refused with the usage. It used to count as
 * no filter at all, and a mistyped `--onyl net` started the whole suite (up to 15 minutes of the shared machine).
 */
const OPTIONS = { only: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const
const parse = (argv: string[]) => parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true })
function readArgs (argv: string[]): { only?: string, filters: string[] } {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (err) {
    const e = err as Error & { code?: string }
    const flag = /'(-[^' ]*)/.exec(e.message)?.[1] ?? ''
    const why = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
      ? `unknown option ${flag}`
      : e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ? '--only needs the TEXT a suite\'s path must contain (--only=TEXT for one starting with -)' : e.message
    console.error(`test/run.ts: ${why}\n${USAGE.split('\n')[0]!}\n(--help for what each does)`)
    process.exit(2)
  }
  if (parsed.values.help === true) {
    console.log(USAGE)
    process.exit(0)
  }
  const only = parsed.values.only
  if (only === '' || parsed.positionals.includes('')) {
    console.error(`test/run.ts: an empty filter matches every suite; leave it out to run them all\n${USAGE.split('\n')[0]!}`)
    process.exit(2)
  }
  return { only, filters: parsed.positionals }
}

const { only, filters } = readArgs(process.argv.slice(2))
const suites: string[] = []
for (const root of ROOTS) findSuites(root, suites)
suites.sort()
const selected = suites.filter(s =>
  (only === undefined || s.includes(only)) && (filters.length === 0 || filters.some(f => s.includes(f))))
if (selected.length === 0) {
  const asked = [...(only === undefined ? [] : [`--only ${only}`]), ...(filters.length === 0 ? [] : [`FILTER ${filters.join(' ')}`])]
  console.error(`test/run.ts: no suite matches ${asked.join(' and ')}`)
  process.exit(1)
}

/**
 * The suites start `reelnet` as a process about a hundred times. Through tsx each start spends seconds loading
 * and transforming our TypeScript and resolving some 600 package files before main() runs. So the run bundles
 * cli/main.ts once with esbuild (the transform tsx itself uses) into .build/ (gitignored; one level below the
 * root, as the sources' `../package.json` expects), packages included except those that find files of their
 * own at run time (classic-level's native binding, pino's worker transports), and hands the path to every suite
 * in REELNET_BIN; `npx reelnet` and `npm start` still run the sources through tsx. Measured on this VM, time to
 * the ready line: main 9.7 s through tsx, 3.6 s bundled without packages, 2.4 s with them; a parent node 14.3,
 * 7.7 and 4.1 s. The type-check before the run covers the sources the bundle is made of.
 */
const ROOT_DIR = fileURLToPath(new URL('..', import.meta.url))
/** Packages left outside the bundle: they locate native bindings or worker files relative to themselves (esbuild its binary, for main's build of the web player). */
const BUNDLE_EXTERNAL = ['classic-level', 'pino', 'pino-pretty', 'thread-stream', 'esbuild']
if (process.env.REELNET_BIN === undefined) {
  const outfile = join(ROOT_DIR, '.build', 'reelnet.mjs')
  await build({
    entryPoints: [join(ROOT_DIR, 'cli', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    external: BUNDLE_EXTERNAL,
    target: 'node22',
    logLevel: 'warning',
    // CommonJS packages inside an ES module bundle still call require() for Node's built-ins
    banner: { js: "import { createRequire as reelnetCreateRequire } from 'node:module'; const require = reelnetCreateRequire(import.meta.url);" }
  })
  process.env.REELNET_BIN = outfile
  // esbuild's service process pings every second for as long as it lives (~5 % of a core here): done with it
  await stopEsbuild()
}

/**
 * What a lane runs, one process each: a suite file; a batch of unit suites (everything but the end-to-end
 * ones) in one process through test/batch.ts, one tsx start-up and one set of imports instead of forty; or
 * the type-check (tsc --noEmit over every source, test and bench), counted as one test.
 */
interface Job { label: string, args: string[], typecheck?: true }
interface Result { label: string, passed: number, failed: number, output: string, ms: number }

const suiteJob = (file: string): Job => ({ label: relative('.', file), args: ['--import', 'tsx', file] })
const batchJob = (files: string[]): Job => ({ label: `unit suites (${files.length} files, one process)`, args: ['--import', 'tsx', join('test', 'batch.ts'), ...files] })
/*
 * Tried and dropped: the type-check and the unit batch at nice 19 beside the client's network suite. Niced work
 * did not leave that suite alone: it took 640 s instead of 240-320, and a stream open to an edge timed out
 * (case 16) in a clean-clone run.
 */
const TYPECHECK_JOB: Job = { label: 'typecheck (tsc --noEmit)', args: [join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit'], typecheck: true }
/** The browser player (web/) type-checks with the DOM's types, which the Node parts must not see. */
const TYPECHECK_WEB_JOB: Job = { label: 'typecheck web/ (tsc --noEmit)', args: [join('node_modules', 'typescript', 'bin', 'tsc'), '-p', join('web', 'tsconfig.json'), '--noEmit'], typecheck: true }

function runJob (job: Job): Promise<Result> {
  const started = performance.now()
  return new Promise(resolve => {
    const child = spawn(process.execPath, job.args, {
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true
    })
    const killGroup = (): void => {
      try { process.kill(-(child.pid ?? 0), 'SIGKILL') } catch { child.kill('SIGKILL') }
    }
    let output = ''
    let graceTimer: NodeJS.Timeout | undefined
    let killedAfterSummary = false
    const onData = (d: Buffer): void => {
      output += d.toString()
      if (graceTimer === undefined && /Duration:\s/.test(output)) {
        graceTimer = setTimeout(() => { output += `\n[run] suite did not exit ${EXIT_GRACE_MS} ms after its summary: killed\n`; killedAfterSummary = true; killGroup() }, EXIT_GRACE_MS)
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    const timer = setTimeout(() => { output += `\n[run] suite timed out after ${SUITE_TIMEOUT_MS} ms\n`; killGroup() }, SUITE_TIMEOUT_MS)
    child.on('close', code => {
      clearTimeout(timer)
      clearTimeout(graceTimer)
      // Whatever the suite spawned and left behind goes with it.
      try { process.kill(-(child.pid ?? 0), 'SIGKILL') } catch {}
      const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? NaN)
      const passed = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? NaN)
      const skipped = Number(/Skipped:\s+(\d+)/.exec(output)?.[1] ?? 0)
      let p = 0; let f = 0
      if (job.typecheck === true) {
        if (code === 0) p = 1
        else f = 1
      } else if (Number.isFinite(total) && Number.isFinite(passed)) {
        p = passed
        f = total - passed - skipped
        if (code !== 0 && f === 0 && !killedAfterSummary) f = 1
      } else {
        f = 1
      }
      resolve({ label: job.label, passed: p, failed: f, output, ms: performance.now() - started })
    })
  })
}

/**
 * Suites that start a network of processes and time what they see; they run one at a time, in this order (the
 * longest first). Smaller end-to-end suites (one main, or a couple of nodes) run in the other lane, first.
 */
const NETWORK_ORDER = ['test/adversarial/network', 'test/adversarial/faults', 'test/e2e/node-regions', 'test/e2e/demo', 'test/e2e/operator-page', 'test/e2e/web-player']
const isNetwork = (f: string): boolean => NETWORK_ORDER.some(n => f.startsWith(n))
const rank = (f: string): number => NETWORK_ORDER.findIndex(n => f.startsWith(n))
// the varint suite measures its own event loop: in its own process, not beside forty other suites
const isSmallE2e = (f: string): boolean => f.startsWith(join('test', 'e2e')) || f.startsWith(join('test', 'adversarial', 'wire')) || f.startsWith(join('test', 'adversarial', 'varint'))
const networkQueue = selected.filter(isNetwork).sort((a, b) => rank(a) - rank(b))
const unitFiles = selected.filter(f => !isNetwork(f) && !isSmallE2e(f))
const unitQueue: Job[] = [
  ...(only === undefined && filters.length === 0 ? [TYPECHECK_JOB, TYPECHECK_WEB_JOB] : []),
  ...selected.filter(f => !isNetwork(f) && isSmallE2e(f)).map(suiteJob),
  ...(unitFiles.length > 0 ? [batchJob(unitFiles)] : [])
]
const results: Result[] = []

/** A failed job's failures in a few lines each: the file, uvu's FAIL line, its message, the first stack frame outside node_modules. */
function failureDigest (r: Result): string[] {
  const lines = r.output.split('\n')
  const out: string[] = []
  let file = r.label
  const isFail = (line: string): boolean => /^\s+FAIL\s/.test(line)
  for (const [i, head] of lines.entries()) {
    if (/^\S.*\.test\.ts$/.test(head)) file = head.trim()
    if (!isFail(head)) continue
    out.push(`  ${file}: ${head.trim()}`)
    for (const next of lines.slice(i + 1, i + 40)) {
      if (isFail(next)) break
      const line = next.trim()
      if (line.startsWith('at ')) {
        if (!line.includes('node_modules')) { out.push(`      ${line}`); break }
      } else if (line !== '') out.push(`      ${line.slice(0, 300)}`)
    }
  }
  // a suite that crashed or was killed before uvu's summary: its last lines say why
  if (out.length === 0) out.push(`  ${r.label}:`, ...lines.filter(l => l.trim() !== '').slice(-15).map(l => `      ${l.slice(0, 300)}`))
  return out
}
async function lane (queue: Job[]): Promise<void> {
  for (const job of queue) {
    const r = await runJob(job)
    results.push(r)
    const status = r.failed === 0 ? 'ok  ' : 'FAIL'
    console.log(`${status} ${r.label}  (${r.passed} passed, ${r.failed} failed, ${(r.ms / 1000).toFixed(1)} s)`)
    if (r.failed > 0 || process.env.VERBOSE === '1') console.log(r.output.split('\n').map(l => '     ' + l).join('\n'))
    // numbered cases (the adversarial suite) are named in the summary, pass or fail
    else {
      for (const line of r.output.split('\n')) {
        const m = /[✓✘] \d+\. .*$/.exec(line)
        if (m !== null) console.log(`     ${m[0]}`)
      }
    }
  }
}
// The client's network suite first and alone: its peer-assist and interruption cases compare rates of
// capped and uncapped sources, which a busy second core skews (measured: with one core of other work
// the seeding customer's share fell from over half to 29 %). Then the two lanes side by side.
const solo = networkQueue.filter(f => f.startsWith(join('test', 'adversarial', 'network')))
// the operator page's suite (one small network and a browser) closes the other lane, which ends earlier
const late = networkQueue.filter(f => f.startsWith(join('test', 'e2e', 'operator-page')))
const rest = networkQueue.filter(f => !solo.includes(f) && !late.includes(f)).map(suiteJob)
unitQueue.push(...late.map(suiteJob))
await lane(solo.map(suiteJob))
// on one core, one lane
if (cpus().length < 2) await lane([...rest, ...unitQueue])
else await Promise.all([lane(rest), lane(unitQueue)])
const passed = results.reduce((n, r) => n + r.passed, 0)
const failed = results.reduce((n, r) => n + r.failed, 0)
// A CI log is often read from its tail, and a failure in the unit batch sits in the middle of 600 lines: name
// every failed case again, with its message and the first line of its stack in our code, just above the counts.
const digest = results.filter(r => r.failed > 0).flatMap(failureDigest)
if (digest.length > 0) console.log(['failures:', ...digest].join('\n'))
console.log(`${passed} passed, ${failed} failed`)
process.exitCode = failed === 0 && selected.length > 0 ? 0 : 1
