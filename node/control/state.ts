/**
 * The node's small persistent state in `level` (separate from the chunk
 * index): the last good signed rules and the verified manifests, kept as
 * the signed envelope text so they are re-verified on load.
 */
import { join } from 'node:path'
import { Level } from 'level'

export class StateDb {
  private constructor (private readonly db: Level<string, string>) {}

  static async open (dataDir: string): Promise<StateDb> {
    const db = new Level<string, string>(join(dataDir, 'state'), { valueEncoding: 'utf8' })
    await db.open()
    return new StateDb(db)
  }

  async get (key: string): Promise<string | undefined> {
    return (await this.db.get(key)) ?? undefined
  }

  async put (key: string, value: string): Promise<void> {
    await this.db.put(key, value)
  }

  async delete (key: string): Promise<void> {
    await this.db.del(key)
  }

  /** Every key starting with `prefix`, with its value. */
  async * entries (prefix: string): AsyncGenerator<[string, string]> {
    for await (const [k, v] of this.db.iterator({ gte: prefix, lt: prefix + '\xff' })) yield [k, v]
  }

  async close (): Promise<void> {
    await this.db.close()
  }
}
