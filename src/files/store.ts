import { layout } from '../catalog/manifest.js'
import { BackupError } from '../errors.js'
import { parseFilesManifest, type FilesManifest, type SnapshotFile } from '../model/files-manifest.js'
import type { Storage, StoredObject } from '../storage/storage.js'
import { listBackups, readStored, type BackupEntry } from '../catalog/catalog.js'
import { storedSuffix } from './cipher.js'

/** Every stored content of the set by key (one listing, no download). */
export async function listContents(storage: Storage, name: string): Promise<Map<string, StoredObject>> {
  return new Map((await storage.list(layout.contents(name))).map(o => [o.key, o]))
}

export function contentKey(manifest: Pick<FilesManifest, 'name' | 'encryption'>, file: Pick<SnapshotFile, 'hash'>): string {
  return layout.content(manifest.name, file.hash, storedSuffix(manifest.encryption))
}

export function hasFiles(entry: BackupEntry, name: string): boolean {
  return entry.files.some(f => f.key === layout.filesManifest(name, entry.id))
}

export async function readFilesManifest(storage: Storage, name: string, id: string): Promise<FilesManifest> {
  return readStored(storage, name, id, layout.filesManifest(name, id), 'files manifest', parseFilesManifest)
}

/** Files whose content is missing from the listing or has another size than the manifest says. */
export function missingContents(manifest: FilesManifest, contents: Map<string, StoredObject>): SnapshotFile[] {
  return manifest.files.filter(f => contents.get(contentKey(manifest, f))?.size !== f.storedSize)
}

/** "bucket/key" for messages: the first few, and how many more. */
export function describeFiles(files: Array<{ bucket: string; key: string }>, limit = 5): string {
  const named = files.slice(0, limit).map(f => `${f.bucket}/${f.key}`)
  return named.join(', ') + (files.length > limit ? ` and ${files.length - limit} more` : '')
}

/**
 * The backup `ref` names among every complete backup of the set, database or files-only:
 * `latest` is the newest that is not a pre-restore snapshot.
 */
export async function resolveEntry(storage: Storage, name: string, ref: string): Promise<BackupEntry> {
  const backups = (await listBackups(storage, name)).filter(b => b.complete && (ref !== 'latest' || b.kind !== 'pre-restore'))
  const entry = ref === 'latest' ? backups[0] : backups.find(b => b.id === ref)
  if (!entry) {
    throw new BackupError(
      ref === 'latest'
        ? `No complete backup of "${name}" found in ${storage.locate(layout.setPrefix(name))}`
        : `Input "backup": no complete backup "${ref}" of "${name}" in ${storage.locate(layout.setPrefix(name))}`
    )
  }
  return entry
}
