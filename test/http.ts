/**
 * fetch for the end-to-end kits: the node's own client of main resends a
 * request whose kept-alive socket main closed under it (EPIPE/ECONNRESET
 * before main read it; seen in CI at a suite's first ingest). The kits use
 * the same function rather than a copy.
 */
export { fetchRetrying } from '../node/control/main-client.ts'
