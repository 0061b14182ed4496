/**
 * `reelnet get ITEM`: download a rented item from the network, verified,
 * resumable, from several sources at once; serve it to other licensed peers
 * of the region meanwhile (and afterwards with --seed).
 */
import { basename, resolve } from 'node:path'
import { parseFlags, bytesFlag, durationFlag, UsageError, CommandError, type Command } from '../command.ts'
import { DEFAULT_REVOCATION_POLL_MS, MAX_REVOCATION_POLL_MS, MIN_REVOCATION_POLL_MS } from '../../node/client/license-limits.ts'
import type { SchedulerEvent } from '../../node/download/stats.ts'
import type { Customer } from '../../node/client/customer.ts'
import type { Progress } from '../../node/client/progress.ts'

import { loadSession, loadLicense, saveLicense, configDir } from '../session.ts'
import { fromBase64url } from '../../protocol/encoding.ts'

const usage = `usage: reelnet get ITEM [-o FILE] [--seed] [--rent | --license ID] [--max-upload B/s] [--max-download B/s] [--json | --quiet]

Download ITEM (an itemId or title from 'reelnet catalog') for the logged-in customer.
main is asked for a directive (a signed list of edges, parents and peers of
your region); chunks come from several of them at once, each verified
against the signed manifest before it is written. A bad chunk is dropped
and its sender avoided; a dead or stalled source is replaced. The file is
written to FILE.part and renamed to FILE only once every chunk is verified
and the Merkle root matches; an interrupted download (even by SIGKILL)
resumes where it stopped. While it runs, the client serves the chunks it
holds to other licensed peers of its region. An encrypted item is kept as
ciphertext (what every node and peer holds); its content key, sealed by
main to this client's own key, is kept in the config folder's
content-keys/ while the licence is valid, for 'reelnet play' and, for a
purchase, 'reelnet export'. When the licence ends, seeding stops and the
key is removed.

flags:
  -o, --output FILE     where to write (default: ./<title>, else ./<ITEM>)
  --rent                rent ITEM first (else the license from 'reelnet rent' is used)
  --license ID          use this rental of yours (e.g. one rented on the storefront; My rentals shows the command)
  --seed                after the download, keep serving it until the license expires (Ctrl-C stops)
  --max-upload B/s      cap on what this client uploads to peers, e.g. 2MiB (default: none)
  --max-download B/s    cap on this download's average rate, e.g. 4MiB (default: none)
  --region R            the region to download in (default: the account's)
  --listen ADDR         libp2p listen address (default /ip4/0.0.0.0/tcp/0: every interface; the
                        addresses announced to peers exclude loopback unless main is on loopback)
  --revocation-poll D   ask main this often whether the licence still stands (default ${DEFAULT_REVOCATION_POLL_MS / 1000}s,
                        at most 5m); a revoked licence or account stops the download and seeding
  --no-fast-lane        fetch over libp2p only (default: each edge's and parent's TLS 1.3
                        fast lane when it has one, libp2p when it cannot be reached)
  --json                progress and the summary as JSON lines on stdout
  --quiet               print nothing but errors
  -h, --help            show this help

Session and license come from the config folder ($REELNET_CONFIG_DIR, else
~/.config/reelnet): run 'reelnet login' and 'reelnet rent ITEM' first.

REELNET_LOG_LEVEL=info adds structured log lines on stderr (JSON when stderr
is not a terminal): each directive with its directiveId, licenseId and the
peers it names; debug adds a line per chunk with the peer that sent it.`

export interface CustomerSession {
  mainUrl: string
  token: string
  accountId: string
  mainKey: Uint8Array
  region?: string
  configDir: string
}

export interface LicenseRef {
  licenseId: string
  expiresAt: number
  /** The licence's offline grace when it states one (issue 14a's field; read here if present). */
  offlineGraceMs?: number
  kind: 'rental' | 'purchase'
}

/** `--revocation-poll` (get and play): how often the client asks main's revocation list. */
export function revocationPollFlag (value: string | undefined): number {
  return durationFlag('revocation-poll', value, DEFAULT_REVOCATION_POLL_MS, MIN_REVOCATION_POLL_MS, MAX_REVOCATION_POLL_MS)
}

function offlineGraceOf (license: object): number | undefined {
  const g = (license as { offlineGraceMs?: unknown }).offlineGraceMs
  return typeof g === 'number' && Number.isSafeInteger(g) && g >= 0 ? g : undefined
}

/** The logged-in session (cli/session.ts), with main's pinned key as bytes. */
export async function loadCustomerSession (): Promise<CustomerSession> {
  const s = await loadSession()
  let mainKey: Uint8Array
  try { mainKey = fromBase64url(s.mainKey, 64) } catch { mainKey = new Uint8Array(0) }
  if (mainKey.length !== 32) throw new CommandError('the session has no usable pinned main key: run reelnet login again')
  return { mainUrl: s.mainUrl, token: s.token, accountId: s.accountId, mainKey, region: s.region, configDir: configDir() }
}

/** An itemId, or an exact (case-insensitive) title from the catalog. */
export async function resolveItem (session: CustomerSession, item: string, signal?: AbortSignal): Promise<string> {
  if (/^[0-9a-f]{32}$/.test(item)) return item
  const res = await fetch(`${session.mainUrl.replace(/\/+$/, '')}/v1/catalog`, { signal: AbortSignal.any([AbortSignal.timeout(15_000), ...(signal !== undefined ? [signal] : [])]) })
    .catch((err: Error) => { throw new CommandError(`main at ${session.mainUrl} is unreachable: ${err.message}`) })
  if (!res.ok) throw new CommandError(`fetch the catalog: HTTP ${res.status}`)
  const body = await res.json() as { items?: Array<{ itemId: string, title: string }> }
  const matches = (body.items ?? []).filter(i => i.title.toLowerCase() === item.toLowerCase())
  if (matches.length === 1) return (matches[0] as { itemId: string }).itemId
  if (matches.length > 1) throw new CommandError(`several items are titled '${item}'; use the itemId: ${matches.map(m => m.itemId).join(', ')}`)
  throw new CommandError(`no item '${item}' in the catalog (see reelnet catalog)`)
}

/** Fetch one of the account's own rentals from main (`GET /v1/rentals/:id`), check it, and keep it as 'reelnet rent' would. */
export async function fetchLicense (session: CustomerSession, itemId: string, licenseId: string, signal?: AbortSignal): Promise<void> {
  if (!/^[0-9a-f-]{36}$/.test(licenseId)) throw new UsageError(`'${licenseId}' is not a licenseId`)
  const { callMain } = await import('../http.ts')
  const r = await callMain<{ licenseId: string, itemId: string, license: string, expiresAt: number }>(session.mainUrl, 'GET', `/v1/rentals/${licenseId}`, { token: session.token, signal, what: `fetch rental ${licenseId}` })
  if (r.itemId !== itemId) throw new CommandError(`rental ${licenseId} is for item ${r.itemId}, not ${itemId}`)
  const { verifyLicense } = await import('../../protocol/documents.ts')
  const { fromText } = await import('../../protocol/signing.ts')
  let kind: 'rental' | 'purchase'
  try {
    kind = verifyLicense(fromText(r.license), { publicKey: session.mainKey, now: Date.now(), itemId, accountId: session.accountId, licenseId }).kind ?? 'rental'
  } catch (err) {
    if ((err as Error).name === 'ExpiredError') throw new CommandError(`rental ${licenseId} has expired: rent ${itemId} again`)
    throw new CommandError(`main's license ${licenseId} does not verify: ${(err as Error).message}`)
  }
  await saveLicense({ licenseId, itemId, license: r.license, expiresAt: r.expiresAt, mainUrl: session.mainUrl, kind })
}

/** The license for `itemId`: rented now with `rent` (and kept, as 'reelnet rent' does), else the one kept. */
export async function licenseFor (session: CustomerSession, itemId: string, rent: boolean, signal?: AbortSignal): Promise<LicenseRef> {
  if (rent) {
    const { MainApi } = await import('../../node/client/main-api.ts')
    const { toText } = await import('../../protocol/signing.ts')
    const api = new MainApi({ url: session.mainUrl, token: session.token, mainKey: session.mainKey })
    const r = await api.rent(itemId, { signal })
    if (r.license.accountId !== session.accountId) throw new CommandError('main issued a license for another account')
    const kind = r.license.kind ?? 'rental'
    await saveLicense({ licenseId: r.licenseId, itemId, license: toText(r.licenseBytes), expiresAt: r.expiresAt, mainUrl: session.mainUrl, kind })
    return { licenseId: r.licenseId, expiresAt: r.expiresAt, offlineGraceMs: offlineGraceOf(r.license), kind }
  }
  const l = await loadLicense(itemId)
  if (l === undefined) throw new CommandError(`no license for ${itemId}: run reelnet rent ${itemId}, or pass --rent`)
  const { verifyLicense } = await import('../../protocol/documents.ts')
  const { fromText } = await import('../../protocol/signing.ts')
  let verified: { kind?: 'rental' | 'purchase' }
  try {
    verified = verifyLicense(fromText(l.license), { publicKey: session.mainKey, now: Date.now(), itemId, accountId: session.accountId, licenseId: l.licenseId })
  } catch (err) {
    if ((err as Error).name === 'ExpiredError') {
      // the licence has ended: its content key goes too, whether or not a client was running at the time
      const { removeContentKey } = await import('../../node/client/content-key-file.ts')
      await removeContentKey(session.configDir, itemId)
      throw new CommandError(`your license for ${itemId} has expired: rent it again (reelnet rent ${itemId})`)
    }
    throw new CommandError(`the kept license for ${itemId} does not verify: ${(err as Error).message}; rent it again`)
  }
  return { licenseId: l.licenseId, expiresAt: l.expiresAt, offlineGraceMs: offlineGraceOf(verified), kind: verified.kind ?? 'rental' }
}

/** Map the client's typed errors to one line for the user. */
export function commandErrorOf (err: unknown): Error {
  const e = err as Error & { status?: number, code?: string }
  if (e.name === 'UsageError' || e.name === 'CommandError') return e
  if (e.name === 'MainApiError') {
    if (e.status === 401) return new CommandError('your session has expired: run reelnet login again')
    return new CommandError(e.message)
  }
  if (e.name === 'NoSourcesError') return new CommandError(`download stopped: ${e.message}`)
  if (e.name === 'RegionUnservedError') return new CommandError(e.message)
  if (e.name === 'ContentKeyError') return new CommandError(e.message)
  if (e.name === 'ExpiredError' || e.name === 'InvalidSignatureError' || e.name === 'MismatchError') return new CommandError(`main sent a document that does not verify: ${e.message}`)
  return new CommandError(e.message)
}

/** After Ctrl-C or SIGTERM, a client that has not finished stopping in this long exits anyway (a second Ctrl-C exits at once). */
export const STOP_GRACE_MS = 10_000

/** One AbortController for Ctrl-C and SIGTERM; the returned function removes the handlers. */
export function interruptSignal (): { signal: AbortSignal, dispose: () => void, which: () => string | undefined } {
  const ac = new AbortController()
  let got: string | undefined
  const on = (sig: string) => () => {
    got = sig
    ac.abort(new Error(`stopped by ${sig}`))
    // a stuck shutdown (a peer that never closes, a disk that never answers) must not keep the terminal: give up after a while
    setTimeout(() => {
      process.stderr.write(`\nstill stopping after ${STOP_GRACE_MS / 1000} s; exiting now (what was written and journalled is kept)\n`)
      process.exit(sig === 'SIGTERM' ? 143 : 130)
    }, STOP_GRACE_MS).unref()
  }
  const onInt = on('SIGINT')
  const onTerm = on('SIGTERM')
  process.once('SIGINT', onInt)
  process.once('SIGTERM', onTerm)
  return { signal: ac.signal, which: () => got, dispose: () => { process.off('SIGINT', onInt); process.off('SIGTERM', onTerm) } }
}

/** `--max-upload` and `--max-download` (get and play): byte rates such as 2MiB, at least 1KiB/s each. */
export function rateFlags (values: { 'max-upload'?: string, 'max-download'?: string }): { maxUpload?: number, maxDownload?: number } {
  const rate = (name: 'max-upload' | 'max-download'): number | undefined => {
    const v = values[name]
    if (v === undefined) return undefined
    const n = bytesFlag(name, v, 0)
    if (n < 1024) throw new UsageError(`--${name} must be at least 1KiB/s`)
    return n
  }
  return { maxUpload: rate('max-upload'), maxDownload: rate('max-download') }
}

export const command: Command = {
  name: 'get',
  summary: 'download a rented item from the network, verified',
  usage,
  async run (argv) {
    const { values, positionals } = parseFlags(argv, {
      output: { type: 'string', short: 'o' },
      rent: { type: 'boolean' },
      license: { type: 'string' },
      seed: { type: 'boolean' },
      'max-upload': { type: 'string' },
      'max-download': { type: 'string' },
      region: { type: 'string' },
      listen: { type: 'string' },
      'revocation-poll': { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      'no-fast-lane': { type: 'boolean' }
    }, true)
    if (positionals.length !== 1) throw new UsageError('give exactly one ITEM (see reelnet get --help)')
    const revocationPollMs = revocationPollFlag(values['revocation-poll'])
    const item = positionals[0] as string
    if (!/^[\x20-\x7e]{1,512}$/.test(item)) throw new UsageError(`'${item}' is not an itemId or title`)
    if (values.json === true && values.quiet === true) throw new UsageError('--json and --quiet do not go together')
    const { maxUpload, maxDownload } = rateFlags(values)

    const session = await loadCustomerSession()
    const { Customer: CustomerClass } = await import('../../node/client/customer.ts')
    const { Progress: ProgressClass, chooseMode } = await import('../../node/client/progress.ts')
    const stop = interruptSignal()
    let customer: Customer | undefined
    let progress: Progress | undefined
    const mode = chooseMode({ json: values.json, quiet: values.quiet }, process.stderr.isTTY === true)
    const events: SchedulerEvent[] = []
    const { createLogger, logLevelFromEnv } = await import('../log.ts')
    // quiet by default: the progress display and --json are the client's normal output
    const logger = createLogger('reelnet-get', { level: logLevelFromEnv('warn') })
    try {
      const itemId = await resolveItem(session, item, stop.signal)
      if (values.license !== undefined) {
        if (values.rent === true) throw new UsageError('--rent and --license do not go together')
        await fetchLicense(session, itemId, values.license, stop.signal)
      }
      const license = await licenseFor(session, itemId, values.rent === true, stop.signal)
      const { MainApi } = await import('../../node/client/main-api.ts')
      const outPath = resolve(values.output ?? await defaultOutput(new MainApi({ url: session.mainUrl, token: session.token, mainKey: session.mainKey }), itemId, stop.signal))
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
        listen: values.listen !== undefined ? [values.listen] : undefined,
        maxUpload,
        limits: maxDownload !== undefined ? { maxRate: maxDownload } : undefined,
        fastLane: values['no-fast-lane'] !== true,
        signal: stop.signal,
        revocationPollMs,
        offlineGraceMs: license.offlineGraceMs,
        onEvent: e => {
          if (e.type !== 'chunk') events.push(e)
          else logger.debug({ itemId, index: e.index, sourcePeerId: e.source, kind: e.kind, bytes: e.bytes }, 'chunk received')
          progress?.event(e)
        },
        onDirective: d => { logger.info({ directiveId: d.directiveId, licenseId: d.licenseId, itemId: d.itemId, clientPeerId: d.clientPeerId, region: d.region, peers: d.peers.map(p => `${p.role}:${p.peerId}`) }, 'directive received') },
        log: line => { if (mode !== 'quiet' && mode !== 'json') process.stderr.write(`${line}\n`) }
      })
      const c = customer
      progress = new ProgressClass({ mode, label: basename(outPath), stats: () => c.scheduler.stats() })
      if (mode === 'json') {
        progress.json({ type: 'start', itemId, peerId: c.peerId, region: c.region, output: outPath, size: c.manifest.size, chunkCount: c.manifest.chunkCount, resumedChunks: c.part.resumed.length, addrs: c.host.getMultiaddrs().map((a: { toString: () => string }) => a.toString()) })
      }
      progress.start()
      await c.download()
      progress.stop({ ok: true })
      if (mode !== 'json' && mode !== 'quiet') process.stderr.write(`wrote ${outPath}\n`)
      if (values.seed === true && !stop.signal.aborted) {
        if (mode === 'json') progress.json({ type: 'seeding', peerId: c.peerId, until: license.expiresAt })
        else if (mode !== 'quiet') process.stderr.write(`seeding ${itemId} to licensed peers of ${c.region} until ${new Date(license.expiresAt).toISOString()} (Ctrl-C stops)\n`)
        await c.seed(stop.signal)
        if (mode === 'json') progress.json({ type: 'seeded', servedBytes: c.seeder.servedBytes, ...(c.endedReason !== undefined ? { ended: c.endedReason } : {}), ...(c.expired ? { licenseEnded: license.expiresAt } : {}) })
        else if (mode !== 'quiet') process.stderr.write(`served ${(c.seeder.servedBytes / 1048576).toFixed(1)} MiB to peers${c.endedReason !== undefined ? `; stopped: ${c.endedReason}` : ''}${c.expired ? '; the licence has ended: seeding stopped and the content key was removed' : ''}\n`)
      }
      return 0
    } catch (err) {
      progress?.stop({ ok: false, message: (err as Error).message })
      if (stop.signal.aborted) {
        if (mode !== 'quiet') process.stderr.write(`\nstopped; run the same command again to resume\n`)
        return stop.which() === 'SIGTERM' ? 143 : 130
      }
      throw commandErrorOf(err)
    } finally {
      stop.dispose()
      await customer?.stop()
    }
  }
}

async function defaultOutput (api: { manifest: (id: string, o: { signal?: AbortSignal }) => Promise<{ manifest: { title: string } }> }, itemId: string, signal: AbortSignal): Promise<string> {
  try {
    const { manifest } = await api.manifest(itemId, { signal })
    const name = manifest.title.replace(/[/\\\0]/g, '_').replace(/^\.+/, '').trim()
    if (name !== '' && name.length <= 200) return name
  } catch { /* fall back to the id; Customer.start reports main's error properly */ }
  return itemId.replace(/[/\\]/g, '_')
}
