import { arrayOf, FormatError, num, optional, parseChecked, shape, str } from './validate.js'

/**
 * A files snapshot: `<set>/<id>.files.json`, beside a database backup's manifest or, for a backup of
 * buckets alone, beside the empty `<id>.files-only` marker that makes that backup exist.
 * Every file points at one stored content, `<set>/files/<hash[0:2]>/<hash>[.gpg]`, shared by every
 * snapshot holding the same bytes.
 */
export const FILES_MANIFEST_VERSION = 1

export interface SnapshotFile {
  bucket: string
  key: string
  size: number
  contentType?: string
  /** The source's ETag and last-modified: an unchanged listing entry reuses the previous snapshot's content. */
  etag: string
  lastModified: string
  /** sha256 of the bytes (hex); with encryption an HMAC-SHA256 keyed from the passphrase, so names reveal nothing. */
  hash: string
  /** Size of the stored content (the encrypted size when encrypted). */
  storedSize: number
}

export interface BucketTotals {
  bucket: string
  files: number
  bytes: number
  /** Files whose content this backup had to store (the rest were already in the set). */
  newFiles: number
  newBytes: number
}

export interface FilesManifest {
  filesManifestVersion: number
  id: string
  name: string
  startedAt: string
  finishedAt: string
  /** The S3 endpoint the buckets were read from (no credentials). */
  source: { endpoint?: string; buckets: string[] }
  /** keyCheck: an HMAC of a constant under the naming key, so a run with another passphrase never reuses these contents. */
  encryption: { algorithm: 'openpgp-aes256'; hash: 'hmac-sha256'; keyCheck: string } | null
  buckets: BucketTotals[]
  files: SnapshotFile[]
}

const FILES_MANIFEST_SHAPE = shape({
  filesManifestVersion: num,
  id: str,
  name: str,
  startedAt: str,
  finishedAt: str,
  source: shape({ endpoint: optional(str), buckets: arrayOf(str) }),
  encryption: optional(shape({ algorithm: str, hash: str, keyCheck: str })),
  buckets: arrayOf(shape({ bucket: str, files: num, bytes: num, newFiles: num, newBytes: num })),
  files: arrayOf(shape({ bucket: str, key: str, size: num, contentType: optional(str), etag: str, lastModified: str, hash: str, storedSize: num }))
})

export function parseFilesManifest(text: string, source: string): FilesManifest {
  const version = parseChecked<{ filesManifestVersion: number }>(text, source, shape({ filesManifestVersion: num }))
  if (version.filesManifestVersion > FILES_MANIFEST_VERSION) {
    throw new FormatError(
      source,
      `has files manifest version ${version.filesManifestVersion}; this version of the action reads up to ${FILES_MANIFEST_VERSION}: upgrade the action`
    )
  }
  const manifest = parseChecked<FilesManifest>(text, source, FILES_MANIFEST_SHAPE)
  const bad = manifest.files.find(f => !/^[0-9a-f]{64}$/.test(f.hash))
  if (bad) throw new FormatError(source, `file ${bad.bucket}/${bad.key} has a malformed hash`)
  return manifest
}
