#!/usr/bin/env node
// The one entry point: load TypeScript through tsx (a runtime dependency) and
// hand over to the CLI. Runs on the Node 24 that the `node` package installs.
import { register } from 'tsx/esm/api'
register()
await import('../cli/main.ts')
