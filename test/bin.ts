/**
 * The `reelnet` entry the tests start as a process: the bundle test/run.ts
 * builds and names in REELNET_BIN, else bin/reelnet.js (the sources through
 * tsx, as `npx reelnet` runs them) when a suite is run on its own.
 */
import { fileURLToPath } from 'node:url'

export const REELNET_BIN = process.env.REELNET_BIN ?? fileURLToPath(new URL('../bin/reelnet.js', import.meta.url))

/**
 * Password hashing cost for the test mains (`--scrypt-log-n`): OWASP's default took 2-4 s of CPU per hash on
 * these VMs, and every test customer costs two (account, login); the suites test flows, not hashing strength.
 */
export const TEST_SCRYPT_LOG_N = '10'
