import { BackupError, InputError } from '../errors.js'
import { readAll, type Storage, type StoredObject } from '../storage/storage.js'
import type { BackupKind } from '../model/vocabulary.js'
import { backupTime, kindOf, layout } from './manifest.js'
import { parseManifest, type Manifest } from '../model/manifest.js'

/** Everything stored for one backup id in a set. */
export interface BackupEntry {
  id: string
  time: Date
  kind?: BackupKind
  /** A backup exists only once its manifest does. */
  complete: boolean
  pinned: boolean
  files: StoredObject[]
  /** From the manifest, filled in by withTags only when a rule needs them. */
  tags?: string[]
}

/** Groups a set's files by backup id; files that belong to no id are left out (and never touched). */
export function groupBackups(name: string, objects: StoredObject[]): BackupEntry[] {
  const byId = new Map<string, BackupEntry>()
  const prefix = layout.setPrefix(name)
  for (const object of objects) {
    if (!object.key.startsWith(prefix)) continue
    const file = object.key.slice(prefix.length)
    if (file.includes('/')) continue
    const id = layout.idOf(file)
    if (!id) continue
    let entry = byId.get(id)
    if (!entry) {
      entry = { id, time: backupTime(id), kind: kindOf(id), complete: false, pinned: false, files: [] }
      byId.set(id, entry)
    }
    entry.files.push(object)
    if (file === `${id}.manifest.json`) entry.complete = true
    if (object.key === layout.pinned(name, id)) entry.pinned = true
  }
  // Newest first; ids only resolve to the second, so ties go to the one written last.
  const written = (b: BackupEntry) => Math.max(...b.files.map(f => f.modified.getTime()))
  return [...byId.values()].sort((a, b) => b.time.getTime() - a.time.getTime() || written(b) - written(a) || (a.id < b.id ? 1 : -1))
}

export async function listBackups(storage: Storage, name: string): Promise<BackupEntry[]> {
  return groupBackups(name, await storage.list(layout.setPrefix(name)))
}

/** The complete backups with their manifests' tags, read a few at a time; a manifest that can't be read fails the whole call. */
export async function withTags(storage: Storage, name: string, backups: BackupEntry[]): Promise<BackupEntry[]> {
  const out: BackupEntry[] = []
  for (let i = 0; i < backups.length; i += 8) {
    const batch = backups.slice(i, i + 8)
    out.push(...(await Promise.all(batch.map(async b => (b.complete ? { ...b, tags: (await readManifest(storage, name, b.id)).tags ?? [] } : b)))))
  }
  return out
}

export async function readManifest(storage: Storage, name: string, id: string): Promise<Manifest> {
  const key = layout.manifest(name, id)
  let text: string
  try {
    text = (await readAll(await storage.get(key))).toString('utf8')
  } catch (error) {
    throw new BackupError(`Backup ${id} of "${name}" has no readable manifest at ${storage.locate(key)}: ${(error as Error).message}`)
  }
  return parseManifest(text, storage.locate(key))
}

/** `latest` is the newest backup that has a manifest; an id must name a complete backup. */
export async function resolveBackup(storage: Storage, name: string, ref: string): Promise<Manifest> {
  const backups = (await listBackups(storage, name)).filter(b => b.complete)
  if (ref === 'latest') {
    // A pre-restore snapshot holds the target's old state, never "the latest backup" of the set.
    const candidates = backups.filter(b => b.kind !== 'pre-restore')
    if (candidates.length === 0) throw new BackupError(`No complete backup of "${name}" found in ${storage.locate(layout.setPrefix(name))}`)
    return readManifest(storage, name, candidates[0].id)
  }
  if (!backups.some(b => b.id === ref)) {
    throw new InputError('backup', `no complete backup "${ref}" of "${name}" in ${storage.locate(layout.setPrefix(name))}`)
  }
  return readManifest(storage, name, ref)
}

/**
 * Deletes every file of the given backups, manifests first: a backup stops existing the
 * moment its manifest goes, so an interrupted delete leaves an unfinished upload (removed
 * by a later prune), never a manifest pointing at missing data.
 */
export async function deleteBackupFiles(storage: Storage, name: string, backups: BackupEntry[]): Promise<void> {
  const manifests = new Set(backups.map(b => layout.manifest(name, b.id)))
  const keys = backups.flatMap(b => b.files.map(f => f.key))
  const first = keys.filter(k => manifests.has(k))
  const rest = keys.filter(k => !manifests.has(k))
  if (first.length > 0) await storage.delete(first)
  if (rest.length > 0) await storage.delete(rest)
}
