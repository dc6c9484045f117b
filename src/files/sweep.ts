import { listBackups } from '../catalog/catalog.js'
import { layout } from '../catalog/manifest.js'
import { BackupError, errorMessage } from '../errors.js'
import type { Storage } from '../storage/storage.js'
import { contentKey, hasFiles, readFilesManifest } from './store.js'

/** Only contents stored longer ago than this are swept (a backup takes less); a backup reuses unreferenced contents younger than half of it. */
export const SWEEP_MARGIN_MS = 24 * 3_600_000

export interface Sweep {
  contents: number
  deleted: number
  deletedBytes: number
}

/**
 * Deletes the set's stored contents that no files manifest references any more. The contents are
 * listed BEFORE the manifests are read, and only contents older than `marginMs` go. A backup
 * running meanwhile is safe: what it stores or reuses is fresh (younger than half the margin), or
 * referenced by the previous snapshot, which it checks is still there after writing its own files
 * manifest (which this sweep then reads, if it had not listed the manifests yet). Every files
 * manifest counts, of complete and unfinished backups alike; one that cannot be read stops the sweep.
 */
export async function sweepContents(storage: Storage, name: string, now: Date, marginMs = SWEEP_MARGIN_MS): Promise<Sweep> {
  const contents = await storage.list(layout.contents(name))
  if (contents.length === 0) return { contents: 0, deleted: 0, deletedBytes: 0 }
  const referenced = new Set<string>()
  for (const entry of (await listBackups(storage, name)).filter(b => hasFiles(b, name))) {
    try {
      const manifest = await readFilesManifest(storage, name, entry.id)
      for (const file of manifest.files) referenced.add(contentKey(manifest, file))
    } catch (error) {
      throw new BackupError(`Prune kept every stored file content of "${name}": ${errorMessage(error)}`)
    }
  }
  const cutoff = now.getTime() - marginMs
  const doomed = contents.filter(c => !referenced.has(c.key) && c.modified.getTime() < cutoff)
  if (doomed.length > 0) await storage.delete(doomed.map(c => c.key))
  return { contents: contents.length, deleted: doomed.length, deletedBytes: doomed.reduce((s, c) => s + c.size, 0) }
}
