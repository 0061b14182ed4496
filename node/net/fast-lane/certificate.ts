/**
 * The fast lane's TLS identity: the libp2p TLS handshake's self-signed
 * certificate (@libp2p/tls), whose extension carries the node's libp2p
 * public key and its signature over the certificate's key, so a TLS peer
 * that completes the handshake holds the PeerId's key. Both sides present
 * one; each checks the other's with verifyPeerCertificate.
 */
import type { TLSSocket } from 'node:tls'
import { createHash } from 'node:crypto'
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

/**
 * Certificates already verified, by the SHA-256 of their DER bytes: the same bytes verify the same way (the
 * libp2p extension's signature binds the TLS key to the PeerId, and the handshake proved the TLS key), so a
 * returning peer is not parsed and checked in JavaScript again (11–15 % of each side's CPU under 100 customers,
 * issue 17's load bench). Only the validity period can change the answer; it is checked on every use. Bounded.
 */
const verified = new Map<string, { peerId: PeerId, notBefore: number, notAfter: number }>()
/** Certificates remembered: one per peer a busy edge talks to, plenty; the oldest goes first. */
export const VERIFIED_CERTIFICATES = 4096

/** The PeerId the remote's certificate proves (and, when given, that it is `expected`). */
export async function remotePeerOf (socket: TLSSocket, expected?: PeerId, now: number = Date.now()): Promise<PeerId> {
  const cert = socket.getPeerX509Certificate()
  if (cert === undefined) throw new FastLanePeerError('the peer presented no certificate')
  const key = createHash('sha256').update(cert.raw).digest('hex')
  let peer: PeerId
  const known = verified.get(key)
  if (known !== undefined && known.notBefore <= now && now <= known.notAfter) {
    peer = known.peerId
  } else {
    try {
      peer = await verifyPeerCertificate(new Uint8Array(cert.raw))
    } catch (err) {
      throw new FastLanePeerError(`bad peer certificate: ${(err as Error).message}`)
    }
    const notBefore = Date.parse(cert.validFrom)
    const notAfter = Date.parse(cert.validTo)
    if (Number.isFinite(notBefore) && Number.isFinite(notAfter)) {
      if (verified.size >= VERIFIED_CERTIFICATES) verified.delete(verified.keys().next().value as string)
      verified.set(key, { peerId: peer, notBefore, notAfter })
    }
  }
  if (expected !== undefined && !peer.equals(expected)) throw new FastLanePeerError(`the peer's certificate names another PeerId than ${expected.toString()}`)
  return peer
}
