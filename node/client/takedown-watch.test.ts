/**
 * One takedown poll per process and main, however many customers watch: a stand-in main answers the rules'
 * removed list and counts the polls.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { watchTakedowns } from './takedown-watch.ts'

const POLL_MS = 20

function fakeMain (url: string): { api: Parameters<typeof watchTakedowns>[0], polls: () => number, remove: (id: string) => void } {
  let polls = 0
  let version = 0
  const removed: string[] = []
  return {
    api: {
      url,
      async removedItems (etag: string | undefined) {
        polls++
        // an ETag poll: nothing new unless the list changed
        if (etag === String(version)) return undefined
        return { etag: String(version), removed: [...removed] }
      }
    },
    polls: () => polls,
    remove: (id: string) => { removed.push(id); version++ }
  }
}

async function until (cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

test('three customers watching one main share one poll, and each hears of a takedown', async () => {
  const main = fakeMain('http://main-a')
  const key = new Uint8Array(32).fill(1)
  const heard: string[][] = [[], [], []]
  const stops = heard.map((h, i) => watchTakedowns(main.api, key, POLL_MS, removed => { heard[i] = [...removed] }))
  await until(() => main.polls() >= 5, 'five polls')
  const polls = main.polls()
  const started = performance.now()
  // three watchers, yet about one poll per interval (not three); the intervals counted are those that passed,
  // which on a busy machine may be more than the five slept for
  await new Promise(resolve => setTimeout(resolve, POLL_MS * 5))
  const intervals = Math.ceil((performance.now() - started) / POLL_MS)
  assert.ok(main.polls() - polls <= intervals + 2, `one poll per interval for all watchers, got ${main.polls() - polls} in ${intervals} intervals`)
  main.remove('item-1')
  await until(() => heard.every(h => h.includes('item-1')), 'every watcher to hear of item-1')
  for (const s of stops) s()
})

test('a watcher that joins later hears the list at once; the poll stops with its last watcher', async () => {
  const main = fakeMain('http://main-b')
  const key = new Uint8Array(32).fill(2)
  main.remove('item-9')
  let first: readonly string[] = []
  const stop1 = watchTakedowns(main.api, key, POLL_MS, r => { first = r })
  await until(() => first.includes('item-9'), 'the first watcher to hear of item-9')
  let late: readonly string[] | undefined
  const stop2 = watchTakedowns(main.api, key, POLL_MS, r => { late = r })
  assert.equal(late, ['item-9'], 'the known list is handed over at once')
  stop1()
  stop2()
  const after = main.polls()
  await new Promise(resolve => setTimeout(resolve, POLL_MS * 5))
  assert.is(main.polls(), after, 'no poll once nobody watches')
})

test('another main, or another pinned key, gets a poll of its own', async () => {
  const a = fakeMain('http://main-c')
  const b = fakeMain('http://main-d')
  const stops = [
    watchTakedowns(a.api, new Uint8Array(32).fill(3), POLL_MS, () => {}),
    watchTakedowns(b.api, new Uint8Array(32).fill(3), POLL_MS, () => {}),
    watchTakedowns(a.api, new Uint8Array(32).fill(4), POLL_MS, () => {})
  ]
  await until(() => a.polls() >= 4 && b.polls() >= 2, 'polls of both mains')
  for (const s of stops) s()
})

test.run()
