import { Transform, Writable, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { randomInt } from 'node:crypto'
import type { Check } from '../catalog/checks.js'
import { BackupError, errorMessage } from '../errors.js'
import type { FilesDrill } from '../model/drill-report.js'
import type { FilesManifest, SnapshotFile } from '../model/files-manifest.js'
import type { SqlClient } from '../postgres/client.js'
import type { Storage } from '../storage/storage.js'
import { formatBytes } from '../report/format.js'
import { contentCipher, type ContentCipher } from './cipher.js'
import { inParallel } from './plan.js'
import { contentKey, describeFiles, listContents, missingContents, readFilesManifest } from './store.js'

/** Verify: the files manifest reads, and every content it references is stored with its size (one listing, no download). */
export async function filesChecks(storage: Storage, name: string, id: string): Promise<Check[]> {
  let manifest: FilesManifest
  try {
    manifest = await readFilesManifest(storage, name, id)
  } catch (error) {
    return [{ name: 'files manifest', ok: false, detail: errorMessage(error) }]
  }
  const missing = missingContents(manifest, await listContents(storage, name))
  const bytes = manifest.files.reduce((s, f) => s + f.size, 0)
  return [
    {
      name: 'files',
      ok: missing.length === 0,
      detail:
        missing.length === 0
          ? `${manifest.files.length} file(s), ${formatBytes(bytes)} in ${manifest.buckets.length} bucket(s): every content stored with its size`
          : `${missing.length} file(s) have no stored content of the right size: ${describeFiles(missing)}`
    }
  ]
}

/**
 * A Transform that checks the bytes passing through against a snapshot entry (size and content hash),
 * failing at the end of the stream, before a consumer sees a clean end, when they differ.
 */
export function contentCheck(file: SnapshotFile, cipher: ContentCipher): Transform {
  const hash = cipher.hasher()
  let size = 0
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      hash.update(chunk)
      size += chunk.length
      callback(null, chunk)
    },
    flush(callback: TransformCallback) {
      const digest = hash.digest('hex')
      if (size === file.size && digest === file.hash) return callback()
      callback(
        new BackupError(
          `${file.bucket}/${file.key}: the stored content does not match the snapshot (${size} bytes read, ${file.size} expected${size === file.size ? '; the hash differs' : ''})`
        )
      )
    }
  })
}

/** Reads a stored content back, decrypted and checked against its entry. */
export async function readContent(storage: Storage, manifest: FilesManifest, file: SnapshotFile, cipher: ContentCipher) {
  const key = contentKey(manifest, file)
  const stored = await storage.get(key).catch(error => {
    throw new BackupError(`${file.bucket}/${file.key}: its content ${storage.locate(key)} could not be read: ${errorMessage(error)}`, { cause: error })
  })
  const plain = cipher.decrypt(stored)
  const check = contentCheck(file, cipher)
  stored.on('error', error => plain.destroy(error))
  plain.on('error', error => check.destroy(error))
  return plain.pipe(check)
}

/**
 * Downloads every file of the snapshot (or a random sample) and checks its hash; with the restored
 * database at hand, compares its storage.objects rows with the snapshot.
 */
export async function drillFiles(
  storage: Storage,
  name: string,
  id: string,
  options: { passphrase?: string; jobs: number; sample: number; buckets: string[]; db?: SqlClient }
): Promise<FilesDrill> {
  const manifest = await readFilesManifest(storage, name, id)
  if (manifest.encryption && !options.passphrase) {
    throw new BackupError(
      `Input "encryption-passphrase": the files of backup ${id} are encrypted; set encryption-passphrase to the passphrase they were stored with`
    )
  }
  const cipher = contentCipher(manifest.encryption ? options.passphrase : undefined)
  const files = chosen(manifest, options.buckets)
  const sample = options.sample > 0 && options.sample < files.length
  const picked = sample ? pick(files, options.sample) : files
  const failures: string[] = []
  await inParallel(picked, options.jobs, async file => {
    try {
      await pipeline(await readContent(storage, manifest, file, cipher), new Writable({ write: (_c, _e, cb) => cb() }))
    } catch (error) {
      failures.push(`${file.bucket}/${file.key}: ${errorMessage(error).replace(`${file.bucket}/${file.key}: `, '')}`)
    }
  })
  failures.sort()
  const crossCheck = options.db ? await compareObjects(options.db, files) : undefined
  return { total: files.length, checked: picked.length, sample, failures, crossCheck, passed: failures.length === 0 }
}

/** The snapshot's files in the given buckets (all when none or `*`). */
export function chosen(manifest: FilesManifest, buckets: string[]): SnapshotFile[] {
  if (buckets.length === 0 || buckets.includes('*')) return manifest.files
  const wanted = new Set(buckets)
  return manifest.files.filter(f => wanted.has(f.bucket))
}

function pick<T>(items: T[], n: number): T[] {
  const copy = [...items]
  for (let i = 0; i < n; i++) {
    const j = i + randomInt(copy.length - i)
    ;[copy[i], copy[j]] = [copy[j], copy[i]]
  }
  return copy.slice(0, n)
}

async function compareObjects(db: SqlClient, files: SnapshotFile[]) {
  const exists = await db.query<{ t: string | null }>("SELECT to_regclass('storage.objects')::text AS t")
  if (!exists.rows[0].t) return undefined
  const buckets = [...new Set(files.map(f => f.bucket))]
  const { rows } = await db.query<{ bucket_id: string; name: string }>('SELECT bucket_id, name FROM storage.objects WHERE bucket_id = ANY($1)', [buckets])
  const id = (bucket: string, key: string) => `${bucket}/${key}`
  const inDb = new Set(rows.map(r => id(r.bucket_id, r.name)))
  const inSnapshot = new Set(files.map(f => id(f.bucket, f.key)))
  const notInSnapshot = [...inDb].filter(k => !inSnapshot.has(k)).sort()
  const notInDatabase = [...inSnapshot].filter(k => !inDb.has(k)).sort()
  return {
    notInSnapshot: notInSnapshot.length,
    notInDatabase: notInDatabase.length,
    examples: [...notInSnapshot.slice(0, 5).map(k => `database only: ${k}`), ...notInDatabase.slice(0, 5).map(k => `snapshot only: ${k}`)]
  }
}
