/**
 * The client's address for sign-up and log-in limits. Behind a load balancer
 * every request comes from the balancer's address, so all customers would
 * share one budget; with `--trusted-proxy CIDR[,CIDR]` main takes the
 * client's address from X-Forwarded-For, but only when the direct peer is one
 * of those proxies (anyone else could write the header), and only the
 * rightmost address that is not itself a trusted proxy (the left part of the
 * header is whatever the client sent). Without the option the header is
 * ignored, as before.
 */
import { BlockList, isIP } from 'node:net'
import type { Context } from 'hono'
import { getConnInfo } from '@hono/node-server/conninfo'

/** Proxies one option may list: a deployment has a handful of balancers. */
export const MAX_TRUSTED_PROXIES = 64
/** Longest X-Forwarded-For read; beyond, only the last MAX_FORWARDED_HOPS entries within it count. */
export const MAX_FORWARDED_FOR_CHARS = 4096
/** Hops of X-Forwarded-For examined from the right: more proxies than this in a chain is not a real set-up. */
export const MAX_FORWARDED_HOPS = 16

export interface TrustedProxies {
  /** The CIDRs as given, for --help-style messages and logs. */
  readonly cidrs: readonly string[]
  has: (address: string) => boolean
}

/** An IPv4-mapped IPv6 address (::ffff:1.2.3.4) as its IPv4 address; others unchanged. */
function unmapped (address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return m !== null ? m[1]! : address
}

/** Parse "CIDR[,CIDR…]" (a bare address is a /32 or /128); throws a clear message for anything else. */
export function parseTrustedProxies (list: string): TrustedProxies {
  const cidrs = list.split(',').map(s => s.trim()).filter(s => s !== '')
  if (cidrs.length === 0) throw new Error('--trusted-proxy needs at least one address or CIDR, e.g. 127.0.0.1/32')
  if (cidrs.length > MAX_TRUSTED_PROXIES) throw new Error(`--trusted-proxy lists at most ${MAX_TRUSTED_PROXIES} CIDRs, not ${cidrs.length}`)
  const block = new BlockList()
  for (const cidr of cidrs) {
    const [addr = '', bits, ...rest] = cidr.split('/')
    const family = isIP(addr)
    const max = family === 4 ? 32 : 128
    const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN
    if (family === 0 || rest.length > 0 || !(prefix >= 0 && prefix <= max)) throw new Error(`--trusted-proxy: ${JSON.stringify(cidr.slice(0, 80))} is not an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, ::1)`)
    block.addSubnet(addr, prefix, family === 4 ? 'ipv4' : 'ipv6')
  }
  return {
    cidrs,
    has: (address) => {
      const a = unmapped(address)
      const family = isIP(a)
      return family !== 0 && block.check(a, family === 4 ? 'ipv4' : 'ipv6')
    }
  }
}

/**
 * The address a request is counted against: the socket's peer, or — when that peer is a trusted proxy — the
 * rightmost X-Forwarded-For entry that is not a trusted proxy. A malformed entry stops the walk at the trusted hop
 * to its right (so a bad header costs its sender the proxy's shared budget, never someone else's). 'local' for
 * in-process requests (no socket).
 */
export function clientAddress (c: Context, trusted: TrustedProxies | undefined): string {
  let direct: string
  try {
    direct = getConnInfo(c).remote.address ?? 'unknown'
  } catch {
    return 'local'
  }
  if (trusted === undefined || !trusted.has(direct)) return direct
  const header = c.req.header('x-forwarded-for')
  if (header === undefined || header === '') return direct
  const hops = header.slice(-MAX_FORWARDED_FOR_CHARS).split(',').map(s => s.trim()).slice(-MAX_FORWARDED_HOPS)
  let chosen = direct
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = unmapped(hops[i]!)
    if (isIP(hop) === 0) return chosen
    chosen = hop
    if (!trusted.has(hop)) return hop
  }
  return chosen
}
