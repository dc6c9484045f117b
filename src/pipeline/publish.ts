import { PassThrough, type Transform, type Writable } from 'node:stream'
import { BackupError, errorMessage } from '../errors.js'
import type { Storage } from '../storage/storage.js'
import type { Chain } from './chain.js'
import { Checksum } from './checksum.js'

export interface Published {
  size: number
  sha256: string
}

/**
 * Streams a chain's output into `key` on every storage at once, hashing on the way.
 * Either every storage ends up with the complete object, or the first error is thrown
 * after every upload has been aborted and every program stopped.
 */
export async function publish(
  chain: Chain,
  storages: Storage[],
  key: string,
  options: {
    /** Encrypts in Node after the programs (age). */
    transform?: Transform
    /** Gets a copy of the bytes before that encryption (to check contents on their way in). */
    tap?: Writable
  } = {}
): Promise<Published> {
  const checksum = new Checksum(chain.done)
  // Errors on a branch are reported through the upload's rejection; the listener keeps an
  // early failure (e.g. mkdir) from surfacing as an unhandled 'error' event.
  const branches = storages.map(() => new PassThrough({ highWaterMark: 1024 * 1024 }).on('error', () => undefined))
  let firstError: unknown
  const fail = (error: unknown): void => {
    if (firstError !== undefined) return
    firstError = error
    chain.kill()
    checksum.destroy(error as Error)
    for (const branch of branches) branch.destroy(error as Error)
  }
  checksum.on('error', fail)
  chain.output.on('error', fail)
  for (const branch of branches) checksum.pipe(branch)
  if (options.tap) {
    options.tap.on('error', fail)
    chain.output.pipe(options.tap)
  }
  if (options.transform) {
    options.transform.on('error', fail)
    chain.output.pipe(options.transform).pipe(checksum)
  } else chain.output.pipe(checksum)

  const work = [
    chain.done,
    ...storages.map((storage, i) =>
      storage.upload(key, branches[i]).catch(error => {
        throw firstError ?? new BackupError(`Upload to ${storage.locate(key)} failed: ${errorMessage(error)}`, { cause: error })
      })
    )
  ]
  await Promise.allSettled(work.map(p => p.catch(fail)))
  if (firstError !== undefined) throw firstError
  return { size: checksum.bytes, sha256: checksum.digest() }
}
