/**
 * fetch for the end-to-end kits, sent again when the connection failed under
 * it. fetch reuses a keep-alive socket that main may close as idle at the
 * same moment (main's keep-alive is 5 s; a test process whose event loop was
 * busy for seconds has not yet noticed): the request then fails with EPIPE or
 * ECONNRESET before main read any of it, which seen in CI failed a whole
 * suite's set-up at its first ingest. Only the bodies the kits send (bytes or
 * strings, which can be sent twice) are retried, at most twice.
 */
const SOCKET_CODES = new Set(['EPIPE', 'ECONNRESET', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])

function socketFailure (err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } }).cause
  return err instanceof TypeError && cause !== undefined && SOCKET_CODES.has(cause.code ?? '')
}

export async function fetchRetrying (url: string, init: RequestInit = {}): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetch(url, init)
    } catch (err) {
      if (attempt >= 2 || !socketFailure(err) || init.signal?.aborted === true) throw err
    }
  }
}
