/**
 * Start `reelnet main` as its own process for a benchmark (so the load
 * generator and main do not share an event loop), and read its peak RSS.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface MainProcess { child: ChildProcess, url: string, stop: () => Promise<void>, peakRssBytes: () => Promise<number>, cpuSeconds: () => Promise<number> }

const ROOT = new URL('..', import.meta.url).pathname

export async function startMainProcess (dataDir: string, args: string[] = []): Promise<MainProcess> {
  const child = spawn(join(ROOT, 'node_modules/.bin/node'), [join(ROOT, 'bin/reelnet.js'), 'main', '--data', dataDir, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('main did not start within 60 s')) }, 60_000)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /reelnet main listening on (\S+)/.exec(out)
      if (m !== null) { clearTimeout(timer); resolve(m[1]!) }
    })
    void exited.then(() => { clearTimeout(timer); reject(new Error('main exited before it was ready')) })
  })
  return {
    child,
    url,
    stop: async () => { child.kill('SIGTERM'); await exited },
    /** CPU time (user + system) main has used so far: with the machines shared, CPU per request is steadier than requests per wall second. */
    cpuSeconds: async () => {
      const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      // utime and stime are fields 14 and 15 of stat (11 and 12 after the command name), in clock ticks (100/s on Linux).
      return (Number(fields[11]) + Number(fields[12])) / 100
    },
    /** VmHWM: the resident set's high-water mark since the process started (Linux). */
    peakRssBytes: async () => {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8')
      const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN)
      return kb * 1024
    }
  }
}
