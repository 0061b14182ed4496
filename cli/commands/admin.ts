/**
 * `reelnet admin SUBCOMMAND`: what the operator page does, from a shell — list nodes and items, mint node
 * tokens, drain, undrain and remove nodes, preposition items. Every subcommand talks to main's operator
 * routes with the operator (or admin) token, prints a table (or JSON with --json) and fails with one line.
 */
import { parseFlags, UsageError, CommandError, type Command, type Options } from '../command.ts'
import { callMain, mainUrlOf, DEFAULT_MAIN_URL } from '../http.ts'
import { readTokensFile } from '../../main/tokens.ts'
import { formatBytes } from './catalog.ts'
import { TERMS_FLAGS, TERMS_HELP, termsPatchOf, formatPrice } from './terms-flags.ts'

/** A NODE or ITEM argument longer than this is not a peerId, itemId or title main would know. */
export const MAX_NAME_ARG = 256
/** A unique prefix of a peerId or itemId this long or longer names it (shorter is too easy to mistype into another). */
export const MIN_PREFIX = 6

const COMMON_FLAGS = `common flags:
  --main URL            main's address (default ${DEFAULT_MAIN_URL})
  --operator-token T    operator token (else REELNET_OPERATOR_TOKEN, else --admin-token /
                        REELNET_ADMIN_TOKEN, else DIR/tokens.json with --data)
  --admin-token T       the admin token also does everything an operator may
  --data DIR            main's data folder, to read the tokens from
  --json                print main's answer as JSON instead of a table
  -h, --help            show this help`

interface Sub {
  /** Needs the admin token, not only the operator's (item terms, takedown, revoking customers' access). */
  admin?: boolean
  summary: string
  usage: string
  flags?: Options
  /** How many positionals, or the least and most. */
  positionals: number | [number, number]
  run: (ctx: Ctx, args: string[], values: Record<string, string | boolean | undefined>) => Promise<void>
}

interface Ctx {
  mainUrl: string
  token: string
  json: boolean
  call: <T>(method: string, path: string, what: string, json?: unknown) => Promise<T>
}

interface NodeView {
  peerId: string
  role: 'parent' | 'edge'
  region: string
  status: 'up' | 'down'
  drained: boolean
  load: number
  freeBytes: number
  capacityBytes: number
  lastSeen: number
  addrs: string[]
  heldItems: string[]
  version?: string
}

interface OverviewItem {
  itemId: string
  title: string
  size: number
  parentsHolding: number
  parents: number
  edgesHolding: string[]
  prepositionedIn: string[]
  version?: number
  priority?: number
  parentsLacking?: string[]
}

interface Overview {
  now: number
  regions: Array<{ name: string, operatorPreposition: string[] }>
  items: OverviewItem[]
}

/** Lay out rows under a header, columns padded to their widest cell. */
export function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

function ago (ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 120) return `${s}s ago`
  if (s < 7200) return `${Math.round(s / 60)}m ago`
  if (s < 172_800) return `${Math.round(s / 3600)}h ago`
  return `${Math.round(s / 86_400)}d ago`
}

function checkName (what: string, v: string): string {
  if (v.length === 0 || v.length > MAX_NAME_ARG) throw new UsageError(`${what} must be 1 to ${MAX_NAME_ARG} characters`)
  return v
}

/** A node by its peerId or a unique prefix of it (at least MIN_PREFIX characters). */
async function resolveNode (ctx: Ctx, arg: string): Promise<NodeView> {
  checkName('NODE', arg)
  const { nodes } = await ctx.call<{ nodes: NodeView[] }>('GET', '/v1/nodes', 'list nodes')
  const exact = nodes.find(n => n.peerId === arg)
  if (exact !== undefined) return exact
  const matches = arg.length >= MIN_PREFIX ? nodes.filter(n => n.peerId.startsWith(arg)) : []
  if (matches.length === 1) return matches[0]!
  if (matches.length > 1) throw new CommandError(`'${arg}' matches ${matches.length} nodes; give more of the peerId`)
  throw new CommandError(`no node '${arg}' is registered (see reelnet admin nodes)`)
}

/** An item by its itemId, a unique prefix of it, or its exact title (any item not taken down, in its window or not). */
async function resolveItem (ctx: Ctx, arg: string): Promise<{ itemId: string, title: string }> {
  checkName('ITEM', arg)
  const { items } = await ctx.call<{ items: Array<{ itemId: string, title: string }> }>('GET', '/v1/operator/overview', 'read the catalog')
  const byId = items.filter(i => i.itemId === arg || (arg.length >= MIN_PREFIX && i.itemId.startsWith(arg)))
  if (byId.length === 1) return byId[0]!
  const byTitle = items.filter(i => i.title === arg)
  if (byTitle.length === 1) return byTitle[0]!
  if (byId.length + byTitle.length > 1) throw new CommandError(`'${arg}' matches ${byId.length + byTitle.length} items; give the itemId: ${[...byId, ...byTitle].map(i => `${i.itemId} (${i.title})`).join(', ')}`)
  throw new CommandError(`no item '${arg}' in the catalog (see reelnet admin items)`)
}

function regionOf (values: Record<string, string | boolean | undefined>): string {
  const region = values.region
  if (typeof region !== 'string') throw new UsageError('--region R is needed')
  if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(region)) throw new UsageError(`--region must be lower-case letters, digits and '-', up to 32, got '${region}'`)
  return region
}

function print (ctx: Ctx, json: unknown, text: string): void {
  console.log(ctx.json ? JSON.stringify(json, null, 2) : text)
}

async function setDrained (ctx: Ctx, arg: string, drained: boolean): Promise<void> {
  const node = await resolveNode(ctx, arg)
  const answer = await ctx.call<{ node: NodeView }>('POST', `/v1/nodes/${node.peerId}/drain`, `${drained ? 'drain' : 'undrain'} ${node.peerId}`, { drained })
  print(ctx, answer, `${drained ? 'drained' : 'undrained'} ${node.role} ${node.peerId} of region ${node.region}${drained ? ' (directives stop naming it)' : ''}`)
}

const SUBS: Record<string, Sub> = {
  nodes: {
    summary: 'list the registered parents and edges with status, load, free space and software version',
    usage: 'usage: reelnet admin nodes [--region R]\n\nEvery registered node: region, role, peerId, status (up, down, drained), load,\nfree space of its capacity, last heartbeat and addresses.',
    flags: { region: { type: 'string' } },
    positionals: 0,
    async run (ctx, _args, values) {
      const answer = await ctx.call<{ nodes: NodeView[], rulesVersion: number }>('GET', '/v1/nodes', 'list nodes')
      const now = Date.now()
      const nodes = values.region === undefined ? answer.nodes : answer.nodes.filter(n => n.region === regionOf(values))
      if (ctx.json) { print(ctx, { ...answer, nodes }, ''); return }
      if (nodes.length === 0) { console.log(`no nodes registered${values.region === undefined ? '' : ` in region ${String(values.region)}`} (rules version ${answer.rulesVersion})`); return }
      console.log(table(['REGION', 'ROLE', 'PEER', 'STATUS', 'LOAD', 'FREE', 'CAPACITY', 'VERSION', 'HEARD', 'ADDRS'], nodes.map(n => [
        n.region, n.role, n.peerId, n.drained ? `${n.status},drained` : n.status, n.load.toFixed(2),
        formatBytes(n.freeBytes), formatBytes(n.capacityBytes), n.version ?? '-', ago(now - n.lastSeen), n.addrs.join(',')
      ])))
    }
  },
  items: {
    summary: 'list the catalog with how many parents hold each item and where it is prepositioned',
    usage: 'usage: reelnet admin items\n\nEvery item: itemId, title, size, parents holding it verified (of all parents),\nedges holding it, and the regions it is prepositioned in.',
    positionals: 0,
    async run (ctx) {
      const o = await ctx.call<Overview>('GET', '/v1/operator/overview', 'read the overview')
      if (ctx.json) { print(ctx, { items: o.items }, ''); return }
      if (o.items.length === 0) { console.log('no items in the catalog'); return }
      console.log(table(['ITEM', 'TITLE', 'VER', 'PRIO', 'SIZE', 'PARENTS', 'LACKING', 'EDGES', 'PREPOSITIONED'], o.items.map(i => [
        i.itemId, i.title, String(i.version ?? 1), String(i.priority ?? 0), formatBytes(i.size), `${i.parentsHolding}/${i.parents}`,
        String(i.parentsLacking?.length ?? 0), String(i.edgesHolding.length), i.prepositionedIn.join(',') || '-'
      ])))
    }
  },
  token: {
    summary: 'mint a registration token for one new node: token mint --role parent|edge --region R',
    usage: 'usage: reelnet admin token mint --role parent|edge --region R\n\nMint a node token: it registers one node of that role and region (bound to the\nfirst node that uses it), can do nothing else, and expires unused after 24 hours.\nPrints the token and the command that starts the node.',
    flags: { role: { type: 'string' }, region: { type: 'string' } },
    positionals: 1,
    async run (ctx, args, values) {
      if (args[0] !== 'mint') throw new UsageError(`unknown token action '${args[0] ?? ''}' (only: reelnet admin token mint --role R --region R)`)
      const role = values.role
      if (role !== 'parent' && role !== 'edge') throw new UsageError('--role must be parent or edge')
      const region = regionOf(values)
      const answer = await ctx.call<{ token: string, expiresAt: number, command: string }>('POST', '/v1/node-tokens', `mint a ${role} token`, { role, region })
      print(ctx, answer, `${answer.token}\nexpires unused at ${new Date(answer.expiresAt).toISOString()}; start the node with:\n  ${answer.command}`)
    }
  },
  drain: {
    summary: 'stop directing customers to a node (maintenance): drain NODE',
    usage: 'usage: reelnet admin drain NODE\n\nNODE is a peerId or a unique prefix of one (at least 6 characters). A drained\nnode stays in the rules and keeps serving other nodes; directives stop naming it.',
    positionals: 1,
    async run (ctx, args) { await setDrained(ctx, args[0]!, true) }
  },
  undrain: {
    summary: 'direct customers to a drained node again: undrain NODE',
    usage: 'usage: reelnet admin undrain NODE\n\nNODE is a peerId or a unique prefix of one (at least 6 characters).',
    positionals: 1,
    async run (ctx, args) { await setDrained(ctx, args[0]!, false) }
  },
  remove: {
    summary: 'take a node out of the signed rules for good: remove NODE',
    usage: 'usage: reelnet admin remove NODE\n\nNODE is a peerId or a unique prefix of one (at least 6 characters). The node\nleaves the next signed rules and every directive, and its node token is spent:\nto bring it back, mint a fresh token and start it with that.',
    positionals: 1,
    async run (ctx, args) {
      const node = await resolveNode(ctx, args[0]!)
      const answer = await ctx.call<{ tokensSpent: number, rulesVersion: number }>('DELETE', `/v1/nodes/${node.peerId}`, `remove ${node.peerId}`)
      print(ctx, answer, `removed ${node.role} ${node.peerId} of region ${node.region} (rules version ${answer.rulesVersion}; ${answer.tokensSpent} node token${answer.tokensSpent === 1 ? '' : 's'} spent)`)
    }
  },
  quarantine: {
    summary: 'list quarantined sources and open reports, or quarantine one: quarantine [NODE]',
    usage: 'usage: reelnet admin quarantine [NODE]\n\nWithout NODE: sources (nodes or seeding customers) that reporters of two or more\ndistinct identities named for bad chunks within the window, and sources with\nreports that have not yet agreed. Directives leave quarantined sources out until\ncleared (reelnet admin clear PEER).\n\nWith NODE (a registered node\'s peerId or a unique prefix of one, at least 6\ncharacters, or any customer\'s full peerId): quarantine it now, by decision.\nDirectives leave it out at once, and it enters the signed revocation list, so\nwithin one rules poll other nodes stop fetching from it and refuse it as a\nmember of the region.',
    positionals: [0, 1],
    async run (ctx, args) {
      if (args.length === 1) {
        const arg = checkName('NODE', args[0]!)
        const peerId = /^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/.test(arg) ? arg : (await resolveNode(ctx, arg)).peerId
        const answer = await ctx.call<{ quarantined: { peerId: string, role: string, region: string }, created: boolean, revocationsVersion: number }>('POST', '/v1/quarantine', `quarantine ${peerId}`, { peerId })
        const e = answer.quarantined
        print(ctx, answer, `${answer.created ? 'quarantined' : 'already quarantined:'} ${e.role} ${e.peerId}${e.region !== '' ? ` of region ${e.region}` : ''} (revocation list version ${answer.revocationsVersion}; reelnet admin clear ${e.peerId.slice(0, 12)} lets it back)`)
        return
      }
      const q = await ctx.call<{ quarantined: Array<{ peerId: string, role: string, region: string, since: number, reporters: string[] }>, open: Array<{ peerId: string, reporters: number, lastAt: number }> }>('GET', '/v1/quarantine', 'read the quarantine')
      if (ctx.json) { print(ctx, q, ''); return }
      const now = Date.now()
      console.log(q.quarantined.length === 0
        ? 'no source is quarantined'
        : table(['PEER', 'ROLE', 'REGION', 'SINCE', 'REPORTERS'], q.quarantined.map(e => [e.peerId, e.role, e.region, ago(now - e.since), String(e.reporters.length)])))
      if (q.open.length > 0) console.log(`\nopen reports (not yet agreed):\n${table(['PEER', 'REPORTERS', 'LAST'], q.open.map(o => [o.peerId, String(o.reporters), ago(now - o.lastAt)]))}`)
    }
  },
  revoke: {
    summary: 'revoke a licence, an account or one session (admin token): revoke license|account|session ID',
    usage: 'usage: reelnet admin revoke license|account|session ID\n\nNeeds the admin token (--admin-token, REELNET_ADMIN_TOKEN, or --data DIR).\n  license ID   a licenseId: main refuses its directives at once; it enters the signed\n               revocation list, so within one rules poll parents, edges and seeding\n               customers refuse requests on it, and its customer\'s download or playback\n               stops at its next check of the list (reelnet get --revocation-poll).\n  account ID   an accountId or username: every session of it fails at once, log-in is\n               refused, and its directives are refused everywhere as above.\n  session ID   a session\'s id (the SHA-256 of its token in hex; the log-in answer\'s\n               sessionId): that session fails at once; the account\'s others go on.\nRevoking again changes nothing. There is no un-revoke: rent or sign up again.',
    positionals: 2,
    admin: true,
    async run (ctx, args) {
      const kind = args[0]!
      if (kind !== 'license' && kind !== 'account' && kind !== 'session') throw new UsageError(`revoke what? license, account or session, not '${kind}'`)
      const id = checkName('ID', args[1]!)
      const answer = await ctx.call<{ kind: string, id: string, revokedAt: number, created: boolean, revocationsVersion: number }>('POST', '/v1/admin/revoke', `revoke ${kind} ${id}`, { kind, id })
      const reach = kind === 'session' ? 'it fails at once' : `revocation list version ${answer.revocationsVersion}; every tier refuses it within one rules poll`
      print(ctx, answer, `${answer.created ? 'revoked' : 'already revoked:'} ${kind} ${answer.id} (${reach})`)
    }
  },
  clear: {
    summary: 'take a source out of quarantine: clear PEER',
    usage: 'usage: reelnet admin clear PEER\n\nPEER is the quarantined peerId (or a unique prefix of one, at least 6\ncharacters). Directives may name it again, and its old reports are forgotten.',
    positionals: 1,
    async run (ctx, args) {
      const arg = checkName('PEER', args[0]!)
      const q = await ctx.call<{ quarantined: Array<{ peerId: string }> }>('GET', '/v1/quarantine', 'read the quarantine')
      const matches = q.quarantined.filter(e => e.peerId === arg || (arg.length >= MIN_PREFIX && e.peerId.startsWith(arg)))
      if (matches.length !== 1) throw new CommandError(matches.length === 0 ? `'${arg}' is not quarantined (see reelnet admin quarantine)` : `'${arg}' matches ${matches.length} quarantined sources; give more of the peerId`)
      const peerId = matches[0]!.peerId
      const answer = await ctx.call<{ cleared: { role: string, region: string } }>('DELETE', `/v1/quarantine/${peerId}`, `clear ${peerId}`)
      print(ctx, answer, `cleared ${answer.cleared.role} ${peerId} of region ${answer.cleared.region}: directives may name it again`)
    }
  },
  item: {
    admin: true,
    summary: 'change an item\'s terms or take it down: item set ITEM --price 399 …, item remove ITEM [--reason R]',
    usage: `usage: reelnet admin item set ITEM [terms flags]
       reelnet admin item remove ITEM [--reason R]

ITEM is an itemId, a unique prefix of one, or an exact title. Needs the admin
token (--admin-token, REELNET_ADMIN_TOKEN, or --data DIR).

set: change the item's terms; a flag left out keeps its value. The rules
  nodes follow are published again at once.
${TERMS_HELP}

remove: take the item down at once: it leaves the catalog, directives are
  refused (410), every parent and edge deletes its chunks within one rules
  poll, seeding customers stop serving it, and its licences end with
  --reason (shown to customers, at most 300 characters).`,
    flags: { ...TERMS_FLAGS, reason: { type: 'string' } },
    positionals: 2,
    async run (ctx, args, values) {
      const [action, arg] = args as [string, string]
      if (action !== 'set' && action !== 'remove') throw new UsageError(`unknown item action '${action}' (set or remove)`)
      // flags are checked before main is asked anything
      const reason = typeof values.reason === 'string' ? values.reason : undefined
      if (reason !== undefined && (action !== 'remove' || reason.trim() === '' || reason.length > 300)) throw new UsageError(action !== 'remove' ? '--reason goes with item remove' : '--reason is 1 to 300 characters')
      const patch = action === 'set' ? termsPatchOf(values) : undefined
      if (action === 'set' && patch === undefined) throw new UsageError('item set needs at least one terms flag (see reelnet admin item --help)')
      if (action === 'remove' && termsPatchOf(values) !== undefined) throw new UsageError('terms flags go with item set')
      const item = await resolveItem(ctx, arg)
      if (action === 'remove') {
        const answer = await ctx.call<{ removedAt: number, reason: string | null, rulesVersion: number }>('DELETE', `/v1/items/${item.itemId}`, `remove ${item.itemId}`, reason === undefined ? undefined : { reason })
        print(ctx, answer, `removed '${item.title}' (${item.itemId}) at ${new Date(answer.removedAt).toISOString()}${answer.reason !== null ? `: ${answer.reason}` : ''}; nodes delete it at rules version ${answer.rulesVersion}`)
        return
      }
      const answer = await ctx.call<{ terms: { rental?: { hours: number, price?: { amount: number, currency: string } }, purchase?: { price: { amount: number, currency: string } }, maxDevices?: number, availableFrom?: number, availableUntil?: number, regions?: string[], priority?: number }, rulesVersion: number }>('PATCH', `/v1/items/${item.itemId}`, `set the terms of ${item.itemId}`, patch)
      const t = answer.terms
      print(ctx, answer, [
        `'${item.title}' (${item.itemId}), rules version ${answer.rulesVersion}:`,
        `  rental     ${t.rental !== undefined ? `${t.rental.hours} h, ${formatPrice(t.rental.price)}` : 'main\'s default period, free'}`,
        `  purchase   ${t.purchase !== undefined ? formatPrice(t.purchase.price) : '-'}`,
        `  devices    ${t.maxDevices ?? 'default'}`,
        `  window     ${t.availableFrom !== undefined ? new Date(t.availableFrom).toISOString() : 'now'} .. ${t.availableUntil !== undefined ? new Date(t.availableUntil).toISOString() : 'open'}`,
        `  regions    ${t.regions?.join(', ') ?? 'all'}`,
        `  priority   ${t.priority ?? 0}`
      ].join('\n'))
    }
  },
  preposition: {
    summary: 'have a region\'s edges hold an item before anyone asks: preposition ITEM --region R',
    usage: 'usage: reelnet admin preposition ITEM --region R [--remove]\n\nITEM is an itemId, a unique prefix of one, or an exact title. Adds it to the\nregion\'s preposition list in the signed rules (--remove takes it off), and\nprints the region\'s list.',
    flags: { region: { type: 'string' }, remove: { type: 'boolean' } },
    positionals: 1,
    async run (ctx, args, values) {
      const region = regionOf(values)
      const item = await resolveItem(ctx, args[0]!)
      const o = await ctx.call<Overview>('GET', '/v1/operator/overview', 'read the overview')
      const current = o.regions.find(r => r.name === region)?.operatorPreposition ?? []
      const next = values.remove === true ? current.filter(id => id !== item.itemId) : [...current.filter(id => id !== item.itemId), item.itemId]
      const answer = await ctx.call<{ region: string, itemIds: string[], rulesVersion: number }>('PUT', `/v1/regions/${region}/preposition`, `preposition in ${region}`, { itemIds: next })
      print(ctx, answer, `${values.remove === true ? 'no longer prepositioning' : 'prepositioning'} '${item.title}' (${item.itemId}) in ${region}; the region's list has ${answer.itemIds.length} item${answer.itemIds.length === 1 ? '' : 's'} (rules version ${answer.rulesVersion})`)
    }
  }
}

function help (): string {
  const width = Math.max(...Object.keys(SUBS).map(k => k.length))
  return [
    'usage: reelnet admin <subcommand> [flags]     reelnet admin <subcommand> --help',
    '',
    'Run the network from a shell, as the operator page does.',
    '',
    'subcommands:',
    ...Object.entries(SUBS).map(([name, s]) => `  ${name.padEnd(width)}  ${s.summary}`),
    '',
    COMMON_FLAGS
  ].join('\n')
}

/** The admin token: --admin-token, REELNET_ADMIN_TOKEN, or DIR/tokens.json with --data. */
async function adminToken (values: Record<string, string | boolean | undefined>): Promise<string> {
  if (typeof values['admin-token'] === 'string') return values['admin-token']
  const env = process.env.REELNET_ADMIN_TOKEN
  if (env !== undefined && env !== '') return env
  if (typeof values.data === 'string') {
    const dir = values.data
    const t = await readTokensFile(dir).catch((err: Error) => { throw new CommandError(`cannot read tokens from ${dir}: ${err.message}`) })
    if (typeof t?.adminToken === 'string') return t.adminToken
    throw new CommandError(`no admin token in ${dir}/tokens.json`)
  }
  throw new UsageError('this needs the admin token: --admin-token, REELNET_ADMIN_TOKEN, or --data DIR of a local main')
}

async function operatorToken (values: Record<string, string | boolean | undefined>): Promise<string> {
  if (typeof values['operator-token'] === 'string') return values['operator-token']
  if (typeof values['admin-token'] === 'string') return values['admin-token']
  for (const name of ['REELNET_OPERATOR_TOKEN', 'REELNET_ADMIN_TOKEN']) {
    const env = process.env[name]
    if (env !== undefined && env !== '') return env
  }
  if (typeof values.data === 'string') {
    const dir = values.data
    const t = await readTokensFile(dir).catch((err: Error) => { throw new CommandError(`cannot read tokens from ${dir}: ${err.message}`) })
    const token = t?.operatorToken ?? t?.adminToken
    if (typeof token === 'string') return token
    throw new CommandError(`no tokens.json in ${dir}`)
  }
  throw new UsageError('the operator token is needed: --operator-token, REELNET_OPERATOR_TOKEN, or --data DIR of a local main')
}

export const command: Command = {
  name: 'admin',
  summary: 'operate the network: nodes, node tokens, drain, remove, preposition, items, quarantine, revoke',
  usage: help(),
  helpFor (argv) {
    const sub = argv[0] === undefined ? undefined : SUBS[argv[0]]
    return sub === undefined ? undefined : `${sub.usage}\n\n${COMMON_FLAGS}`
  },
  async run (argv) {
    const [name, ...rest] = argv
    if (name === undefined || name.startsWith('-')) throw new UsageError('which subcommand? (see reelnet admin --help)')
    const sub = SUBS[name]
    if (sub === undefined) throw new UsageError(`unknown admin subcommand '${name}' (see reelnet admin --help)`)
    const { values, positionals } = parseFlags(rest, {
      main: { type: 'string' }, 'operator-token': { type: 'string' }, 'admin-token': { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' },
      ...sub.flags
    }, true)
    const [least, most] = typeof sub.positionals === 'number' ? [sub.positionals, sub.positionals] : sub.positionals
    if (positionals.length < least || positionals.length > most) {
      throw new UsageError(`${sub.usage.split('\n')[0]!.replace(/^usage: /, '')}: ${positionals.length > most ? 'too many arguments' : 'missing argument'}`)
    }
    const mainUrl = mainUrlOf(typeof values.main === 'string' ? values.main : DEFAULT_MAIN_URL)
    const token = sub.admin === true ? await adminToken(values) : await operatorToken(values)
    const ctx: Ctx = {
      mainUrl,
      token,
      json: values.json === true,
      call: async <T>(method: string, path: string, what: string, json?: unknown) => await callMain<T>(mainUrl, method, path, { token, what, json })
    }
    await sub.run(ctx, positionals, values)
    return 0
  }
}
