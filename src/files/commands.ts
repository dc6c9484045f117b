import { deleteBackupFiles, listBackups, type BackupEntry } from '../catalog/catalog.js'
import { layout, newBackupId } from '../catalog/manifest.js'
import { configuredSetName, readableStorage, readableStorages, type Context } from '../commands/context.js'
import type { Outputs } from '../commands/index.js'
import { BackupError, errorMessage } from '../errors.js'
import type { FilesDrill } from '../model/drill-report.js'
import type { FilesManifest } from '../model/files-manifest.js'
import type { SqlClient } from '../postgres/client.js'
import { filesDrillSummary, filesSummary } from '../report/files-summary.js'
import { checksTable } from '../report/summary.js'
import type { Storage } from '../storage/storage.js'
import { drillFiles, filesChecks } from './check.js'
import { restoreFiles } from './restore.js'
import { snapshotBuckets, type Snapshot } from './snapshot.js'
import { sweepContents } from './sweep.js'
import { resolveEntry } from './store.js'

/** The step outputs of a files snapshot. */
export function filesOutputs(manifest: FilesManifest): Outputs {
  const sum = (pick: (b: FilesManifest['buckets'][number]) => number) => manifest.buckets.reduce((s, b) => s + pick(b), 0)
  return {
    'files-count': sum(b => b.files),
    'files-new': sum(b => b.newFiles),
    'files-reused': sum(b => b.files - b.newFiles),
    'files-bytes': sum(b => b.bytes)
  }
}

/** The backup hook: a files snapshot under the backup's id, when buckets are configured (never for a pre-restore snapshot). */
export async function snapshotWithBackup(ctx: Context, name: string, id: string, kind: string): Promise<Snapshot | undefined> {
  if (ctx.settings.files.buckets.length === 0 || kind === 'pre-restore') return undefined
  return snapshotBuckets(ctx, name, id)
}

/** A backup of the buckets alone: the snapshot, then the empty `<id>.files-only` marker that publishes it. */
export async function backupBucketsOnly(
  ctx: Context,
  prune: (ctx: Context, options: { kind: BackupEntry['kind']; protect: string[] }) => Promise<{ kept: string[]; deleted: string[] }>
): Promise<Outputs> {
  const name = configuredSetName(ctx)
  const kind = ctx.settings.kind
  const id = newBackupId(ctx.now(), kind)
  ctx.host.info(`Backing up the buckets of ${ctx.settings.files.buckets.join(', ')} as ${id} (files only)`)
  let snapshot: Snapshot
  try {
    snapshot = await snapshotBuckets(ctx, name, id)
    for (const storage of readableStorages(ctx)) {
      if (ctx.settings.pin) await storage.put(layout.pinned(name, id), '', 'text/plain')
      await storage.put(layout.filesOnly(name, id), '', 'text/plain')
    }
  } catch (error) {
    for (const storage of readableStorages(ctx)) {
      try {
        await deleteBackupFiles(
          storage,
          name,
          (await listBackups(storage, name)).filter(b => b.id === id)
        )
      } catch (cleanup) {
        ctx.host.warning(
          `could not remove the unfinished files backup ${id} from ${storage.locate(layout.setPrefix(name))} (a later prune will): ${errorMessage(cleanup)}`
        )
      }
    }
    throw error
  }
  await ctx.host.summary(`## Backup ${id} (files only)\n\n${filesSummary(snapshot.manifest, snapshot.seconds)}`)
  const outputs: Outputs = { 'backup-id': id, 'duration-seconds': snapshot.seconds.toFixed(1), ...filesOutputs(snapshot.manifest) }
  if (!ctx.settings.prune) return outputs
  const pruned = await prune(ctx, { kind, protect: [id] })
  return { ...outputs, kept: JSON.stringify(pruned.kept), deleted: JSON.stringify(pruned.deleted) }
}

/** For verify, drill: the backup `backup` names, when it holds files only (database commands take the rest). */
export async function filesOnlyBackup(ctx: Context): Promise<BackupEntry | undefined> {
  const entry = await resolveEntry(readableStorage(ctx), configuredSetName(ctx), ctx.settings.backupRef).catch(() => undefined)
  return entry?.filesOnly ? entry : undefined
}

export async function verifyFilesOnly(ctx: Context, entry: BackupEntry): Promise<Outputs> {
  const checks = await filesChecks(readableStorage(ctx), configuredSetName(ctx), entry.id)
  const ok = checks.every(c => c.ok)
  await ctx.host.summary(`## Verify ${entry.id} (files only): ${ok ? 'passed' : 'FAILED'}\n\n${checksTable(checks)}\n`)
  if (!ok) throw new BackupError(`Verify failed for backup ${entry.id}: ${checks.map(c => `${c.name}: ${c.detail}`).join('; ')}`)
  return { 'backup-id': entry.id, verified: true }
}

/** The drill hook: checks the files of a backup, cross-checking storage.objects when the restored database is at hand. */
export async function drillBackupFiles(ctx: Context, storage: Storage, name: string, id: string, db?: SqlClient): Promise<FilesDrill> {
  const { files } = ctx.settings
  const started = Date.now()
  const drill = await drillFiles(storage, name, id, {
    passphrase: ctx.settings.encryptionPassphrase,
    jobs: files.jobs,
    sample: files.drillSample,
    buckets: files.buckets,
    db
  })
  ctx.host.info(
    `Files of ${id}: checked ${drill.checked} of ${drill.total} in ${((Date.now() - started) / 1000).toFixed(1)} s, ${drill.failures.length} failed`
  )
  if (drill.crossCheck && (drill.crossCheck.notInSnapshot > 0 || drill.crossCheck.notInDatabase > 0)) {
    ctx.host.warning(
      `storage.objects and the files snapshot of ${id} differ: ${drill.crossCheck.notInSnapshot} row(s) with no file, ${drill.crossCheck.notInDatabase} file(s) with no row (${drill.crossCheck.examples.join('; ')})`
    )
  }
  await ctx.host.summary(filesDrillSummary(id, drill))
  return drill
}

export function describeFilesFailure(drill: FilesDrill): string {
  return `${drill.failures.length} file(s) failed their check: ${drill.failures.slice(0, 5).join('; ')}${drill.failures.length > 5 ? ` and ${drill.failures.length - 5} more` : ''}`
}

export async function drillFilesOnly(ctx: Context, entry: BackupEntry): Promise<Outputs> {
  const drill = await drillBackupFiles(ctx, readableStorage(ctx), configuredSetName(ctx), entry.id)
  if (!drill.passed) throw new BackupError(`Drill of backup ${entry.id} failed: ${describeFilesFailure(drill)}`)
  return { 'backup-id': entry.id, 'files-count': drill.checked, report: JSON.stringify({ backupId: entry.id, files: drill }) }
}

export async function restoreFilesCommand(ctx: Context): Promise<Outputs> {
  const result = await restoreFiles(ctx)
  return { 'backup-id': result.backupId, 'files-count': result.files, 'files-bytes': result.bytes, 'restore-seconds': result.seconds.toFixed(1) }
}

/** The prune hook: after the pruned backups' manifests are gone, sweep contents nothing references. */
export async function sweepAfterPrune(ctx: Context, storage: Storage, name: string): Promise<void> {
  try {
    const sweep = await sweepContents(storage, name, ctx.now())
    if (sweep.contents > 0)
      ctx.host.info(`prune ${name}: ${sweep.deleted} of ${sweep.contents} stored file content(s) no backup references any more were deleted`)
  } catch (error) {
    ctx.host.warning(errorMessage(error))
  }
}
