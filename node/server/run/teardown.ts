/**
 * One ordered stack of stop functions for a long-running process: each part
 * that is started pushes how to stop it, and every exit path (stop(), a
 * start that fails half-way) runs the same stack, last started first.
 */

export type Closer = () => void | Promise<void>

export class Teardown {
  private readonly closers: Array<{ name: string, close: Closer }> = []
  private running: Promise<void> | undefined

  /** @param log told about a closer that failed (the others still run). */
  constructor (private readonly log: (line: string) => void = () => {}) {}

  /** Stop `name` with `close` at teardown, before everything pushed earlier. */
  push (name: string, close: Closer): void {
    if (this.running !== undefined) throw new Error(`teardown already running: cannot add ${name}`)
    this.closers.push({ name, close })
  }

  /** True once run() has been called. */
  get started (): boolean { return this.running !== undefined }

  /**
   * Runs every closer once, in reverse order of push; a closer that throws is
   * logged and the rest still run. Later calls wait for the same run.
   */
  async run (): Promise<void> {
    this.running ??= (async () => {
      for (let i = this.closers.length - 1; i >= 0; i--) {
        const { name, close } = this.closers[i]!
        try {
          await close()
        } catch (err) {
          this.log(`stopping ${name}: ${(err as Error).message}`)
        }
      }
    })()
    await this.running
  }
}
