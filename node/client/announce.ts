/**
 * Which of a customer's addresses other customers are told about. A customer listens on every interface by
 * default (CUSTOMER_DEFAULT_LISTEN), so peer-assist works between machines; what it announces — to main in
 * its holdings, and to peers through libp2p's identify and the region DHT — is filtered by where main is:
 *
 * - main on loopback (one machine: the demo, the tests): only loopback addresses, which every peer there can
 *   reach, and no traffic leaves 127.0.0.1;
 * - main elsewhere: never loopback, link-local or unspecified addresses, which would make another host dial
 *   itself. Private addresses (10/8, 172.16/12, 192.168/16, fc00::/7) stay: peers on one LAN reach them.
 *
 * Behind a home router a customer's private address is reachable only from its own LAN; other peers reach it
 * only through a forwarded port (`--listen /ip4/0.0.0.0/tcp/PORT` and a port forward to PORT). NAT traversal
 * is a later step.
 */

/** Every IPv4 interface, any free port: what `reelnet get` and `play` listen on unless --listen says otherwise. */
export const CUSTOMER_DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/0']

/** Is this URL hostname (as `new URL().hostname` gives it) a loopback address or name? */
export function isLoopbackHost (hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}

type Kind = 'loopback' | 'link-local' | 'unspecified' | 'other'

/** What kind of IP address a multiaddr string starts with (names such as /dns4/… count as 'other'). */
export function addrKind (addr: string): Kind {
  const m = /^\/(ip4|ip6)\/([^/]+)/.exec(addr)
  if (m === null) return 'other'
  const ip = m[2]!.toLowerCase()
  if (m[1] === 'ip4') {
    if (ip.startsWith('127.')) return 'loopback'
    if (ip.startsWith('169.254.')) return 'link-local'
    if (ip === '0.0.0.0') return 'unspecified'
    return 'other'
  }
  if (ip === '::1') return 'loopback'
  if (ip === '::') return 'unspecified'
  if (/^fe[89ab]/.test(ip)) return 'link-local'
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip)
  if (mapped !== null) return addrKind(`/ip4/${mapped[1]}`)
  return 'other'
}

/** The addresses to announce, given main's URL (see the module comment). */
export function announceable (addrs: string[], mainUrl: string): string[] {
  let mainLoopback: boolean
  try { mainLoopback = isLoopbackHost(new URL(mainUrl).hostname) } catch { mainLoopback = false }
  return addrs.filter(a => {
    const kind = addrKind(a)
    return mainLoopback ? kind === 'loopback' : kind === 'other'
  })
}
