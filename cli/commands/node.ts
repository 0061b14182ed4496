/**
 * `reelnet node`: run a parent or edge of a region.
 */
import { isIP } from 'node:net'
import { bytesFlag, CommandError, durationFlag, intFlag, parseFlags, UsageError, type Command } from '../command.ts'

const usage = `usage: reelnet node --role parent|edge --region R --main URL --data DIR --operator-token T [flags]

Run a parent (holds every item, copied from main) or an edge (fills on
demand from its region, prepositions what main names) of one region.
On first start the node creates its key in --data and registers with main.
Prints 'reelnet node <role> <region> <peerId> listening on <multiaddrs>' when ready.

flags:
  --role parent|edge      the node's role (required)
  --region R              its region, e.g. eu-west (required)
  --main URL              main's base URL, e.g. http://127.0.0.1:8080 (required)
  --data DIR              data folder: key, chunk store, state (required)
  --operator-token T      operator token for registration (required; or REELNET_OPERATOR_TOKEN)
  --listen MULTIADDR      libp2p listen address (default /ip4/127.0.0.1/tcp/0; repeatable, comma-separated);
                          a /ws address (e.g. /ip4/127.0.0.1/tcp/0/ws) also listens on WebSockets
                          for the browser player (same admission and limits)
  --capacity BYTES        store capacity, e.g. 64GiB (default: parent 1TiB, edge 16GiB)
  --main-key BASE64URL    pin main's public key (default: the stored one, or fetched once and stored)
  --heartbeat-ms D        heartbeat interval (default 3000; a bare number is ms, or e.g. 5s)
  --rules-poll-ms D       rules and catalog poll interval (default 2000; ms, or e.g. 2s)
  --max-upload BYTES/s    cap the upload rate, e.g. 20MiB (default: no cap)
  --fast-lane-port P      port of the TLS 1.3 chunk listener (the fast lane), on the
                          host of the first --listen TCP address (default 0: any free port)
  --no-fast-lane          no fast lane: serve and fetch chunks over libp2p only
  --metrics-port P        serve Prometheus metrics at http(s)://HOST:P/metrics and the
                          node's status as JSON at http://HOST:P/status (0: any
                          free port; default: no metrics server). Prints
                          'reelnet node metrics at URL' when serving.
  --metrics-host H        address for --metrics-port (default 127.0.0.1)
  --metrics-tls-cert FILE serve --metrics-port over HTTPS with this PEM certificate (chain)...
  --metrics-tls-key FILE  ...and its PEM private key (both or neither; for metrics that
                          leave the host)
  -h, --help              show this help

Logs go to stderr: JSON lines (pino) when stderr is not a terminal, readable
text when it is; REELNET_LOG_LEVEL=debug|info|warn|error sets the level
(debug adds a line per chunk served).`

export const command: Command = {
  name: 'node',
  summary: 'run a parent or edge node of a region',
  usage,
  async run (argv) {
    const { values } = parseFlags(argv, {
      role: { type: 'string' },
      region: { type: 'string' },
      main: { type: 'string' },
      data: { type: 'string' },
      'operator-token': { type: 'string' },
      listen: { type: 'string', multiple: true },
      capacity: { type: 'string' },
      'main-key': { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'rules-poll-ms': { type: 'string' },
      'max-upload': { type: 'string' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      'fast-lane-port': { type: 'string' },
      'no-fast-lane': { type: 'boolean' },
      'metrics-tls-cert': { type: 'string' },
      'metrics-tls-key': { type: 'string' }
    })
    const role = values.role
    if (role !== 'parent' && role !== 'edge') throw new UsageError('--role must be parent or edge')
    if (values.region === undefined || !/^[a-z0-9][a-z0-9-]{0,31}$/.test(values.region)) throw new UsageError('--region is required: lower-case letters, digits and dashes, at most 32')
    if (values.main === undefined) throw new UsageError('--main URL is required')
    try { new URL(values.main) } catch { throw new UsageError(`--main must be a URL, got '${values.main}'`) }
    if (values.data === undefined) throw new UsageError('--data DIR is required')
    const operatorToken = values['operator-token'] ?? process.env.REELNET_OPERATOR_TOKEN
    if (operatorToken === undefined || operatorToken === '') throw new UsageError('--operator-token is required')
    const listen = (values.listen ?? ['/ip4/127.0.0.1/tcp/0']).flatMap(l => l.split(',')).map(s => s.trim()).filter(s => s !== '')
    const capacityBytes = bytesFlag('capacity', values.capacity, role === 'parent' ? 1024 ** 4 : 16 * 1024 ** 3)
    if (capacityBytes < 1024 * 1024) throw new UsageError('--capacity must be at least 1MiB')
    const heartbeatMs = durationFlag('heartbeat-ms', values['heartbeat-ms'], 3000, 100, 600_000)
    const rulesPollMs = durationFlag('rules-poll-ms', values['rules-poll-ms'], 2000, 100, 600_000)
    const maxUpload = values['max-upload'] !== undefined ? bytesFlag('max-upload', values['max-upload'].replace(/\/s$/, ''), 0) : undefined
    if (maxUpload !== undefined && maxUpload < 1024) throw new UsageError('--max-upload must be at least 1KiB/s')
    const metricsPort = values['metrics-port'] !== undefined ? intFlag('metrics-port', values['metrics-port'], 0, 0, 65535) : undefined
    const metricsHost = values['metrics-host']
    if (metricsHost !== undefined && metricsPort === undefined) throw new UsageError('--metrics-host needs --metrics-port')
    if (metricsHost !== undefined && isIP(metricsHost) === 0 && metricsHost !== 'localhost') throw new UsageError(`--metrics-host must be an IP address, got '${metricsHost}'`)
    const fastLane = values['no-fast-lane'] !== true
    if (!fastLane && values['fast-lane-port'] !== undefined) throw new UsageError('--fast-lane-port and --no-fast-lane exclude each other')
    const fastLanePort = values['fast-lane-port'] !== undefined ? intFlag('fast-lane-port', values['fast-lane-port'], 0, 0, 65535) : undefined
    const [tlsCert, tlsKey] = [values['metrics-tls-cert'], values['metrics-tls-key']]
    if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new UsageError('--metrics-tls-cert and --metrics-tls-key go together')
    if (tlsCert !== undefined && metricsPort === undefined) throw new UsageError('--metrics-tls-cert needs --metrics-port')
    let metricsTls: { cert: Buffer, key: Buffer } | undefined
    if (tlsCert !== undefined && tlsKey !== undefined) {
      const { readPemFlag } = await import('../pem.ts')
      metricsTls = { cert: await readPemFlag('metrics-tls-cert', tlsCert), key: await readPemFlag('metrics-tls-key', tlsKey) }
    }
    const { createLogger } = await import('../log.ts')
    const logger = createLogger('reelnet-node', { base: { role, region: values.region } })

    const { startNode } = await import('../../node/server/run.ts')
    const log = (line: string): void => { logger.info(line) }
    let node
    try {
      node = await startNode({
        role, region: values.region, mainUrl: values.main, dataDir: values.data, listen, operatorToken, capacityBytes,
        mainKey: values['main-key'], heartbeatMs, rulesPollMs, maxUploadBytesPerSec: maxUpload, metricsPort, metricsHost, metricsTls, log, fastLane, fastLanePort,
        event: (level, msg, fields) => { logger[level](fields ?? {}, msg) }
      })
    } catch (err) {
      const e = err as Error & { status?: number }
      if (e.name === 'MainHttpError') throw new CommandError(`main refused: ${e.message}`)
      if (e.name === 'TypeError' && /fetch failed/.test(e.message)) throw new CommandError(`main is not reachable at ${values.main}`)
      throw new CommandError(e.message)
    }
    console.log(`reelnet node ${role} ${values.region} ${node.peerId} listening on ${node.addrs.join(',')}`)
    if (node.metricsUrl !== undefined) console.log(`reelnet node metrics at ${node.metricsUrl}`)
    logger.info({ peerId: node.peerId, addrs: node.addrs, metricsUrl: node.metricsUrl }, 'node ready')
    const onSignal = (sig: string): void => {
      log(`${sig}: shutting down`)
      void node.stop()
    }
    process.once('SIGTERM', () => { onSignal('SIGTERM') })
    process.once('SIGINT', () => { onSignal('SIGINT') })
    await node.done
    log('stopped')
    // libp2p may leave idle sockets and timers behind: do not let them hold the process
    setTimeout(() => process.exit(0), 500).unref()
    return 0
  }
}
