import type { SnapshotFile } from '../model/files-manifest.js'
import type { SourceFile } from './source.js'

/**
 * What a backup must copy (pure): a listed file whose size, ETag and last-modified match the
 * previous snapshot's entry keeps that entry's content, without a download, as long as every
 * storage holds the content; anything else is fetched.
 */
export function planSnapshot(
  listing: SourceFile[],
  previous: SnapshotFile[],
  everywhere: (f: SnapshotFile) => boolean
): { reuse: SnapshotFile[]; fetch: SourceFile[] } {
  const known = new Map(previous.map(f => [`${f.bucket}\0${f.key}`, f]))
  const reuse: SnapshotFile[] = []
  const fetch: SourceFile[] = []
  for (const file of listing) {
    const before = known.get(`${file.bucket}\0${file.key}`)
    const same = before && before.size === file.size && before.etag === file.etag && before.lastModified === file.lastModified
    if (same && everywhere(before)) reuse.push(before)
    else fetch.push(file)
  }
  return { reuse, fetch }
}

/** Runs `work` over `items` with at most `limit` at once; the first failure stops new work and is thrown. */
export async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failed = false
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++]
      try {
        await work(item)
      } catch (error) {
        failed = true
        throw error
      }
    }
  }
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker))
  const rejected = results.find(r => r.status === 'rejected')
  if (rejected) throw (rejected as PromiseRejectedResult).reason
}

/**
 * Files above one multipart part (8 MiB) are copied at most two at a time: the S3 uploader keeps
 * up to ~24 MiB of parts in memory per upload, and eight at once would triple the process's memory.
 */
export const LARGE_FILE = 8 * 1024 * 1024
export const LARGE_AT_ONCE = 2

/** Runs at most `n` of the calls given to it at once; the others wait their turn. */
export function limiter(n: number): <T>(work: () => Promise<T>) => Promise<T> {
  let active = 0
  const waiting: Array<() => void> = []
  return async work => {
    if (active < n) active++
    else await new Promise<void>(resolve => waiting.push(resolve)) // the slot is handed over
    try {
      return await work()
    } finally {
      const next = waiting.shift()
      if (next) next()
      else active--
    }
  }
}
