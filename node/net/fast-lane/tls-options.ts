/** The TLS settings both ends of the fast lane use. */
import { FAST_LANE_ALPN } from '../../../protocol/wire/fast-lane.ts'

/**
 * TLS 1.3 only; AES-GCM first (AES-NI makes it ~1.5× cheaper than ChaCha20 here, FACTS "Data path"), ChaCha20
 * kept for machines without AES instructions.
 */
export const FAST_LANE_CIPHERSUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256'
/** A TLS handshake not finished in this long is a dead or slowloris peer. */
export const HANDSHAKE_TIMEOUT_MS = 10_000

export const FAST_LANE_TLS: { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: string, ALPNProtocols: string[], rejectUnauthorized: false } = {
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  // Node takes TLS 1.3 suites in `ciphers` (a `ciphersuites` key, as this was until issue 17's last stop, is ignored)
  ciphers: FAST_LANE_CIPHERSUITES,
  ALPNProtocols: [FAST_LANE_ALPN],
  // the chain is not what we trust (the certificates are self-signed): the libp2p extension is, checked by remotePeerOf
  rejectUnauthorized: false
}
