/**
 * `reelnet`: one binary, one command per job. Each command lives in
 * cli/commands/NAME.ts and is loaded only when run, so `--help` stays fast.
 */
import { readFileSync } from 'node:fs'
import { UsageError, type Command } from './command.ts'

/** Every command, in the order `--help` lists them; the module is imported on use. */
const COMMANDS: Record<string, { summary: string, load: () => Promise<{ command: Command }> }> = {
  demo: { summary: 'run main, two regions and three customers on loopback, and download through them', load: async () => await import('./commands/demo.ts') },
  main: { summary: 'run the main server (accounts, catalog, rentals, rules, directives)', load: async () => await import('./commands/main.ts') },
  node: { summary: 'run a parent or edge node of a region', load: async () => await import('./commands/node.ts') },
  ingest: { summary: 'add a file to the catalog (admin)', load: async () => await import('./commands/ingest.ts') },
  account: { summary: 'create a customer account', load: async () => await import('./commands/account.ts') },
  login: { summary: 'log in and keep the session', load: async () => await import('./commands/login.ts') },
  catalog: { summary: 'list the items for rent', load: async () => await import('./commands/catalog.ts') },
  rent: { summary: 'rent an item and receive its signed license', load: async () => await import('./commands/rent.ts') },
  rentals: { summary: 'list your licences: kind, price paid, time left, whether each still plays', load: async () => await import('./commands/rentals.ts') },
  get: { summary: 'download a rented item from the network, verified', load: async () => await import('./commands/get.ts') },
  play: { summary: 'serve a rented item on a local HTTP port while it downloads', load: async () => await import('./commands/play.ts') },
  export: { summary: 'write a purchased item\'s plaintext to a file', load: async () => await import('./commands/export.ts') },
  sim: { summary: 'simulate a whole deployment from a scenario file', load: async () => await import('./commands/sim.ts') },
  keygen: { summary: 'write an ed25519 key pair file and print its fingerprint', load: async () => await import('./commands/keygen.ts') },
  admin: { summary: 'operate the network: nodes, node tokens, drain, remove, preposition, items, quarantine, revoke', load: async () => await import('./commands/admin.ts') }
}

function version (): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

function help (): string {
  const width = Math.max(...Object.keys(COMMANDS).map(k => k.length))
  return [
    'reelnet — peer-assisted delivery of large rented content',
    '',
    'usage: reelnet <command> [flags]     reelnet <command> --help',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'flags:',
    '  -h, --help     show this help',
    '  -v, --version  print the version'
  ].join('\n')
}

async function run (argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    console.log(help())
    return 0
  }
  if (name === '-v' || name === '--version') {
    console.log(version())
    return 0
  }
  const entry = COMMANDS[name]
  if (entry === undefined) throw new UsageError(`unknown command '${name}' (see reelnet --help)`)
  const { command } = await entry.load()
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.helpFor?.(rest) ?? command.usage)
    return 0
  }
  return (await command.run(rest)) ?? 0
}

/**
 * A process started by `reelnet demo` (or the test kit) exits with it, even
 * when its parent is SIGKILLed and can clean nothing up: the parent hands it
 * a stdin pipe and sets REELNET_EXIT_WITH_PARENT=1, and the kernel closes
 * that pipe when the parent dies. The child then stops as on SIGTERM. The
 * pipe is unref'd, so it never keeps a finished command alive.
 */
function exitWithParent (): void {
  if (process.env.REELNET_EXIT_WITH_PARENT !== '1') return
  delete process.env.REELNET_EXIT_WITH_PARENT
  const stdin = process.stdin as NodeJS.ReadStream & { unref?: () => void }
  const gone = (): void => { process.kill(process.pid, 'SIGTERM') }
  stdin.on('end', gone)
  stdin.on('error', gone)
  stdin.on('data', () => {}) // the parent writes nothing; reading lets 'end' arrive
  stdin.unref?.()
}

exitWithParent()
try {
  process.exitCode = await run(process.argv.slice(2))
} catch (err) {
  const e = err as Error & { exitCode?: number, code?: string }
  if (e.name === 'UsageError' || e.name === 'CommandError') {
    console.error(`reelnet: ${e.message}`)
    process.exitCode = e.exitCode ?? 1
  } else if (e.code === 'ERR_MODULE_NOT_FOUND' && /cli[\\/]commands/.test(e.message)) {
    console.error(`reelnet: command '${process.argv[2]}' is not built yet in this version`)
    process.exitCode = 1
  } else {
    console.error(`reelnet: ${e.message}`)
    if (process.env.REELNET_DEBUG === '1') console.error(e.stack)
    process.exitCode = 1
  }
}
