/**
 * Who a login attempt is counted against. The counters themselves live behind
 * the storage interface (MainStore.limiter: in memory for level, a shared
 * table for PostgreSQL), so several mains count one history; the policy that
 * reads them is in accounts.ts.
 */

/**
 * The source a login attempt is counted against: the client's address, with an IPv6 address cut to its /64 (one
 * customer line usually has a whole /64, so counting single addresses would let one host rotate freely).
 */
export function loginSourceOf (address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped !== null) return mapped[1]!
  if (!address.includes(':')) return address
  const [head = '', tail = ''] = address.toLowerCase().split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === '' ? [] : tail.split(':')
  const groups = address.includes('::') ? [...left, ...new Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left
  return groups.slice(0, 4).map(g => g.replace(/^0+(?=.)/, '')).join(':') + '::/64'
}
