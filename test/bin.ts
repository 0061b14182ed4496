/**
 * The `reelnet` entry the tests start as a process: the bundle test/run.ts
 * builds and names in REELNET_BIN, else bin/reelnet.js (the sources through
 * tsx, as `npx reelnet` runs them) when a suite is run on its own.
 */
import { fileURLToPath } from 'node:url'

export const REELNET_BIN = process.env.REELNET_BIN ?? fileURLToPath(new URL('../bin/reelnet.js', import.meta.url))
