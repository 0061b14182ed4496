/**
 * The fast lane's TLS identity: the libp2p TLS handshake's self-signed
 * certificate (@libp2p/tls), whose extension carries the node's libp2p
 * public key and its signature over the certificate's key, so a TLS peer
 * that completes the handshake holds the PeerId's key. Both sides present
 * one; each checks the other's with verifyPeerCertificate.
 */
import type { TLSSocket } from 'node:tls'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { generateCertificate, verifyPeerCertificate } from '@libp2p/tls/utils'

export interface FastLaneCredentials { cert: string, key: string }

/** A fresh certificate for this node's key (an ECDSA P-256 TLS key, signed by the libp2p key). */
export async function fastLaneCredentials (privateKey: PrivateKey): Promise<FastLaneCredentials> {
  return await generateCertificate(privateKey)
}

/** The remote did not present a valid libp2p certificate, or it names another PeerId than expected. */
export class FastLanePeerError extends Error {
  name = 'FastLanePeerError'
}

/** The PeerId the remote's certificate proves (and, when given, that it is `expected`). */
export async function remotePeerOf (socket: TLSSocket, expected?: PeerId): Promise<PeerId> {
  const cert = socket.getPeerX509Certificate()
  if (cert === undefined) throw new FastLanePeerError('the peer presented no certificate')
  try {
    return await verifyPeerCertificate(new Uint8Array(cert.raw), expected)
  } catch (err) {
    const e = err as Error
    if (e.name === 'UnexpectedPeerError') throw new FastLanePeerError(`the peer's certificate names another PeerId than ${expected?.toString() ?? '?'}`)
    throw new FastLanePeerError(`bad peer certificate: ${e.message}`)
  }
}
