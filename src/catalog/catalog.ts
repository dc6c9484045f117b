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
  /** A backup exists only once its manifest does (for a backup of buckets alone: its files-only manifest). */
  complete: boolean
  /** A backup of Storage buckets without a database dump: database commands pass it by. */
  filesOnly?: boolean
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
    if (object.key === layout.filesOnly(name, id)) entry.complete = entry.filesOnly = true
    if (object.key === layout.pinned(name, id)) entry.pinned = true
  }
  // Newest first; ids only resolve to the second, so ties go to the one written last.
  const written = (b: BackupEntry) => Math.max(...b.files.map(f => f.modified.getTime()))
  return [...byId.values()].sort((a, b) => b.time.getTime() - a.time.getTime() || written(b) - written(a) || (a.id < b.id ? 1 : -1))
}

export async function listBackups(storage: Storage, name: string): Promise<BackupEntry[]> {
  // Shallow: the set's file contents (files/…) can be many, and no backup file is below the set's top level.
  return groupBackups(name, await storage.list(layout.setPrefix(name), { shallow: true }))
}

/** The complete backups with their manifests' tags, read a few at a time; a manifest that can't be read fails the whole call. */
export async function withTags(storage: Storage, name: string, backups: BackupEntry[]): Promise<BackupEntry[]> {
  const out: BackupEntry[] = []
  for (let i = 0; i < backups.length; i += 8) {
    const batch = backups.slice(i, i + 8)
    out.push(
      ...(await Promise.all(batch.map(async b => (b.complete && !b.filesOnly ? { ...b, tags: (await readManifest(storage, name, b.id)).tags ?? [] } : b))))
    )
  }
  return out
}

export async function readManifest(storage: Storage, name: string, id: string): Promise<Manifest> {
  return readStored(storage, name, id, layout.manifest(name, id), 'manifest', parseManifest)
}

/** A stored format of a backup, read and parsed; one that cannot be read fails naming the backup and where it looked. */
export async function readStored<T>(
  storage: Storage,
  name: string,
  id: string,
  key: string,
  what: string,
  parse: (text: string, source: string) => T
): Promise<T> {
  let text: string
  try {
    text = (await readAll(await storage.get(key))).toString('utf8')
  } catch (error) {
    throw new BackupError(`Backup ${id} of "${name}" has no readable ${what} at ${storage.locate(key)}: ${(error as Error).message}`)
  }
  return parse(text, storage.locate(key))
}

/**
 * Complete backups that a delete marker hides (a DELETE without version id in a versioned bucket:
 * what an attacker's delete does to a locked object). Their versions are still there.
 */
export async function listHiddenBackups(storage: Storage, name: string): Promise<BackupEntry[]> {
  if (!storage.listHidden) return []
  return groupBackups(name, await storage.listHidden(layout.setPrefix(name))).filter(b => b.complete)
}

/**
 * `latest` is the newest backup that has a manifest; an id must name a complete backup with a database dump, visible
 * or hidden by a delete marker (then read from its versions, and `warn` says so).
 */
export async function resolveBackup(storage: Storage, name: string, ref: string, warn?: (message: string) => void): Promise<Manifest> {
  const backups = (await listBackups(storage, name)).filter(b => b.complete && !b.filesOnly)
  if (ref === 'latest') {
    // A pre-restore snapshot holds the target's old state, never "the latest backup" of the set.
    const candidates = backups.filter(b => b.kind !== 'pre-restore')
    if (candidates.length === 0) throw new BackupError(`No complete backup of "${name}" found in ${storage.locate(layout.setPrefix(name))}`)
    return readManifest(storage, name, candidates[0].id)
  }
  if (!backups.some(b => b.id === ref)) {
    // Credentials that may not list versions just cannot find hidden backups.
    if ((await listHiddenBackups(storage, name).catch(() => [])).some(b => b.id === ref)) {
      warn?.(
        `backup ${ref} is hidden by a delete marker (someone deleted it without a version id): reading its stored versions; remove the delete markers to show it again`
      )
      return readManifest(storage, name, ref)
    }
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
  const manifests = new Set(backups.flatMap(b => [layout.manifest(name, b.id), layout.filesOnly(name, b.id)]))
  const keys = backups.flatMap(b => b.files.map(f => f.key))
  const first = keys.filter(k => manifests.has(k))
  const rest = keys.filter(k => !manifests.has(k))
  if (first.length > 0) await storage.delete(first)
  if (rest.length > 0) await storage.delete(rest)
}
