import { resolve, sep } from 'node:path'
import { configuredSetName, readableStorage, type Context } from '../commands/context.js'
import { BackupError, errorMessage, InputError } from '../errors.js'
import type { SnapshotFile } from '../model/files-manifest.js'
import type { BucketsEndpoint } from '../model/vocabulary.js'
import { formatBytes, formatSeconds, table } from '../report/format.js'
import { LocalStorage } from '../storage/local.js'
import { S3Storage } from '../storage/s3.js'
import type { Storage } from '../storage/storage.js'
import { contentCipher } from './cipher.js'
import { chosen, readContent } from './check.js'
import { inParallel, LARGE_AT_ONCE, LARGE_FILE, limiter } from './plan.js'
import { describeEndpoint } from './source.js'
import { describeFiles, hasFiles, readFilesManifest, resolveEntry } from './store.js'

export interface FilesRestore {
  backupId: string
  files: number
  bytes: number
  deleted: number
  dryRun: boolean
  seconds: number
}

/** Where one bucket's files go: a storage and the key each file gets in it. */
interface BucketTarget {
  storage: Storage
  /** The key a file of this bucket gets in `storage`. */
  keyOf(key: string): string
}

/**
 * Restores the files of a backup (all, the chosen `buckets`, keys under `buckets-restore-prefix`)
 * into buckets-restore-to, each file checked against its hash on the way. Guarded like a
 * database restore: confirm repeats the target; dry-run lists and writes nothing; objects the
 * snapshot lacks are left alone unless buckets-restore-delete-extra.
 */
export async function restoreFiles(ctx: Context): Promise<FilesRestore> {
  const { files: settings, dryRun } = ctx.settings
  const to = settings.restoreTo
  if (ctx.settings.confirm !== to) {
    throw new InputError(
      'confirm',
      `must equal buckets-restore-to ("${to}") to restore files into it (got ${ctx.settings.confirm ? `"${ctx.settings.confirm}"` : 'nothing'}); nothing was changed`
    )
  }
  const storage = readableStorage(ctx)
  const name = configuredSetName(ctx)
  const entry = await resolveEntry(storage, name, ctx.settings.backupRef)
  if (!hasFiles(entry, name)) throw new BackupError(`Backup ${entry.id} of "${name}" holds no files snapshot (it was made without buckets)`)
  const manifest = await readFilesManifest(storage, name, entry.id)
  if (manifest.encryption && !ctx.settings.encryptionPassphrase) {
    throw new InputError('encryption-passphrase', `the files of backup ${entry.id} are encrypted; set it to the passphrase they were stored with`)
  }
  const cipher = contentCipher(manifest.encryption ? ctx.settings.encryptionPassphrase : undefined)
  const files = chosen(manifest, settings.buckets).filter(f => f.key.startsWith(settings.restorePrefix))
  const targets = new Map<string, BucketTarget>()
  const targetOf = (bucket: string) => {
    let target = targets.get(bucket)
    if (!target) targets.set(bucket, (target = bucketTarget(to, bucket, settings.restoreTarget)))
    return target
  }
  const toFolder = !to.startsWith('s3:')
  // A folder cannot hold "dir/" placeholder objects; their folders appear with the files in them.
  const writable = toFolder ? files.filter(f => !f.key.endsWith('/')) : files
  const where = (f: SnapshotFile) => targetOf(f.bucket).storage.locate(targetOf(f.bucket).keyOf(f.key))
  if (toFolder) for (const f of writable) insideFolder(to, where(f), f)

  const started = Date.now()
  ctx.host.info(
    `${dryRun ? 'Dry run: would restore' : 'Restoring'} ${writable.length} file(s) of backup ${entry.id} into ${describeTarget(to, settings.restoreTarget)}`
  )
  if (dryRun) for (const f of writable.slice(0, 1000)) ctx.host.info(`would write ${where(f)} (${f.size} bytes)`)
  else {
    const large = limiter(LARGE_AT_ONCE)
    const write = async (f: SnapshotFile): Promise<void> => {
      const target = targetOf(f.bucket)
      const body = await readContent(storage, manifest, f, cipher)
      await target.storage.upload(target.keyOf(f.key), body, f.contentType ?? 'application/octet-stream', { replace: true }).catch(error => {
        throw new BackupError(`Restoring ${f.bucket}/${f.key} to ${where(f)} failed: ${errorMessage(error)}`, { cause: error })
      })
    }
    await inParallel(writable, settings.jobs, f => (f.size > LARGE_FILE ? large(() => write(f)) : write(f)))
  }
  const restoredBuckets = [...new Set(files.map(f => f.bucket))]
  const deleted = settings.restoreDeleteExtra
    ? await deleteExtras(
        ctx,
        writable,
        restoredBuckets.map(b => [b, targetOf(b)])
      )
    : 0
  const result: FilesRestore = {
    backupId: entry.id,
    files: writable.length,
    bytes: writable.reduce((s, f) => s + f.size, 0),
    deleted,
    dryRun,
    seconds: (Date.now() - started) / 1000
  }
  await ctx.host.summary(
    [
      `## Files restore of ${entry.id}${dryRun ? ' (dry run: nothing written)' : ''}`,
      '',
      table(
        ['', ''],
        [
          ['Into', describeTarget(to, settings.restoreTarget)],
          ['Files', `${result.files} (${formatBytes(result.bytes)})${settings.restorePrefix ? ` under prefix ${settings.restorePrefix}` : ''}`],
          ['Extra objects deleted', settings.restoreDeleteExtra ? result.deleted : 'none (buckets-restore-delete-extra is off)'],
          ['Time', formatSeconds(result.seconds)]
        ]
      ),
      ''
    ].join('\n')
  )
  return result
}

function bucketTarget(to: string, bucket: string, endpoint: BucketsEndpoint): BucketTarget {
  if (!to.startsWith('s3:')) return { storage: new LocalStorage(to), keyOf: key => `${bucket}/${key}` }
  const [, , targetBucket, ...rest] = to.split('/')
  const s3 = (b: string, p: string) =>
    new S3Storage(
      { bucket: b, prefix: p, endpoint: endpoint.endpoint, region: endpoint.region, forcePathStyle: endpoint.forcePathStyle },
      process.env,
      endpoint.credentials
    )
  // s3:// keeps every bucket's name; s3://b/p puts each under p/<bucket>/ in b.
  if (!targetBucket) return { storage: s3(bucket, ''), keyOf: key => key }
  return { storage: s3(targetBucket, rest.join('/').replace(/\/+$/, '')), keyOf: key => `${bucket}/${key}` }
}

function describeTarget(to: string, endpoint: BucketsEndpoint): string {
  return to.startsWith('s3:') ? `${to} at ${describeEndpoint(endpoint)}` : resolve(to)
}

/** A key such as "../x" must not write outside the folder. */
function insideFolder(folder: string, path: string, file: SnapshotFile): void {
  if (!resolve(path).startsWith(resolve(folder) + sep))
    throw new BackupError(`${file.bucket}/${file.key} would be written outside ${resolve(folder)}; nothing was changed`)
}

/** Deletes target objects (in the restored buckets, under the prefix) that the snapshot does not hold. */
async function deleteExtras(ctx: Context, restored: SnapshotFile[], targets: Array<[string, BucketTarget]>): Promise<number> {
  const prefix = ctx.settings.files.restorePrefix
  let count = 0
  for (const [bucket, target] of targets) {
    const keep = new Set(restored.filter(f => f.bucket === bucket).map(f => target.keyOf(f.key)))
    const scope = target.keyOf(prefix)
    // Listed from the enclosing folder: a folder can only be listed whole, S3 by any prefix.
    const listed = await target.storage.list(scope.replace(/[^/]*$/, ''))
    const extra = listed.map(o => o.key).filter(k => k.startsWith(scope) && !keep.has(k))
    if (extra.length === 0) continue
    ctx.host.info(
      `${ctx.settings.dryRun ? 'would delete' : 'deleting'} ${extra.length} object(s) of ${bucket} the snapshot does not hold: ${describeFiles(extra.map(k => ({ bucket, key: k })))}`
    )
    if (!ctx.settings.dryRun) await target.storage.delete(extra)
    count += extra.length
  }
  return count
}
