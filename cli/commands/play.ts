/**
 * `reelnet play ITEM`: download ITEM as `reelnet get` does, and serve it on
 * a local HTTP port meanwhile, with Range support, fetching first the
 * chunks a request needs — so a media player can start and seek before the
 * download ends.
 */
import { basename, resolve } from 'node:path'
import { parseFlags, intFlag, UsageError, type Command } from '../command.ts'
import { loadCustomerSession, licenseFor, resolveItem, commandErrorOf, interruptSignal, rateFlags, revocationPollFlag } from './get.ts'
import type { Customer } from '../../node/client/customer.ts'
import type { Progress } from '../../node/client/progress.ts'
import type { PlayServer } from '../../node/client/play-server.ts'

const usage = `usage: reelnet play ITEM [--port P] [-o FILE] [--rent] [--json | --quiet]

Serve ITEM on http://127.0.0.1:P/<ITEM> while it downloads (verified, from
several sources, resumable, as 'reelnet get'). Requests may carry a Range
header; the chunks a request needs are fetched before the rest, so a
player (mpv, vlc, ffplay, a browser) can start and seek at once. The URL is
printed when ready; the server keeps running after the download ends,
until Ctrl-C. An encrypted item stays ciphertext on disk and is decrypted
on the fly with the content key main sealed to this client; when the
rental ends, every request is answered 403 with the reason, seeding stops
and the key is removed from the config folder.

flags:
  --port P          local port (default: any free one)
  -o, --output FILE where to keep the file (default: ./<title>)
  --rent            rent ITEM first
  --max-upload B/s  cap on uploads to peers
  --max-download B/s  cap on the download's average rate (seeks still go first)
  --region R        the region to download in (default: the account's)
  --revocation-poll D  ask main this often whether the licence still stands (default 60s, at
                    most 5m); a revoked licence or account stops playback. Without main,
                    playback goes on for the licence's offline grace (default 30m), then stops
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
      'revocation-poll': { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      'no-fast-lane': { type: 'boolean' }
    }, true)
    if (positionals.length !== 1) throw new UsageError('give exactly one ITEM (see reelnet play --help)')
    const revocationPollMs = revocationPollFlag(values['revocation-poll'])
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
        licenseKind: license.kind,
        outPath,
        keyDir: session.configDir,
        region: values.region ?? session.region,
        maxUpload,
        fastLane: values['no-fast-lane'] !== true,
        limits: maxDownload !== undefined ? { maxRate: maxDownload } : undefined,
        signal: stop.signal,
        revocationPollMs,
        offlineGraceMs: license.offlineGraceMs,
        onEvent: e => progress?.event(e),
        log: line => { if (mode === 'bar' || mode === 'lines') process.stderr.write(`${line}\n`) }
      })
      const c = customer
      const ended = `your rental of ${c.manifest.title} ended at ${new Date(license.expiresAt).toISOString()}: rent it again to keep watching (reelnet rent ${itemId})`
      server = await startPlayServer({ manifest: c.manifest, scheduler: c.scheduler, part: c.part, port, contentKey: () => c.contentKey, ended: () => c.expired, endedMessage: () => ended })
      progress = new ProgressClass({ mode: mode === 'quiet' ? 'quiet' : mode, label: basename(outPath), stats: () => c.scheduler.stats() })
      if (mode === 'json') progress.json({ type: 'listening', url: server.url, itemId, peerId: c.peerId, size: c.manifest.size })
      else process.stdout.write(`playing ${c.manifest.title} at ${server.url}\n`)
      progress.start()
      await c.download()
      progress.stop({ ok: true })
      if (mode === 'bar' || mode === 'lines') process.stderr.write(`download complete; still serving ${server.url} (Ctrl-C stops)\n`)
      await c.seed(stop.signal)
      if (c.expired && !stop.signal.aborted) {
        // the server stays up and answers 403 with the reason, so a player shows why it stopped (Ctrl-C ends it)
        if (mode === 'json') progress.json({ type: 'ended', url: server.url, expiresAt: license.expiresAt, message: ended })
        else process.stderr.write(`${ended}; ${server.url} now answers 403 (Ctrl-C stops)\n`)
        await new Promise<void>(resolve => { stop.signal.addEventListener('abort', () => { resolve() }, { once: true }) })
        return stop.which() === 'SIGTERM' ? 143 : 130
      }
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
