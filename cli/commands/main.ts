/** `reelnet main`: run the main server until SIGTERM/SIGINT. */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { parseFlags, intFlag, durationFlag, formatDuration, UsageError, CommandError, type Command } from '../command.ts'
import { DEFAULT_DIRECTIVE_TTL_MS, DEFAULT_HEARTBEAT_TIMEOUT_MS, DEFAULT_RENTAL_MS, SCRYPT_PARAMS } from '../../main/limits.ts'
import { DEFAULT_NODE_REMOVAL_MS, MIN_NODE_REMOVAL_MS } from '../../main/node-removal.ts'
import { MIN_TOKEN_LENGTH } from '../../main/tokens.ts'
import { REVOCATIONS_TTL_MS } from '../../main/revocations.ts'

/** The shortest rental main accepts: a minute is enough to try an expiry by hand. */
export const MIN_RENTAL_MS = 60_000
/** The longest rental (a year and a day); longer is a purchase, not a rental. */
export const MAX_RENTAL_MS = 366 * 24 * 3600_000

/** The port main listens on unless told otherwise (and the one the CLI clients assume). */
export const DEFAULT_MAIN_PORT = 8640
/** A certificate chain or key file larger than this is not one (a chain of a few certificates is a few KiB). */
export const MAX_PEM_BYTES = 1 << 20

function defaultDataDir (): string {
  const base = process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share')
  return join(base, 'reelnet', 'main')
}

const usage = `usage: reelnet main [--data DIR] [--port P] [--host H] [flags]

Run the main server: accounts, catalog and ingest, rentals, the node
registry, signed rules and directives, /metrics and an operator page at /.
State lives under --data; the first start creates main's signing key and
prints its fingerprint, which nodes and clients pin.

flags:
  --data DIR                 data folder (default ${defaultDataDir()}): the signing key,
                             tokens.json and the origin's chunk files; with --db postgres
                             several mains on one machine may share it
  --db URL                   keep accounts, rentals, the node registry and rules in
                             PostgreSQL (postgres://USER@HOST:PORT/DB, or REELNET_DB), so
                             several mains behind a load balancer share them; default the
                             embedded level database in DATA/db. Migrations run at start.
  --tls-cert FILE            serve HTTPS with this PEM certificate (chain)...
  --tls-key FILE             ...and its PEM private key (both or neither)
  --trusted-proxy CIDR[,CIDR] behind a load balancer: when a request comes from one of these
                             addresses (e.g. 127.0.0.1/32, 10.0.0.0/8, ::1), count sign-up and log-in
                             limits against the client X-Forwarded-For names (its rightmost
                             address that is not a listed proxy); from anyone else the header
                             is ignored. Or REELNET_TRUSTED_PROXY. Default: none (the socket's peer)
  --port P                   TCP port, 0 for any free one (default ${DEFAULT_MAIN_PORT})
  --host H                   address to listen on (default 127.0.0.1)
  --admin-token T            admin token (or REELNET_ADMIN_TOKEN)
  --operator-token T         operator token (or REELNET_OPERATOR_TOKEN)
                             without either, tokens are generated on first start,
                             kept in DATA/tokens.json (mode 0600) and printed
  --key-file FILE            take main's signing key from FILE (as \`reelnet keygen\` writes it,
                             mode 0600) instead of DATA/main-key.json; main never writes it
  --rental-period D          how long a rental lasts, e.g. 30m, 2h, 7d (default ${formatDuration(DEFAULT_RENTAL_MS)})
  --rental-hours N           the same in hours (a duration like 30m works too)
  --rental-seconds N         the same in seconds, down to 1 (a test of expiry; below --rental-period's 1 minute)
                             (a rental's period starts when it is rented, not at first play)
  --plain                    store newly ingested items unencrypted unless the ingest says --encrypt
                             (default: every item is encrypted with its own content key, and only a
                             licensed client gets the key; --plain is for free material and tests)
  --encrypt                  the default, said explicitly (it and --plain exclude each other)
  --heartbeat-timeout-ms D   a node silent this long is down (default ${DEFAULT_HEARTBEAT_TIMEOUT_MS};
                             a bare number is ms, or e.g. 15s)
  --node-removal-after D     a node silent this long leaves the signed rules and its token is spent
                             (default ${formatDuration(DEFAULT_NODE_REMOVAL_MS)}); it must register again with a fresh token
  --directive-ttl-ms D       directive lifetime (default ${DEFAULT_DIRECTIVE_TTL_MS}; a bare number is ms, or e.g. 10m)
  --revocations-ttl D        lifetime of each signed revocation list, e.g. 1h (default ${formatDuration(REVOCATIONS_TTL_MS)});
                             re-signed at half of it. A node whose list expires refuses customers
  --metrics-port P           also serve /metrics without a token on this port (0: any free one);
                             on main's own port /metrics needs the operator token
  --metrics-host H           address of that listener (default 127.0.0.1)
  --scrypt-log-n N           cost of hashing new passwords: scrypt's N is 2^N, each step
                             doubling time and memory (default ${Math.log2(SCRYPT_PARAMS.N)}, OWASP's: ~128 MiB and
                             a few hundred ms to seconds per hash); 10 to 18, below the
                             default only for demos and tests. Stored hashes keep their own.
  -h, --help                 show this help

Prints 'reelnet main listening on http(s)://HOST:PORT key <fingerprint>' when ready.
The operator page is at that URL (log in with the operator token); Prometheus
metrics at /metrics with the operator token (Authorization: Bearer …), or on
--metrics-port without one (then it prints 'reelnet main metrics at URL').

Logs go to stderr: JSON lines (pino) when stderr is not a terminal, readable
text when it is; one line per directive issued carries its directiveId,
licenseId, itemId, clientPeerId and the peers named. REELNET_LOG_LEVEL=
debug|info|warn|error sets the level (warn hides the per-directive lines).`

export const command: Command = {
  name: 'main',
  summary: 'run the main server (accounts, catalog, rentals, rules, directives)',
  usage,
  async run (argv) {
    const { values } = parseFlags(argv, {
      data: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'admin-token': { type: 'string' },
      'operator-token': { type: 'string' },
      'rental-hours': { type: 'string' },
      'rental-period': { type: 'string' },
      'key-file': { type: 'string' },
      'node-removal-after': { type: 'string' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      'rental-seconds': { type: 'string' },
      'heartbeat-timeout-ms': { type: 'string' },
      'directive-ttl-ms': { type: 'string' },
      'revocations-ttl': { type: 'string' },
      'scrypt-log-n': { type: 'string' },
      db: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      encrypt: { type: 'boolean' },
      plain: { type: 'boolean' },
      'trusted-proxy': { type: 'string' }
    })
    const db = values.db ?? process.env.REELNET_DB
    if (db !== undefined && db !== '' && !/^postgres(ql)?:\/\/[^\s]{1,2000}$/i.test(db)) throw new UsageError('--db (or REELNET_DB) must be a postgres:// URL')
    if (values.encrypt === true && values.plain === true) throw new UsageError('--encrypt and --plain exclude each other')
    if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together')
    let tls: { cert: Buffer, key: Buffer } | undefined
    if (values['tls-cert'] !== undefined && values['tls-key'] !== undefined) {
      const { readFile, stat } = await import('node:fs/promises')
      const read = async (flag: string, file: string): Promise<Buffer> => {
        const st = await stat(file).catch(() => undefined)
        if (st === undefined || !st.isFile()) throw new UsageError(`--${flag} ${file}: no such file`)
        if (st.size > MAX_PEM_BYTES) throw new UsageError(`--${flag} ${file}: larger than ${MAX_PEM_BYTES} bytes; not a PEM file`)
        const bytes = await readFile(file)
        if (!bytes.toString('latin1').includes('-----BEGIN ')) throw new UsageError(`--${flag} ${file}: not a PEM file`)
        return bytes
      }
      tls = { cert: await read('tls-cert', values['tls-cert']), key: await read('tls-key', values['tls-key']) }
    }
    const trustedText = values['trusted-proxy'] ?? process.env.REELNET_TRUSTED_PROXY
    let trustedProxies
    if (trustedText !== undefined && trustedText !== '') {
      const { parseTrustedProxies } = await import('../../main/client-address.ts')
      try {
        trustedProxies = parseTrustedProxies(trustedText.slice(0, 10_000))
      } catch (err) {
        throw new UsageError((err as Error).message)
      }
    }
    const dataDir = values.data ?? defaultDataDir()
    const port = intFlag('port', values.port, DEFAULT_MAIN_PORT, 0, 65535)
    const host = values.host ?? '127.0.0.1'
    const rentalFlags = ['rental-hours', 'rental-period', 'rental-seconds'].filter(f => values[f as 'rental-hours'] !== undefined)
    if (rentalFlags.length > 1) throw new UsageError(`give one of --rental-period, --rental-hours and --rental-seconds, not ${rentalFlags.map(f => `--${f}`).join(' and ')}`)
    const rentalMs = values['rental-seconds'] !== undefined
      ? intFlag('rental-seconds', values['rental-seconds'], 0, 1, MAX_RENTAL_MS / 1000) * 1000
      : values['rental-period'] !== undefined
      ? durationFlag('rental-period', values['rental-period'], DEFAULT_RENTAL_MS, MIN_RENTAL_MS, MAX_RENTAL_MS, 'h')
      : durationFlag('rental-hours', values['rental-hours'], DEFAULT_RENTAL_MS, MIN_RENTAL_MS, MAX_RENTAL_MS, 'h')
    const heartbeatTimeoutMs = durationFlag('heartbeat-timeout-ms', values['heartbeat-timeout-ms'], DEFAULT_HEARTBEAT_TIMEOUT_MS, 100, 24 * 3600_000)
    const directiveTtlMs = durationFlag('directive-ttl-ms', values['directive-ttl-ms'], DEFAULT_DIRECTIVE_TTL_MS, 1000, 24 * 3600_000)
    const revocationsTtlMs = durationFlag('revocations-ttl', values['revocations-ttl'], REVOCATIONS_TTL_MS, 2_000, 24 * 3600_000)
    const nodeRemovalMs = durationFlag('node-removal-after', values['node-removal-after'], DEFAULT_NODE_REMOVAL_MS, MIN_NODE_REMOVAL_MS, 10 * 366 * 24 * 3600_000)
    const scryptLogN = intFlag('scrypt-log-n', values['scrypt-log-n'], Math.log2(SCRYPT_PARAMS.N), 10, 18)
    const adminToken = values['admin-token'] ?? process.env.REELNET_ADMIN_TOKEN
    const operatorToken = values['operator-token'] ?? process.env.REELNET_OPERATOR_TOKEN
    for (const [name, t] of [['admin-token', adminToken], ['operator-token', operatorToken]] as const) {
      if (t !== undefined && t.length < MIN_TOKEN_LENGTH) throw new UsageError(`--${name} must be at least ${MIN_TOKEN_LENGTH} characters`)
    }

    const { startMain } = await import('../../main/server.ts')
    const { createLogger } = await import('../log.ts')
    const logger = createLogger('reelnet-main')
    let running
    try {
      running = await startMain({
        dataDir, port, host, adminToken, operatorToken, keyFile: values['key-file'], tls, trustedProxies,
        ...(db !== undefined && db !== '' ? { db } : {}),
        metricsPort: values['metrics-port'] === undefined ? undefined : intFlag('metrics-port', values['metrics-port'], 0, 0, 65535),
        metricsHost: values['metrics-host'],
        rentalMs, heartbeatTimeoutMs, directiveTtlMs, nodeRemovalMs, revocationsTtlMs,
        encryptItems: values.plain !== true,
        scrypt: { ...SCRYPT_PARAMS, N: 2 ** scryptLogN },
        processMetrics: true,
        log: (level, msg, extra) => { logger[level](extra ?? {}, msg) }
      })
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      if (e.code === 'METRICS_EADDRINUSE') throw new CommandError(e.message)
      if (e.code === 'ERR_OSSL_PEM_NO_START_LINE' || /key values mismatch|PEM|certificate/i.test(e.message ?? '')) throw new CommandError(`cannot use the TLS certificate and key: ${e.message}`)
      if (e.code === 'EADDRINUSE') throw new CommandError(`port ${port} on ${host} is already in use`)
      if (e.code === 'LEVEL_DATABASE_NOT_OPEN' || /lock/i.test(e.message ?? '')) throw new CommandError(`the data folder ${dataDir} is in use by another main (or not writable): ${e.message}`)
      throw new CommandError(`cannot start main: ${e.message}`)
    }
    const { main } = running
    if (main.keyCreated) console.log(`created main's signing key in ${dataDir} (fingerprint ${main.signer.keyId})`)
    if (main.tokens.generated) {
      console.log(`generated tokens (kept in ${join(dataDir, 'tokens.json')}):`)
      console.log(`  admin token:    ${main.tokens.adminToken}`)
      console.log(`  operator token: ${main.tokens.operatorToken}`)
    }
    console.log(`reelnet main listening on ${running.url} key ${main.signer.keyId}`)
    if (running.metricsUrl !== undefined) console.log(`reelnet main metrics at ${running.metricsUrl}`)

    await new Promise<void>(resolve => {
      const stop = (signal: string): void => {
        process.off('SIGTERM', onTerm)
        process.off('SIGINT', onInt)
        logger.info({ signal }, 'shutting down')
        running.close().then(resolve, (err: unknown) => { logger.error({ err: String(err) }, 'close failed'); resolve() })
      }
      const onTerm = (): void => { stop('SIGTERM') }
      const onInt = (): void => { stop('SIGINT') }
      process.on('SIGTERM', onTerm)
      process.on('SIGINT', onInt)
    })
    return 0
  }
}
