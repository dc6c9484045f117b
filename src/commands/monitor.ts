import { listBackups, listHiddenBackups, type BackupEntry } from '../catalog/catalog.js'
import { checkStatus, type Check } from '../catalog/checks.js'
import { layout } from '../catalog/manifest.js'
import { subtractDuration, type CalendarDuration } from '../catalog/duration.js'
import { FailureWithOutputs } from '../errors.js'
import type { Settings } from '../inputs.js'
import { parseDrillReport } from '../model/drill-report.js'
import { formatBytes, formatSeconds } from '../report/format.js'
import { checksTable, formatTags } from '../report/summary.js'
import { AccessDeniedError, readAll, type Storage } from '../storage/storage.js'
import { configuredSetName, readableStorage, type Context } from './context.js'
import { driftChecks, readHistory, type SetHistory } from './drift-guard.js'
import { managementApi, projectRef } from './supabase.js'
import { platformChecks } from '../supabase/platform.js'

/** What every monitor check looks at, read from storage once. */
export interface SetView extends SetHistory {
  name: string
  /** Where the set lives, for messages. */
  location: string
  storage: Storage
  /** Every file group of the set, unfinished uploads included (they use storage too). */
  entries: BackupEntry[]
  settings: Settings
  now: Date
  /** For checks that reach beyond the storage (the Supabase Management API). */
  ctx: Context
}

/** One row (or a few) of the monitor's report; no rows when the check has nothing to say. */
export type MonitorCheck = (view: SetView) => Check[] | Promise<Check[]>

/** Storage use above this share of storage-quota warns; above the quota fails. */
const QUOTA_WARN = 0.8

/** A limit like 26h or 1m as milliseconds back from now (calendar units are counted on the calendar). */
const limitMs = (now: Date, limit: CalendarDuration) => now.getTime() - subtractDuration(now, limit).getTime()

const freshness: MonitorCheck = ({ backups, newest, name, location, settings, now }) => {
  if (!backups[0]) return [{ name: 'newest backup', ok: false, detail: `no complete backup of "${name}" in ${location}` }]
  const ageMs = now.getTime() - backups[0].time.getTime()
  const maxMs = limitMs(now, settings.maxAge)
  const tags = newest?.tags?.length ? `; tags ${formatTags(newest.tags)}` : ''
  return [
    {
      name: 'newest backup',
      ok: ageMs <= maxMs,
      detail: `${backups[0].id} is ${formatSeconds(ageMs / 1000)} old (limit ${formatSeconds(maxMs / 1000)})${tags}`
    }
  ]
}

const storedObjects: MonitorCheck = ({ backups, newest }) => {
  if (!newest) return []
  const files = backups[0].files
  const wrong = newest.objects.filter(o => files.find(f => f.key.endsWith(`/${o.file}`))?.size !== o.size).map(o => o.file)
  return [
    {
      name: 'stored objects',
      ok: wrong.length === 0,
      detail: wrong.length ? `missing or wrong size: ${wrong.join(', ')}` : `${newest.objects.length} object(s) present with the sizes in the manifest`
    }
  ]
}

/** In a versioned bucket a DELETE without a version id only hides a backup behind a delete marker. */
const hiddenBackups: MonitorCheck = async ({ storage, name, ctx }) => {
  const hidden = await listHiddenBackups(storage, name).catch(error => {
    if (!(error instanceof AccessDeniedError)) throw error
    ctx.host.warning(`could not look for backups hidden by delete markers: ${error.message}`)
    return []
  })
  if (hidden.length === 0) return []
  return [
    {
      name: 'hidden backups',
      ok: false,
      detail: `${hidden.length} backup(s) hidden by delete markers, a sign of tampering (a DELETE without version id): ${hidden.map(b => b.id).join(', ')}; restore or drill them by id`
    }
  ]
}

/** The drill report of the newest drilled backup: it must have passed, and be younger than max-drill-age when set. */
const lastDrill: MonitorCheck = async ({ backups, name, storage, settings, now }) => {
  const drilled = backups.find(b => b.files.some(f => f.key.endsWith('.drill.json')))
  const limit = settings.maxDrillAge && limitMs(now, settings.maxDrillAge)
  if (!drilled)
    return limit === undefined ? [] : [{ name: 'last drill', ok: false, detail: `no drill report in the set (limit ${formatSeconds(limit / 1000)})` }]
  const key = layout.drill(name, drilled.id)
  const report = parseDrillReport((await readAll(await storage.get(key))).toString('utf8'), storage.locate(key))
  const ageMs = now.getTime() - new Date(report.drilledAt).getTime()
  const tooOld = limit !== undefined && !(ageMs <= limit)
  const age = limit === undefined ? '' : `, ${formatSeconds(ageMs / 1000)} ago (limit ${formatSeconds(limit / 1000)})`
  return [
    { name: 'last drill', ok: report.passed && !tooOld, detail: `${report.passed ? 'passed' : 'FAILED'} on ${report.drilledAt} (backup ${drilled.id})${age}` }
  ]
}

/** Size anomaly and per-table row drop of the newest backup against the ones before it. */
const drift: MonitorCheck = view => driftChecks(view, view.settings)

const storageUse: MonitorCheck = ({ entries, settings }) => {
  const total = entries.reduce((sum, e) => sum + e.files.reduce((s, f) => s + f.size, 0), 0)
  const quota = settings.storageQuotaBytes
  if (quota === undefined) return [{ name: 'storage', ok: true, detail: `${formatBytes(total)} in ${entries.length} backup(s) (no storage-quota set)` }]
  const share = total / quota
  return [
    {
      name: 'storage',
      ok: share <= 1,
      warn: share >= QUOTA_WARN,
      detail: `${formatBytes(total)} of ${formatBytes(quota)} (${(share * 100).toFixed(1)}%; warning at ${QUOTA_WARN * 100}%)`
    }
  ]
}

/** Supabase's own backups and PITR, read from the Management API: failures fail the monitor, the rest warn. */
const platform: MonitorCheck = async ({ ctx }) => {
  if (!ctx.settings.supabase.accessToken) return []
  const backups = await managementApi(ctx).backups(projectRef(ctx))
  const { supabase } = ctx.settings
  const { checks, warnings } = platformChecks(backups, { requirePitr: supabase.requirePitr, maxAgeMs: supabase.maxPlatformBackupAgeMs, now: ctx.now() })
  for (const warning of warnings) ctx.host.warning(warning)
  return checks
}

/** The checks, in report order. A new one is a MonitorCheck added here. */
export const MONITOR_CHECKS: MonitorCheck[] = [freshness, storedObjects, hiddenBackups, lastDrill, drift, storageUse, platform]

export interface MonitorReport {
  name: string
  location: string
  checkedAt: string
  ok: boolean
  backupId: string | null
  checks: Array<{ name: string; status: 'pass' | 'warn' | 'fail'; detail: string }>
}

/**
 * Watches one backup set: runs every check, writes them as rows of the summary, warns on the
 * ones near a limit and fails naming the ones that failed. The `report` output holds them all,
 * on failure too, so notifications carry the reasons.
 */
export async function monitor(ctx: Context): Promise<MonitorReport> {
  const storage = readableStorage(ctx)
  const name = configuredSetName(ctx)
  const entries = await listBackups(storage, name)
  const view: SetView = {
    ...(await readHistory(storage, name, entries)),
    name,
    location: storage.locate(layout.setPrefix(name)),
    storage,
    entries,
    settings: ctx.settings,
    now: ctx.now(),
    ctx
  }
  const checks: Check[] = []
  for (const check of MONITOR_CHECKS) checks.push(...(await check(view)))
  await ctx.host.summary(`## Backup monitor: ${name}\n\n${checksTable(checks)}\n`)
  for (const c of checks.filter(c => c.ok && c.warn)) ctx.host.warning(`Monitor of "${name}": ${c.name}: ${c.detail}`)
  const failed = checks.filter(c => !c.ok)
  const report: MonitorReport = {
    name,
    location: view.location,
    checkedAt: view.now.toISOString(),
    ok: failed.length === 0,
    backupId: view.backups[0]?.id ?? null,
    checks: checks.map(c => ({ name: c.name, status: checkStatus(c), detail: c.detail }))
  }
  if (failed.length > 0) {
    throw new FailureWithOutputs(`Monitor of "${name}": ${failed.map(c => `${c.name}: ${c.detail}`).join('; ')}`, monitorOutputs(report))
  }
  return report
}

export const monitorOutputs = (report: MonitorReport) => ({ 'backup-id': report.backupId ?? '', report: JSON.stringify(report) })
