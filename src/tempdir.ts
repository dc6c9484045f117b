import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { removeOnCancel } from './cancel.js'

/** A private scratch folder on the runner's temp disk, created for `work` and removed after it. */
export async function withTempDir<T>(prefix: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await makeTempDir(prefix)
  try {
    return await work(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
    forgetTempDir(dir)
  }
}

const registered = new Map<string, () => void>()

/** A private folder on the runner's temp disk, removed by a cancellation (and by its owner, who then calls forgetTempDir). */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(process.env.RUNNER_TEMP || tmpdir(), `pgb-${prefix}-`))
  registered.set(dir, removeOnCancel(dir))
  return dir
}

export function forgetTempDir(dir: string): void {
  registered.get(dir)?.()
  registered.delete(dir)
}
