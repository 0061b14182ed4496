/**
 * A throwaway PostgreSQL server for a test: initdb in a temp folder, started
 * with pg_ctl on a free loopback port and a socket in that folder (never a
 * system service), removed on stop. initdb refuses to run as root, so as root
 * it runs as the `postgres` user that Debian's package creates. Where no
 * PostgreSQL is installed, `startPostgres` returns why, for one clear skip line.
 */
import { execFile } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { mkdtemp, rm, chown, chmod, readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
/** initdb and a start take a second or two; a loaded machine is given far longer. */
const PG_COMMAND_TIMEOUT_MS = 120_000

export interface Postgres {
  url: string
  port: number
  /** The postmaster's process id (its backends are its children). */
  pid: () => Promise<number>
  /** Stop the server at once and remove its folder. */
  stop: () => Promise<void>
}

function binDir (): string | undefined {
  const root = '/usr/lib/postgresql'
  if (existsSync(root)) {
    const versions = readdirSync(root).filter(v => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))
    if (versions[0] !== undefined) return join(root, versions[0], 'bin')
  }
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir !== '' && existsSync(join(dir, 'initdb'))) return dir
  return undefined
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => { resolve(port) })
    })
  })
}

async function uidOf (user: string): Promise<{ uid: number, gid: number } | undefined> {
  try {
    const [u, g] = await Promise.all([run('id', ['-u', user]), run('id', ['-g', user])])
    return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) }
  } catch {
    return undefined
  }
}

/**
 * Start a server, or return the reason it cannot be (no PostgreSQL installed, no `postgres` user as root).
 * Tests run with fsync off (faster, and a test's data need not survive a power cut); `durable` keeps PostgreSQL's
 * default (fsync on), for benchmarks.
 */
export async function startPostgres (opts: { durable?: boolean } = {}): Promise<Postgres | string> {
  const bin = binDir()
  if (bin === undefined) return 'PostgreSQL is not installed (no initdb under /usr/lib/postgresql or on PATH; .ci/run installs Debian\'s postgresql)'
  const asRoot = process.getuid?.() === 0
  const owner = asRoot ? await uidOf('postgres') : undefined
  if (asRoot && owner === undefined) return 'running as root and there is no `postgres` user to run initdb as'
  const dir = await mkdtemp(join(tmpdir(), 'reelnet-pg-'))
  if (owner !== undefined) {
    await chown(dir, owner.uid, owner.gid)
    await chmod(dir, 0o700)
  }
  const pg = async (cmd: string, args: string[]): Promise<void> => {
    const file = join(bin, cmd)
    if (owner !== undefined) await run('runuser', ['-u', 'postgres', '--', file, ...args], { timeout: PG_COMMAND_TIMEOUT_MS, cwd: dir })
    else await run(file, args, { timeout: PG_COMMAND_TIMEOUT_MS, cwd: dir })
  }
  const data = join(dir, 'data')
  const port = await freePort()
  try {
    await pg('initdb', ['-A', 'trust', '-U', 'reelnet', '-E', 'UTF8', '--no-sync', '-D', data])
    await pg('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '120', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${opts.durable === true ? '' : ' -c fsync=off'}`, 'start'])
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw new Error(`starting PostgreSQL failed: ${(err as Error).message}`)
  }
  let stopped = false
  return {
    url: `postgres://reelnet@127.0.0.1:${port}/postgres`,
    port,
    pid: async () => Number((await readFile(join(data, 'postmaster.pid'), 'utf8')).split('\n')[0]),
    stop: async () => {
      if (stopped) return
      stopped = true
      await pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {})
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** A fresh empty database on the server (each suite its own), as a URL. */
export async function freshDatabase (server: Postgres, name: string): Promise<string> {
  const { default: pg } = await import('pg')
  const c = new pg.Client({ connectionString: server.url })
  await c.connect()
  try {
    await c.query(`create database "${name.replace(/[^a-z0-9_]/g, '_')}"`)
  } finally {
    await c.end()
  }
  return server.url.replace(/\/postgres$/, `/${name.replace(/[^a-z0-9_]/g, '_')}`)
}
