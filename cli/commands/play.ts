/**
 * `reelnet play ITEM`: download ITEM as `reelnet get` does, and serve it on
 * a local HTTP port meanwhile, with Range support, fetching first the
 * chunks a request needs — so a media player can start and seek before the
 * download ends.
 */
import { basename, resolve } from 'node:path'
import { parseFlags, intFlag, UsageError, type Command } from '../command.ts'
import { loadCustomerSession, licenseFor, resolveItem, commandErrorOf, interruptSignal, rateFlags } from './get.ts'
import type { Customer } from '../../node/client/customer.ts'
import type { Progress } from '../../node/client/progress.ts'
import type { PlayServer } from '../../node/client/play-server.ts'

const usage = `usage: reelnet play ITEM [--port P] [-o FILE] [--rent] [--json | --quiet]

Serve ITEM on http://127.0.0.1:P/<ITEM> while it downloads (verified, from
several sources, resumable, as 'reelnet get'). Requests may carry a Range
header; the chunks a request needs are fetched before the rest, so a
player (mpv, vlc, ffplay, a browser) can start and seek at once. The URL is
printed when ready; the server keeps running after the download ends,
until Ctrl-C.

flags:
  --port P          local port (default: any free one)
  -o, --output FILE where to keep the file (default: ./<title>)
  --rent            rent ITEM first
  --max-upload B/s  cap on uploads to peers
  --max-download B/s  cap on the download's average rate (seeks still go first)
  --region R        the region to download in (default: the account's)
  --no-fast-lane    fetch over libp2p only (default: the nodes' TLS 1.3 fast lanes, libp2p as fallback)
  --json            the URL, progress and the summary as JSON lines on stdout
  --quiet           print only the URL
  -h, --help        show this help`

export const command: Command = {
  name: 'play',
  summary: 'serve a rented item on a local HTTP port while it downloads',
  usage,
  async run (argv) {
    const { values, positionals } = parseFlags(argv, {
      port: { type: 'string' },
      output: { type: 'string', short: 'o' },
      rent: { type: 'boolean' },
      'max-upload': { type: 'string' },
      'max-download': { type: 'string' },
      region: { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      'no-fast-lane': { type: 'boolean' }
    }, true)
    if (positionals.length !== 1) throw new UsageError('give exactly one ITEM (see reelnet play --help)')
    const item = positionals[0] as string
    if (!/^[\x20-\x7e]{1,512}$/.test(item)) throw new UsageError(`'${item}' is not an itemId or title`)
    const port = intFlag('port', values.port, 0, 0, 65535)
    const { maxUpload, maxDownload } = rateFlags(values)

    const session = await loadCustomerSession()
    const { Customer: CustomerClass } = await import('../../node/client/customer.ts')
    const { Progress: ProgressClass, chooseMode } = await import('../../node/client/progress.ts')
    const { startPlayServer } = await import('../../node/client/play-server.ts')
    const { MainApi } = await import('../../node/client/main-api.ts')
    const stop = interruptSignal()
    const mode = chooseMode({ json: values.json, quiet: values.quiet }, process.stderr.isTTY === true)
    let customer: Customer | undefined
    let progress: Progress | undefined
    let server: PlayServer | undefined
    try {
      const itemId = await resolveItem(session, item, stop.signal)
      const license = await licenseFor(session, itemId, values.rent === true, stop.signal)
      let outPath = values.output
      if (outPath === undefined) {
        const api = new MainApi({ url: session.mainUrl, token: session.token, mainKey: session.mainKey })
        const { manifest } = await api.manifest(itemId, { signal: stop.signal })
        outPath = manifest.title.replace(/[/\\\0]/g, '_').replace(/^\.+/, '').trim() || itemId
      }
      outPath = resolve(outPath)
      customer = await CustomerClass.start({
        mainUrl: session.mainUrl,
        token: session.token,
        mainKey: session.mainKey,
        itemId,
        licenseId: license.licenseId,
        licenseExpiresAt: license.expiresAt,
        outPath,
        keyDir: session.configDir,
        region: values.region ?? session.region,
        maxUpload,
        fastLane: values['no-fast-lane'] !== true,
        limits: maxDownload !== undefined ? { maxRate: maxDownload } : undefined,
        signal: stop.signal,
        onEvent: e => progress?.event(e),
        log: line => { if (mode === 'bar' || mode === 'lines') process.stderr.write(`${line}\n`) }
      })
      const c = customer
      server = await startPlayServer({ manifest: c.manifest, scheduler: c.scheduler, part: c.part, port })
      progress = new ProgressClass({ mode: mode === 'quiet' ? 'quiet' : mode, label: basename(outPath), stats: () => c.scheduler.stats() })
      if (mode === 'json') progress.json({ type: 'listening', url: server.url, itemId, peerId: c.peerId, size: c.manifest.size })
      else process.stdout.write(`playing ${c.manifest.title} at ${server.url}\n`)
      progress.start()
      await c.download()
      progress.stop({ ok: true })
      if (mode === 'bar' || mode === 'lines') process.stderr.write(`download complete; still serving ${server.url} (Ctrl-C stops)\n`)
      await c.seed(stop.signal)
      return 0
    } catch (err) {
      progress?.stop({ ok: false, message: (err as Error).message })
      if (stop.signal.aborted) return stop.which() === 'SIGTERM' ? 143 : 130
      throw commandErrorOf(err)
    } finally {
      stop.dispose()
      await server?.close()
      await customer?.stop()
    }
  }
}
