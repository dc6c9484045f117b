import { listBackups } from '../catalog/catalog.js'
import { layout } from '../catalog/manifest.js'
import { BackupError, errorMessage } from '../errors.js'
import type { Storage } from '../storage/storage.js'
import { contentKey, hasFiles, readFilesManifest } from './store.js'

export interface Sweep {
  contents: number
  deleted: number
  deletedBytes: number
}

/**
 * Deletes the set's stored contents that no files manifest references any more. The contents are
 * listed BEFORE the manifests are read, and only contents older than `marginMs` go: a backup
 * running meanwhile stores its new contents (fresh, so spared) and then writes its files manifest
 * before it is published (read here, so what it reuses is spared), and it checks that every
 * content it references is still there before it publishes. Every files manifest counts, of
 * complete backups and of unfinished ones alike; one that cannot be read stops the sweep.
 */
export async function sweepContents(storage: Storage, name: string, now: Date, marginMs: number): Promise<Sweep> {
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
