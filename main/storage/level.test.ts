import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { conformance } from './conformance.ts'
import { openLevelStore } from './level.ts'

const dir = await mkdtemp(join(tmpdir(), 'reelnet-store-'))
const test = conformance({ name: 'level', open: async () => await openLevelStore(join(dir, 'db')) })
test.after(async () => { await rm(dir, { recursive: true, force: true }) })
test.run()
