import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A private scratch folder on the runner's temp disk, created for `work` and removed after it. */
export async function withTempDir<T>(prefix: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await makeTempDir(prefix)
  try {
    return await work(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(process.env.RUNNER_TEMP || tmpdir(), `pgb-${prefix}-`))
}
