import { listBackups, listHiddenBackups, readManifest } from '../catalog/catalog.js'
import type { Check } from '../catalog/checks.js'
import { layout } from '../catalog/manifest.js'
import { subtractDuration } from '../catalog/duration.js'
import { parseDrillReport } from '../model/drill-report.js'
import { BackupError } from '../errors.js'
import { formatSeconds } from '../report/format.js'
import { checksTable, formatTags } from '../report/summary.js'
import { AccessDeniedError, readAll } from '../storage/storage.js'
import { configuredSetName, readableStorage, type Context } from './context.js'
import { managementApi, projectRef } from './supabase.js'
import { platformChecks } from '../supabase/platform.js'

/**
 * Fails when the set's newest backup is older than `max-age`, when its stored data
 * does not match its manifest's size, or when the newest drill report says it failed.
 */
export async function monitor(ctx: Context): Promise<{ backupId?: string; checks: Check[] }> {
  const storage = readableStorage(ctx)
  const name = configuredSetName(ctx)
  const maxAge = ctx.settings.maxAge
  const backups = (await listBackups(storage, name)).filter(b => b.complete && !b.filesOnly && b.kind !== 'pre-restore')
  const checks: Check[] = []
  const newest = backups[0]
  if (!newest) {
    checks.push({ name: 'newest backup', ok: false, detail: `no complete backup of "${name}" in ${storage.locate(layout.setPrefix(name))}` })
  } else {
    const now = ctx.now()
    const ageMs = now.getTime() - newest.time.getTime()
    const limitMs = now.getTime() - subtractDuration(now, maxAge).getTime()
    const manifest = await readManifest(storage, name, newest.id)
    const tags = manifest.tags?.length ? `; tags ${formatTags(manifest.tags)}` : ''
    checks.push({
      name: 'newest backup',
      ok: ageMs <= limitMs,
      detail: `${newest.id} is ${formatSeconds(ageMs / 1000)} old (limit ${formatSeconds(limitMs / 1000)})${tags}`
    })
    const wrong = manifest.objects.filter(o => newest.files.find(f => f.key.endsWith(`/${o.file}`))?.size !== o.size).map(o => o.file)
    checks.push({
      name: 'stored objects',
      ok: wrong.length === 0,
      detail: wrong.length ? `missing or wrong size: ${wrong.join(', ')}` : `${manifest.objects.length} object(s) present with the sizes in the manifest`
    })
  }
  const hidden = await listHiddenBackups(storage, name).catch(error => {
    if (!(error instanceof AccessDeniedError)) throw error
    ctx.host.warning(`could not look for backups hidden by delete markers: ${error.message}`)
    return []
  })
  if (hidden.length > 0) {
    checks.push({
      name: 'hidden backups',
      ok: false,
      detail: `${hidden.length} backup(s) hidden by delete markers, a sign of tampering (a DELETE without version id): ${hidden.map(b => b.id).join(', ')}; restore or drill them by id`
    })
  }
  const drilled = backups.find(b => b.files.some(f => f.key.endsWith('.drill.json')))
  if (drilled) {
    const key = layout.drill(name, drilled.id)
    const report = parseDrillReport((await readAll(await storage.get(key))).toString('utf8'), storage.locate(key))
    checks.push({ name: 'last drill', ok: report.passed, detail: `${report.passed ? 'passed' : 'FAILED'} on ${report.drilledAt} (backup ${drilled.id})` })
  }
  if (ctx.settings.supabase.accessToken) checks.push(...(await watchPlatform(ctx)))
  await ctx.host.summary(`## Backup monitor: ${name}\n\n${checksTable(checks)}\n`)
  const failed = checks.filter(c => !c.ok)
  if (failed.length > 0) throw new BackupError(`Monitor of "${name}": ${failed.map(c => `${c.name}: ${c.detail}`).join('; ')}`)
  return { backupId: newest?.id, checks }
}

/** Supabase's own backups and PITR, read from the Management API: failures fail the monitor, the rest warn. */
async function watchPlatform(ctx: Context): Promise<Check[]> {
  const backups = await managementApi(ctx).backups(projectRef(ctx))
  const { supabase } = ctx.settings
  const { checks, warnings } = platformChecks(backups, { requirePitr: supabase.requirePitr, maxAgeMs: supabase.maxPlatformBackupAgeMs, now: ctx.now() })
  for (const warning of warnings) ctx.host.warning(warning)
  return checks
}
