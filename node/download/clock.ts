/**
 * Time as a component: what the download engine (node/download/engine.ts) and the edge's filler
 * (node/server/fill.ts) read the time from and set their timers on. Production hands them `systemClock`; unit tests
 * hand a `FakeClock` and move time themselves, so deadlines, stalls and rate floors are tested without
 * waiting and without depending on how fast the machine is.
 */
export type TimerHandle = unknown

export interface Clock {
  /** Milliseconds on a monotonic scale (only differences matter). */
  now: () => number
  setTimeout: (fn: () => void, ms: number) => TimerHandle
  clearTimeout: (h: TimerHandle) => void
  setInterval: (fn: () => void, ms: number) => TimerHandle
  clearInterval: (h: TimerHandle) => void
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: h => { clearTimeout(h as ReturnType<typeof setTimeout>) },
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: h => { clearInterval(h as ReturnType<typeof setInterval>) }
}

interface FakeTimer { id: number, at: number, every?: number, fn: () => void }

/** A clock that moves only when told to: `advance(ms)` runs every timer due on the way, in time order. */
export class FakeClock implements Clock {
  private t: number
  private nextId = 1
  private readonly timers = new Map<number, FakeTimer>()

  constructor (start = 0) { this.t = start }

  now = (): number => this.t
  setTimeout = (fn: () => void, ms: number): TimerHandle => this.add(fn, ms)
  setInterval = (fn: () => void, ms: number): TimerHandle => this.add(fn, ms, Math.max(1, ms))
  clearTimeout = (h: TimerHandle): void => { this.timers.delete(h as number) }
  clearInterval = (h: TimerHandle): void => { this.timers.delete(h as number) }

  /** Timers still set. */
  get pending (): number { return this.timers.size }

  /**
   * Move time forward by `ms`, running each timer that falls due (interval timers as often as they fall due),
   * and letting promise callbacks settle after each, as the event loop would.
   */
  async advance (ms: number): Promise<void> {
    // several drivers may move the clock (a test loop, a fake source): one move at a time, in call order
    const mine = this.moving.then(async () => { await this.move(ms) })
    this.moving = mine
    await mine
  }

  private moving: Promise<void> = Promise.resolve()

  private async move (ms: number): Promise<void> {
    const end = this.t + ms
    while (true) {
      let due: FakeTimer | undefined
      for (const timer of this.timers.values()) if (timer.at <= end && (due === undefined || timer.at < due.at)) due = timer
      if (due === undefined) break
      this.t = Math.max(this.t, due.at)
      if (due.every !== undefined) due.at += due.every
      else this.timers.delete(due.id)
      due.fn()
      await settle()
    }
    this.t = end
    await settle()
  }

  private add (fn: () => void, ms: number, every?: number): number {
    const id = this.nextId++
    this.timers.set(id, { id, at: this.t + Math.max(0, ms), every, fn })
    return id
  }
}

/** Let pending promise callbacks run (a few macrotask turns: I/O-free code settles within them). */
async function settle (): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>(resolve => { setImmediate(resolve) })
}
