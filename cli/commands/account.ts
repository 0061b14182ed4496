/** `reelnet account create`: create a customer account at main. */
import { parseFlags, UsageError, type Command } from '../command.ts'
import { callMain, mainUrlOf, DEFAULT_MAIN_URL, PASSWORD_CALL_TIMEOUT_MS } from '../http.ts'
import { readPassword } from './login.ts'

const usage = `usage: reelnet account create [--main URL] --user NAME [--password P] [--region R]

Create a customer account. Then: reelnet login --user NAME

flags:
  --main URL       main's address (default ${DEFAULT_MAIN_URL})
  --user NAME      3–32 of A-Z a-z 0-9 _ . -
  --password P     at least 8 characters (else REELNET_PASSWORD, else asked)
  --region R       the region you download from (e.g. eu); main picks one if absent
  -h, --help       show this help`

export const command: Command = {
  name: 'account',
  summary: 'create a customer account',
  usage,
  async run (argv) {
    const { values, positionals } = parseFlags(argv, {
      main: { type: 'string' }, user: { type: 'string' }, password: { type: 'string' }, region: { type: 'string' }
    }, true)
    if (positionals[0] !== 'create' || positionals.length !== 1) throw new UsageError('usage: reelnet account create --user NAME [--password P] [--region R]')
    if (values.user === undefined) throw new UsageError('--user is required')
    const mainUrl = mainUrlOf(values.main ?? DEFAULT_MAIN_URL)
    const password = await readPassword(values.password, 'new password: ')
    const a = await callMain<{ accountId: string, username: string, region: string | null }>(mainUrl, 'POST', '/v1/accounts', {
      timeoutMs: PASSWORD_CALL_TIMEOUT_MS,
      json: { username: values.user, password, ...(values.region === undefined ? {} : { region: values.region }) },
      what: 'create the account'
    })
    console.log(`created account ${a.username} (${a.accountId})${a.region !== null ? ` in region ${a.region}` : ''} at ${mainUrl}`)
    console.log(`next: reelnet login --main ${mainUrl} --user ${a.username}`)
    return 0
  }
}
