/**
 * The fast lane's address in NodeEntry / DirectivePeer `fastLane`: a bare
 * multiaddr `/ip4/A/tcp/P` or `/ip6/A/tcp/P` (no `/tls`, no `/p2p`: the
 * PeerId is the entry's own `peerId`, which the client checks against the
 * server's certificate).
 */
import { isIP } from 'node:net'

export function formatFastLaneAddr (host: string, port: number): string {
  const family = isIP(host)
  if (family === 0) throw new RangeError(`fast lane host must be an IP literal, got '${host}'`)
  return `/ip${family}/${host}/tcp/${port}`
}

/** Host and port of a fast-lane address; RangeError for anything else. */
export function parseFastLaneAddr (addr: string): { host: string, port: number } {
  const m = /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d{1,5})$/.exec(addr)
  if (m === null) throw new RangeError(`not a fast-lane address (/ip4/A/tcp/P): '${addr}'`)
  const host = m[2]!
  const port = Number(m[3])
  if (isIP(host) !== (m[1] === 'ip4' ? 4 : 6) || port < 1 || port > 65535) throw new RangeError(`not a fast-lane address: '${addr}'`)
  return { host, port }
}
