import type { Check } from '../catalog/checks.js'
import { formatSeconds } from '../report/format.js'
import type { PlatformBackups } from './api.js'

/**
 * Pure rules for Supabase's own backups and PITR: the project ref, the recovery window,
 * and the checks monitor reports.
 */

const REF = /^[a-z0-9]{20}$/

/**
 * The project ref from a Supabase connection string: `db.<ref>.supabase.co` (direct) or the
 * `postgres.<ref>` user of a pooler at `*.pooler.supabase.com`.
 */
export function projectRefFrom(host: string | undefined, user: string | undefined): string | undefined {
  const direct = /^db\.([a-z0-9]+)\.supabase\.co$/i.exec(host ?? '')?.[1]
  if (direct && REF.test(direct.toLowerCase())) return direct.toLowerCase()
  if (/\.pooler\.supabase\.com$/i.test(host ?? '')) {
    const pooled = /^[^.]+\.([a-z0-9]+)$/i.exec(user ?? '')?.[1]
    if (pooled && REF.test(pooled.toLowerCase())) return pooled.toLowerCase()
  }
  return undefined
}

export function isProjectRef(text: string): boolean {
  return REF.test(text)
}

export interface PitrWindow {
  earliest: Date
  latest: Date
}

export function pitrWindow(backups: PlatformBackups): PitrWindow | undefined {
  const data = backups.physical_backup_data
  if (!backups.pitr_enabled || data?.earliest_physical_backup_date_unix === undefined || data.latest_physical_backup_date_unix === undefined) return undefined
  return { earliest: new Date(data.earliest_physical_backup_date_unix * 1000), latest: new Date(data.latest_physical_backup_date_unix * 1000) }
}

/** `restore-time`: an ISO 8601 time with a zone (Z or ±hh:mm), or unix seconds. */
export function parseRestoreTime(text: string): Date | undefined {
  if (/^\d{9,11}$/.test(text)) return new Date(Number(text) * 1000)
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return undefined
  const time = new Date(text)
  return Number.isNaN(time.getTime()) ? undefined : time
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z')

export function describeWindow(window: PitrWindow): string {
  return `${iso(window.earliest)} to ${iso(window.latest)}`
}

/** WAL is archived when a segment fills or on a timeout, so an idle database's latest point lags. */
const PITR_LAG_WARNING_MS = 3_600_000

export interface PlatformCheckOptions {
  requirePitr: boolean
  maxAgeMs: number
  now: Date
}

/** The rows monitor adds for the platform, and the warnings that do not fail it. */
export function platformChecks(backups: PlatformBackups, options: PlatformCheckOptions): { checks: Check[]; warnings: string[] } {
  const checks: Check[] = []
  const warnings: string[] = []
  const limit = formatSeconds(options.maxAgeMs / 1000)
  const age = (time: Date) => options.now.getTime() - time.getTime()
  const window = pitrWindow(backups)

  checks.push({
    name: 'platform PITR',
    ok: backups.pitr_enabled || !options.requirePitr,
    detail: window
      ? `on, recoverable from ${describeWindow(window)}`
      : backups.pitr_enabled
        ? 'on, no recovery window reported yet'
        : `off${options.requirePitr ? ' (require-pitr: true)' : ''}`
  })

  const completed = backups.backups
    .filter(b => b.status === 'COMPLETED')
    .map(b => new Date(b.inserted_at))
    .filter(d => !Number.isNaN(d.getTime()))
    .sort((a, b) => b.getTime() - a.getTime())
  if (window) {
    const lag = age(window.latest)
    checks.push({
      name: 'platform recovery point',
      ok: lag <= options.maxAgeMs,
      detail: `latest recoverable time ${iso(window.latest)} is ${formatSeconds(lag / 1000)} old (limit ${limit})`
    })
    if (lag > PITR_LAG_WARNING_MS && lag <= options.maxAgeMs) {
      warnings.push(`the latest PITR point lags by ${formatSeconds(lag / 1000)}; on an idle database WAL is archived less often, which Supabase documents`)
    }
  } else {
    const newest = completed[0]
    checks.push({
      name: 'platform backup',
      ok: newest !== undefined && age(newest) <= options.maxAgeMs,
      detail: newest
        ? `newest completed platform backup ${iso(newest)} is ${formatSeconds(age(newest) / 1000)} old (limit ${limit})`
        : 'no completed platform backup'
    })
  }
  for (const b of backups.backups.filter(b => ['FAILED', 'PENDING', 'CANCELLED'].includes(b.status))) {
    warnings.push(`platform backup of ${b.inserted_at} is ${b.status}`)
  }
  return { checks, warnings }
}
