/**
 * Start `reelnet main` as its own process for a benchmark (so the load
 * generator and main do not share an event loop), and read its peak RSS.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'

export interface MainProcess { child: ChildProcess, url: string, stop: () => Promise<void>, peakRssBytes: () => Promise<number>, cpuSeconds: () => Promise<number> }

const ROOT = new URL('..', import.meta.url).pathname
/** How much of main's log is kept to explain a failed start. */
const LOG_TAIL_CHARS = 4000

export async function startMainProcess (dataDir: string, args: string[] = []): Promise<MainProcess> {
  // plaintext items unless asked (--encrypt): the benches compare what they fetch with the original, and
  // bench/encryption measures what encryption costs by asking per ingest
  const plain = args.includes('--encrypt') ? [] : ['--plain']
  const child = spawn(join(ROOT, 'node_modules/.bin/node'), [join(ROOT, 'bin/reelnet.js'), 'main', '--data', dataDir, '--port', '0', ...plain, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  // main logs a line per directive to stderr: keep only the tail, for a failure's message
  let tail = ''
  child.stderr!.on('data', (d: Buffer) => { tail = (tail + d.toString()).slice(-LOG_TAIL_CHARS) })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('main did not start within 60 s')) }, 60_000)
    let ready = false
    child.stdout!.on('data', (d: Buffer) => {
      // once ready, main's log lines (one per directive) are drained, not kept
      if (ready) return
      out += d.toString()
      const m = /reelnet main listening on (\S+)/.exec(out)
      if (m !== null) { ready = true; out = ''; clearTimeout(timer); resolve(m[1]!) }
    })
    void exited.then(() => { clearTimeout(timer); reject(new Error(`main exited before it was ready: ${tail}`)) })
  })
  return {
    child,
    url,
    stop: async () => { child.kill('SIGTERM'); await exited },
    /** CPU time (user + system) main has used so far: with the machines shared, CPU per request is steadier than requests per wall second. */
    cpuSeconds: async () => await cpuSecondsOf(child.pid!),
    /** VmHWM: the resident set's high-water mark since the process started (Linux). */
    peakRssBytes: async () => {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8')
      const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN)
      return kb * 1024
    }
  }
}

/** Clock ticks per second in /proc/PID/stat (USER_HZ: 100 on Linux). */
const TICKS_PER_S = 100

/** /proc/PID/stat's fields after the command name (so index 1 is the ppid, 11/12 utime/stime, 13/14 cutime/cstime). */
async function statFields (pid: number): Promise<string[] | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** CPU time (user + system) one process has used so far (Linux). */
export async function cpuSecondsOf (pid: number): Promise<number> {
  const f = await statFields(pid)
  if (f === undefined) throw new Error(`no process ${pid}`)
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_S
}

/**
 * CPU time of a process and all its descendants: the live ones' own time, plus what the exited ones had (the
 * kernel adds a reaped child's time to its parent's cutime/cstime). For PostgreSQL (backends are the postmaster's
 * children) and nginx (its workers).
 */
export async function treeCpuSeconds (root: number): Promise<number> {
  const parent = new Map<number, number>()
  const own = new Map<number, number>()
  let reaped = 0
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const f = await statFields(Number(name))
    if (f === undefined) continue
    parent.set(Number(name), Number(f[1]))
    own.set(Number(name), (Number(f[11]) + Number(f[12])) / TICKS_PER_S)
    if (Number(name) === root) reaped = (Number(f[13]) + Number(f[14])) / TICKS_PER_S
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; p = parent.get(p) ?? 0, hops++) if (p === root) return true
    return false
  }
  let total = reaped
  for (const [pid, s] of own) if (inTree(pid)) total += s
  return total
}
