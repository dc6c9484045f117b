import { BackupError } from '../errors.js'
import type { Manifest, ManifestObject } from '../model/manifest.js'
import { BACKUP_KINDS, type BackupKind, type Format } from '../model/vocabulary.js'

const ID_PATTERN = /^(\d{8}T\d{6}Z)-([a-z-]+)-[0-9a-f]{4}$/

/**
 * `<UTC start, basic ISO 8601>-<kind>-<4 hex>`: ids sort in time order, and a listing
 * alone tells each backup's kind (prune never has to open thousands of manifests).
 */
export function newBackupId(start: Date, kind: BackupKind, random = Math.random): string {
  const stamp = start
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  const suffix = Math.floor(random() * 0x10000)
    .toString(16)
    .padStart(4, '0')
  return `${stamp}-${kind}-${suffix}`
}

export function kindOf(id: string): BackupKind | undefined {
  const kind = ID_PATTERN.exec(id)?.[2]
  return (BACKUP_KINDS as readonly string[]).includes(kind ?? '') ? (kind as BackupKind) : undefined
}

export function isBackupId(text: string): boolean {
  return ID_PATTERN.test(text)
}

export function backupTime(id: string): Date {
  const stamp = ID_PATTERN.exec(id)?.[1]
  if (!stamp) throw new Error(`not a backup id: ${id}`)
  const iso = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`
  return new Date(iso)
}

/** Where each file of a backup lives, relative to the storage root. */
export const layout = {
  setPrefix: (name: string) => `${name}/`,
  manifest: (name: string, id: string) => `${name}/${id}.manifest.json`,
  checksums: (name: string, id: string) => `${name}/${id}.sha256`,
  drill: (name: string, id: string) => `${name}/${id}.drill.json`,
  /** An empty marker: prune never deletes a pinned backup. */
  pinned: (name: string, id: string) => `${name}/${id}.pinned`,
  object: (name: string, file: string) => `${name}/${file}`,
  /** The files snapshot taken with a database backup (written before its manifest). */
  filesManifest: (name: string, id: string) => `${name}/${id}.files.json`,
  /** An empty marker written last by a backup of buckets alone (no database manifest): it makes that backup exist. */
  filesOnly: (name: string, id: string) => `${name}/${id}.files-only`,
  /** The content-addressed store of file contents, shared by every backup of the set. */
  contents: (name: string) => `${name}/files/`,
  content: (name: string, hash: string, suffix: string) => `${name}/files/${hash.slice(0, 2)}/${hash}${suffix}`,
  /** The backup id a file in the set belongs to, if any. */
  idOf: (file: string): string | undefined => /^(\d{8}T\d{6}Z-[a-z-]+-[0-9a-f]{4})\./.exec(file)?.[1]
}

/** The dump itself; the manifest always lists it first. */
export function dataObject(manifest: Manifest): ManifestObject {
  const data = manifest.objects.find(o => o.role === 'data')
  if (!data && manifest.objects.some(o => o.role === 'export')) {
    throw new BackupError(
      `backup ${manifest.id} of "${manifest.name}" holds only CSV exports (a set named by exports-name); restore and drill read the dump's set`
    )
  }
  if (!data) throw new Error(`the manifest of ${manifest.id} lists no data object`)
  return data
}

/** `encryptedExt`: '' (not encrypted), '.gpg' or '.age'. */
export function dataFileName(id: string, format: Format, compressionExt: string, encryptedExt: string): string {
  return `${id}.${format === 'custom' ? 'dump' : 'sql'}${compressionExt}${encryptedExt}`
}

export function rolesFileName(id: string, compressionExt: string, encryptedExt: string): string {
  return `${id}.roles.sql${compressionExt}${encryptedExt}`
}

export function exportFileName(id: string, name: string, compressionExt: string, encryptedExt: string): string {
  return `${id}.export.${name}.csv${compressionExt}${encryptedExt}`
}

/** The body of a `sha256sum -c` file: one line per object, two spaces, the file name. */
export function checksumFile(objects: ManifestObject[]): string {
  return objects.map(o => `${o.sha256}  ${o.file}\n`).join('')
}
