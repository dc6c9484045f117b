import { listBackups, readManifest } from '../catalog/catalog.js'
import { BackupError, InputError } from '../errors.js'
import type { TableCount } from '../model/manifest.js'
import { connect } from '../postgres/client.js'
import { countRows } from '../postgres/inventory.js'
import { formatSeconds, table } from '../report/format.js'
import type { ManagementApi } from '../supabase/api.js'
import { describeWindow, pitrWindow } from '../supabase/platform.js'
import { backup } from './backup.js'
import { configuredSetName, readableStorages, sourceConnection, type Context } from './context.js'
import { managementApi, projectRef } from './supabase.js'
import { runCheckSql } from './drill.js'

export interface PitrRestoreResult {
  ref: string
  restoreSeconds: number
  safetyBackupId?: string
}

/** How often the project's status is read while it restores (the API allows 120 requests a minute). */
const POLL_MS = 20_000

/**
 * Drives a Supabase point-in-time recovery: the guard and the window first, then a safety backup of
 * the current database, the restore, a watch until the project is healthy again, and a report of
 * what came back against the newest own backup made before the target time.
 */
export async function pitrRestore(ctx: Context, api: ManagementApi = managementApi(ctx)): Promise<PitrRestoreResult> {
  const ref = projectRef(ctx)
  if (ctx.settings.confirm !== ref) {
    throw new InputError(
      'confirm',
      `must equal the project ref "${ref}" to restore it (got ${ctx.settings.confirm ? `"${ctx.settings.confirm}"` : 'nothing'}); nothing was changed`
    )
  }
  const target = ctx.settings.supabase.restoreTime as Date
  const backups = await api.backups(ref)
  if (!backups.pitr_enabled) throw new BackupError(`Point-in-time recovery is not enabled for project ${ref}; nothing was changed`)
  const window = pitrWindow(backups)
  if (!window) throw new BackupError(`Project ${ref} reports no PITR window yet; nothing was changed`)
  if (target < window.earliest || target > window.latest) {
    throw new InputError('restore-time', `${target.toISOString()} is outside the recovery window of ${ref} (${describeWindow(window)}); nothing was changed`)
  }

  let safetyBackupId: string | undefined
  if (ctx.settings.safetySnapshot) {
    if (!ctx.settings.databaseUrl) throw new InputError('database-url', 'is needed for the safety backup before a PITR restore (or set safety-snapshot: false)')
    safetyBackupId = (await backup(ctx, { kind: 'pre-restore' })).manifest.id
    ctx.host.info(`Safety backup of the current database (rows written after the target time are in it): ${safetyBackupId}`)
  }

  const seconds = Math.floor(target.getTime() / 1000)
  ctx.host.info(`Starting the PITR restore of ${ref} to ${target.toISOString()} (unix ${seconds}); it cannot be cancelled once started`)
  const started = ctx.now().getTime()
  await api.restorePitr(ref, seconds)
  await waitUntilHealthy(ctx, api, ref, started)
  const restoreSeconds = (ctx.now().getTime() - started) / 1000
  ctx.host.info(`Project ${ref} is healthy again after ${formatSeconds(restoreSeconds)}`)

  const report = await afterRestore(ctx, target)
  await ctx.host.summary(
    [
      `## PITR restore of ${ref} to ${target.toISOString()} ✅`,
      '',
      table(
        ['', ''],
        [
          ['Recovery window', describeWindow(window)],
          ['Restore time', formatSeconds(restoreSeconds)],
          ['Safety backup', safetyBackupId ?? 'none (safety-snapshot: false)']
        ]
      ),
      '',
      report.summary
    ].join('\n')
  )
  if (report.failure) throw new BackupError(`PITR restore of ${ref} finished, but ${report.failure}`)
  return { ref, restoreSeconds, safetyBackupId }
}

/** Waits for the project to leave ACTIVE_HEALTHY (the restore began) and come back with a healthy database. */
async function waitUntilHealthy(ctx: Context, api: ManagementApi, ref: string, started: number): Promise<void> {
  const deadline = started + ctx.settings.supabase.restoreTimeoutMs
  let left = false
  let last = ''
  for (;;) {
    const status = await api.projectStatus(ref)
    if (status !== last) ctx.host.info(`Project ${ref}: ${status}`)
    last = status
    if (status === 'RESTORE_FAILED') {
      throw new BackupError(
        `The PITR restore of ${ref} failed (RESTORE_FAILED). A PITR restore cannot be retried blindly: check the dashboard, and contact Supabase support with the project ref and the target time`
      )
    }
    if (status !== 'ACTIVE_HEALTHY') left = true
    else if (left) {
      const health = await api.health(ref, ['db'])
      if (health.every(s => s.status === 'ACTIVE_HEALTHY')) return
    }
    if (ctx.now().getTime() >= deadline) {
      throw new BackupError(
        `Project ${ref} was still ${status} after ${formatSeconds(ctx.settings.supabase.restoreTimeoutMs / 1000)} (restore-timeout). The restore goes on and cannot be cancelled: watch the dashboard, run monitor or this command's checks later, and contact Supabase support if it does not finish`
      )
    }
    await ctx.sleep(POLL_MS)
  }
}

/** check-sql, and each table's rows now against the newest own backup taken before the target time. */
async function afterRestore(ctx: Context, target: Date): Promise<{ summary: string; failure?: string }> {
  if (!ctx.settings.databaseUrl) return { summary: 'No database-url: rows and check-sql were not checked.' }
  const client = await connect(sourceConnection(ctx))
  try {
    const parts: string[] = []
    let failure: string | undefined
    if (ctx.settings.checkSql) {
      const check = await runCheckSql(client, ctx.settings.checkSql)
      parts.push(`check-sql: ${check.ok ? 'no rows ✅' : `${check.rows} row(s) ❌`}`, '')
      if (!check.ok) failure = `check-sql returned ${check.rows} row(s)`
    }
    const reference = await newestBackupBefore(ctx, target)
    if (!reference) {
      parts.push(`No own backup of this set was taken before ${target.toISOString()}: no row counts to compare.`)
      return { summary: parts.join('\n'), failure }
    }
    const present = await client.query<{ key: string }>(
      "SELECT n.nspname || '.' || c.relname AS key FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')"
    )
    const exists = new Set(present.rows.map(r => r.key))
    const now = await countRows(
      client,
      reference.tables.filter(t => exists.has(`${t.schema}.${t.table}`))
    )
    parts.push(`### Rows now against backup ${reference.id} (before the target time)`, '', rowsTable(reference.tables, now))
    return { summary: parts.join('\n'), failure }
  } finally {
    await client.end().catch(() => undefined)
  }
}

async function newestBackupBefore(ctx: Context, target: Date): Promise<{ id: string; tables: TableCount[] } | undefined> {
  const storage = readableStorages(ctx)[0]
  if (!storage) return undefined
  const name = configuredSetName(ctx)
  const entry = (await listBackups(storage, name)).find(b => b.complete && !b.filesOnly && b.kind !== 'pre-restore' && b.time <= target)
  if (!entry) return undefined
  const manifest = await readManifest(storage, name, entry.id)
  return { id: manifest.id, tables: manifest.tables }
}

function rowsTable(before: TableCount[], now: TableCount[]): string {
  const key = (t: { schema: string; table: string }) => `${t.schema}.${t.table}`
  const current = new Map(now.map(t => [key(t), t.rows]))
  return table(
    ['Table', 'Backup', 'Now', 'Change'],
    before.map(t => {
      const n = current.get(key(t))
      return [key(t), String(t.rows), n === undefined ? 'missing' : String(n), n === undefined ? '' : `${n - t.rows >= 0 ? '+' : ''}${n - t.rows}`]
    })
  )
}
