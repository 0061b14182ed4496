/** `reelnet ingest FILE --title T`: stream a file to main (admin), which chunks, hashes, stores and signs it. */
import { createReadStream } from 'node:fs'
import { stat, readFile } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { basename } from 'node:path'
import { parseFlags, bytesFlag, UsageError, CommandError, type Command } from '../command.ts'
import { callMain, mainUrlOf, DEFAULT_MAIN_URL } from '../http.ts'
import { readTokensFile } from '../../main/tokens.ts'
import { verifyManifest } from '../../protocol/documents.ts'
import { fromText } from '../../protocol/signing.ts'
import { fromBase64url } from '../../protocol/encoding.ts'
import { fetchMainKey } from './login.ts'
import { formatBytes } from './catalog.ts'
import { MAX_DESCRIPTION_LENGTH, MAX_POSTER_BYTES } from '../../main/limits.ts'
import { TERMS_FLAGS, TERMS_HELP, termsPatchOf } from './terms-flags.ts'

/** An upload that moves no byte for this long has stalled. */
export const INGEST_STALL_MS = 60_000
/** How often progress is redrawn. */
const PROGRESS_EVERY_MS = 500

const usage = `usage: reelnet ingest FILE --title T [--description D] [--poster IMAGE] [--replace ITEM] [terms flags] [--main URL] [--admin-token T | --data DIR] [--chunk-size S] [--encrypt | --plain]

Add FILE to the catalog: it is streamed to main, which splits it into
chunks, hashes them, keeps them as the origin copy and signs the manifest.
An encrypted item (--encrypt, or main started with --encrypt) gets a fresh
random content key and itemId: main keeps only ciphertext, nodes and peers
hold and pass on only ciphertext, and a licensed customer gets the key
sealed to its own key. A plaintext item's itemId comes from its bytes:
re-ingesting the same bytes gives the same itemId. Progress goes to
stderr; the itemId to stdout. With --replace ITEM, FILE becomes the next
version of ITEM (same itemId, a new manifest and, if encrypted, a new
content key): new rentals and playbacks get it, downloads already running
finish on theirs, and the old version's chunks are collected everywhere
once no download runs on it.

flags:
  --title T          the title customers see (default: the file name)
  --description D    the storefront's text about it (at most 4000 characters)
  --poster IMAGE     a PNG, JPEG or WebP poster for the storefront (at most 256 KiB)
  --main URL         main's address (default ${DEFAULT_MAIN_URL})
  --admin-token T    admin token (else REELNET_ADMIN_TOKEN, else DIR/tokens.json with --data)
  --data DIR         main's data folder, to read the admin token from
  --chunk-size S     chunk size, e.g. 1MiB (default: main's, 1 MiB)
  --replace ITEM     make FILE the next version of this itemId (its title is kept unless --title)
  --encrypt          encrypt the item with a fresh content key
  --plain            store it unencrypted (free material), whatever main's default

terms (stored before the item is visible; change later with reelnet admin item set):
${TERMS_HELP}

  --json             print main's answer as JSON
  -h, --help         show this help`

async function adminTokenOf (flag: string | undefined, dataDir: string | undefined): Promise<string> {
  if (flag !== undefined) return flag
  const env = process.env.REELNET_ADMIN_TOKEN
  if (env !== undefined && env !== '') return env
  if (dataDir !== undefined) {
    const t = await readTokensFile(dataDir).catch((err: Error) => { throw new CommandError(`cannot read tokens from ${dataDir}: ${err.message}`) })
    if (t?.adminToken !== undefined) return t.adminToken
    throw new CommandError(`no tokens.json in ${dataDir}`)
  }
  throw new UsageError('the admin token is needed: --admin-token, REELNET_ADMIN_TOKEN, or --data DIR of a local main')
}

function progress (total: number): { add: (n: number) => void, done: () => void } {
  const started = performance.now()
  let sent = 0
  let last = 0
  const tty = process.stderr.isTTY === true
  const draw = (final: boolean): void => {
    const s = (performance.now() - started) / 1000
    const rate = s > 0 ? sent / s : 0
    const eta = rate > 0 ? (total - sent) / rate : 0
    const pct = total > 0 ? (100 * sent / total).toFixed(1) : '100.0'
    const line = `ingest ${formatBytes(sent)} / ${formatBytes(total)} (${pct}%)  ${formatBytes(rate)}/s  ETA ${final ? 0 : Math.ceil(eta)} s`
    process.stderr.write(tty ? `\r${line}\x1b[K${final ? '\n' : ''}` : `${line}\n`)
  }
  return {
    add: (n) => {
      sent += n
      const now = performance.now()
      if (now - last >= (tty ? PROGRESS_EVERY_MS : 10 * PROGRESS_EVERY_MS)) { last = now; draw(false) }
    },
    done: () => { draw(true) }
  }
}

/** The current title of an item (a replace keeps it unless --title says otherwise). */
async function titleOf (mainUrl: string, itemId: string): Promise<string | undefined> {
  const { items } = await callMain<{ items: Array<{ itemId: string, title: string }> }>(mainUrl, 'GET', '/v1/catalog', { what: 'read the catalog' }).catch(() => ({ items: [] }))
  return items.find(i => i.itemId === itemId)?.title
}

export const command: Command = {
  name: 'ingest',
  summary: 'add a file to the catalog (admin)',
  usage,
  async run (argv) {
    const { values, positionals } = parseFlags(argv, {
      title: { type: 'string' }, main: { type: 'string' }, 'admin-token': { type: 'string' }, data: { type: 'string' },
      'chunk-size': { type: 'string' }, json: { type: 'boolean' }, description: { type: 'string' }, poster: { type: 'string' },
      replace: { type: 'string' }, encrypt: { type: 'boolean' }, plain: { type: 'boolean' }, ...TERMS_FLAGS
    }, true)
    if (values.encrypt === true && values.plain === true) throw new UsageError('--encrypt and --plain do not go together')
    const terms = termsPatchOf(values)
    const replace = values.replace
    if (replace !== undefined && !/^[0-9a-f]{32}$/.test(replace)) throw new UsageError(`--replace takes an itemId (32 hex characters, see reelnet admin items), got '${replace.slice(0, 64)}'`)
    if (positionals.length !== 1) throw new UsageError('usage: reelnet ingest FILE --title T')
    const file = positionals[0]!
    const chunkSize = values['chunk-size'] === undefined ? undefined : bytesFlag('chunk-size', values['chunk-size'], 0)
    const mainUrl = mainUrlOf(values.main ?? DEFAULT_MAIN_URL)
    const token = await adminTokenOf(values['admin-token'], values.data)
    let size: number
    try {
      const st = await stat(file)
      if (!st.isFile()) throw new CommandError(`${file} is not a file`)
      size = st.size
    } catch (err) {
      if (err instanceof CommandError) throw err
      throw new CommandError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    const title = values.title ?? (replace !== undefined ? await titleOf(mainUrlOf(values.main ?? DEFAULT_MAIN_URL), replace) : undefined) ?? basename(file)
    const description = values.description
    if (description !== undefined && description.length > MAX_DESCRIPTION_LENGTH) throw new UsageError(`--description is at most ${MAX_DESCRIPTION_LENGTH} characters`)
    let poster: Buffer | undefined
    if (values.poster !== undefined) {
      const st = await stat(values.poster).catch((err: NodeJS.ErrnoException) => { throw new CommandError(`cannot read ${values.poster}: ${err.code ?? err.message}`) })
      if (!st.isFile()) throw new CommandError(`${values.poster} is not a file`)
      if (st.size > MAX_POSTER_BYTES) throw new UsageError(`--poster is at most ${MAX_POSTER_BYTES} bytes; ${values.poster} has ${st.size}`)
      poster = await readFile(values.poster)
    }
    const key = await fetchMainKey(mainUrl)

    const bar = progress(size)
    const stall = new AbortController()
    let timer = setTimeout(() => { stall.abort() }, INGEST_STALL_MS)
    const counted = Readable.toWeb(createReadStream(file, { highWaterMark: 1024 * 1024 })).pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
      transform (chunk, controller) {
        bar.add(chunk.length)
        clearTimeout(timer)
        timer = setTimeout(() => { stall.abort() }, INGEST_STALL_MS)
        controller.enqueue(chunk)
      }
    })) as ReadableStream<Uint8Array>
    const query = new URLSearchParams({ title })
    if (chunkSize !== undefined) query.set('chunkSize', String(chunkSize))
    if (description !== undefined) query.set('description', description)
    if (replace !== undefined) query.set('replace', replace)
    if (terms !== undefined) query.set('terms', JSON.stringify(terms))
    if (values.encrypt === true || values.plain === true) query.set('encrypt', String(values.encrypt === true))
    let answer: { itemId: string, manifest: string, size: number, chunkCount: number, version?: number }
    try {
      answer = await callMain(mainUrl, 'POST', `/v1/items?${query.toString()}`, {
        body: counted,
        token,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
        // The upload itself may take long: the stall timer bounds it instead.
        timeoutMs: 24 * 3600_000,
        signal: stall.signal,
        what: `ingest ${file}`
      })
    } catch (err) {
      if (stall.signal.aborted) throw new CommandError(`ingest stalled: no progress for ${INGEST_STALL_MS / 1000} s`)
      throw err
    } finally {
      clearTimeout(timer)
    }
    bar.done()
    const manifest = verifyManifest(fromText(answer.manifest), { publicKey: fromBase64url(key.publicKey), itemId: answer.itemId })
    if (manifest.size !== size) throw new CommandError(`main's manifest says ${manifest.size} bytes, the file has ${size}`)
    if (poster !== undefined) {
      await callMain(mainUrl, 'PUT', `/v1/items/${answer.itemId}/poster`, {
        body: new Uint8Array(poster), token, headers: { 'content-type': 'application/octet-stream' }, what: `upload the poster ${values.poster ?? ''}`
      })
    }
    if (values.json === true) console.log(JSON.stringify({ itemId: answer.itemId, title: manifest.title, size, chunkCount: manifest.chunkCount, version: manifest.version, encrypted: manifest.encryption !== undefined, manifest: answer.manifest }, null, 2))
    else console.log(answer.itemId)
    process.stderr.write(`ingested '${manifest.title}'${manifest.version > 1 ? ` as version ${manifest.version}` : ''}: ${formatBytes(size)} in ${manifest.chunkCount} chunks${manifest.encryption !== undefined ? ', encrypted' : ''}, signed by ${key.keyId}\n`)
    return 0
  }
}
