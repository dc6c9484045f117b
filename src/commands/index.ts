import { dataObject } from '../catalog/manifest.js'
import { AccessDeniedError } from '../storage/storage.js'
import type { Command } from '../model/vocabulary.js'
import { backup } from './backup.js'
import { readableStorages, type Context } from './context.js'
import { drill } from './drill.js'
import { prune } from './prune.js'
import { backupBucketsOnly, drillFilesOnly, filesOnlyBackup, filesOutputs, restoreFilesCommand, verifyFilesOnly } from '../files/commands.js'
import { monitor, monitorOutputs } from './monitor.js'
import { pitrRestore } from './pitr-restore.js'
import { restore } from './restore.js'
import { schema } from './schema.js'
import { verify } from './verify.js'

export type Outputs = Record<string, string | number | boolean>

/** Each command returns the step outputs it sets. */
export const COMMAND_RUNNERS: Record<Command, (ctx: Context) => Promise<Outputs>> = {
  backup: async ctx => {
    if (ctx.settings.files.only) return backupBucketsOnly(ctx, prune)
    const canVerify = readableStorages(ctx).length > 0
    if (ctx.settings.verify && !canVerify) ctx.host.warning('verify skipped: artifact storage cannot be read back')
    const result = await backup(ctx, { verify: ctx.settings.verify && canVerify })
    const data = dataObject(result.manifest)
    const outputs: Outputs = {
      'backup-id': result.manifest.id,
      location: result.location,
      'size-bytes': data.size,
      sha256: data.sha256,
      'duration-seconds': result.durationSeconds.toFixed(1),
      verified: result.verified,
      ...(result.files ? filesOutputs(result.files.manifest) : {})
    }
    if (result.exports.length > 0) outputs.exports = JSON.stringify(result.exports)
    if (result.drift) outputs.drift = JSON.stringify(result.drift)
    // Prune only follows a backup that was published and verified; a throw above skips it.
    if (ctx.settings.prune) {
      try {
        const p = await prune(ctx, { kind: result.manifest.kind, protect: [result.manifest.id] })
        outputs.kept = JSON.stringify(p.kept)
        outputs.deleted = JSON.stringify(p.deleted)
        outputs.retained = JSON.stringify(p.retained)
      } catch (error) {
        // A write-only backup key is the safe setup: the backup stands, pruning belongs to a job with delete rights.
        if (!(error instanceof AccessDeniedError)) throw error
        ctx.host.warning(`the backup succeeded; pruning was left to a job with delete rights: ${error.message}`)
      }
    }
    return outputs
  },
  verify: async ctx => {
    const filesOnly = await filesOnlyBackup(ctx)
    if (filesOnly) return verifyFilesOnly(ctx, filesOnly)
    const result = await verify(ctx)
    return { 'backup-id': result.manifest.id, verified: result.ok }
  },
  drill: async ctx => {
    const filesOnly = await filesOnlyBackup(ctx)
    if (filesOnly) return drillFilesOnly(ctx, filesOnly)
    const report = await drill(ctx)
    return { 'backup-id': report.backupId, 'restore-seconds': report.restoreSeconds.toFixed(1), report: JSON.stringify(report) }
  },
  restore: async ctx => {
    if (ctx.settings.files.restoreTo) return restoreFilesCommand(ctx)
    const result = await restore(ctx)
    const outputs: Outputs = { 'backup-id': result.manifest.id, 'restore-seconds': result.restoreSeconds.toFixed(1) }
    if (result.safetyBackupId) outputs['safety-backup-id'] = result.safetyBackupId
    return outputs
  },
  prune: async ctx => {
    const result = await prune(ctx)
    return { kept: JSON.stringify(result.kept), deleted: JSON.stringify(result.deleted), retained: JSON.stringify(result.retained) }
  },
  'pitr-restore': async ctx => {
    const result = await pitrRestore(ctx)
    const outputs: Outputs = { 'restore-seconds': result.restoreSeconds.toFixed(1) }
    if (result.safetyBackupId) outputs['safety-backup-id'] = result.safetyBackupId
    return outputs
  },
  monitor: async ctx => monitorOutputs(await monitor(ctx)),
  schema: async ctx => {
    const result = await schema(ctx)
    const outputs: Outputs = { changed: result.changed, 'schema-file': result.file }
    if (result.committed?.commit) outputs.commit = result.committed.commit
    if (result.committed?.pullRequest) outputs['pull-request-url'] = result.committed.pullRequest.url
    return outputs
  }
}
