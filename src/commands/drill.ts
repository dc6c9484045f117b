import { resolveBackup } from '../catalog/catalog.js'
import { dataObject, layout } from '../catalog/manifest.js'
import { type Manifest } from '../model/manifest.js'
import { BackupError, InputError } from '../errors.js'
import { withGpgHome } from '../pipeline/gpg-home.js'
import { readBack, withDumpOnDisk } from '../pipeline/readback.js'
import { connect, type SqlClient } from '../postgres/client.js'
import { describeConnection, parseConnection, sameDatabase, type Connection } from '../postgres/connection.js'
import { PLATFORM_SCHEMAS } from '../postgres/platform.js'
import { restoreArchive } from '../postgres/restore.js'
import type { DrillReport, RestoreError } from '../model/drill-report.js'
import { archiveReader, type ClientTools } from '../postgres/tools.js'
import { drillSummary } from '../report/summary.js'
import { errorReasons, listReasons, prove, proofFailures, type Proof } from './prove.js'
import { isSupabaseTarget, planRestore, type RestorePlan } from './restore-plan.js'
import { configuredSetName, decryptionKeys, readableStorage, readableStorages, type Context } from './context.js'
import { describeFilesFailure, drillBackupFiles } from '../files/commands.js'
import { requireKeys } from '../pipeline/encryption.js'

/** The database the drill restores into, refused when it is database-url's (checked before any I/O). */
export function drillTarget(ctx: Context): Connection {
  if (!ctx.settings.targetDatabaseUrl) throw new InputError('target-database-url', 'is required: the scratch database to restore into')
  const target = parseConnection(ctx.settings.targetDatabaseUrl, {}, ctx.secrets, 'target-database-url')
  if (ctx.settings.databaseUrl) refuseSource(target, parseConnection(ctx.settings.databaseUrl, ctx.host.env, ctx.secrets))
  return target
}

function refuseSource(target: Connection, source: Connection): void {
  if (sameDatabase(source, target)) {
    throw new InputError(
      'target-database-url',
      `points at the database the backup came from (${describeConnection(target)}); a drill needs a throwaway database`
    )
  }
}

/**
 * Restores a backup into an empty scratch database and proves it: every table the
 * manifest counted is there with exactly as many rows, and check-sql finds nothing.
 */
export async function drill(ctx: Context): Promise<DrillReport> {
  const target = drillTarget(ctx)
  const manifest = await resolveBackup(readableStorage(ctx), configuredSetName(ctx), ctx.settings.backupRef, ctx.host.warning)
  await requireKeys(manifest.encryption, decryptionKeys(ctx), `backup ${manifest.id}`)
  // The manifest knows where the backup came from, even when database-url is not given.
  const { host, port, name: database } = manifest.database
  if (host) refuseSource(target, { host, port, database, params: {} })
  const tools = await archiveReader(manifest.format, manifest.tools.pgDump, ctx.settings.pgBinDir, ctx.host.env)

  const client = await connect(target)
  try {
    const supabase = await isSupabaseTarget(ctx, client)
    await refuseNonEmpty(client, target, supabase)
    ctx.host.info(
      `Drilling backup ${manifest.id} into ${describeConnection(target)}${supabase ? ' (a Supabase project: its platform is left as it is)' : ''} with ${manifest.format === 'custom' ? `pg_restore ${tools.version}, ${ctx.settings.jobs} job(s)` : `psql ${tools.version}`}`
    )
    const started = Date.now()
    const { errors, plan } = await restoreInto(ctx, manifest, target, tools, client, supabase)
    const restoreSeconds = (Date.now() - started) / 1000
    const proof = await prove(client, manifest, { supabase })
    const checkSql = ctx.settings.checkSql ? await runCheckSql(client, ctx.settings.checkSql) : undefined
    const unexpectedErrors = errors.filter(e => !e.expected)
    const files = manifest.files ? await drillBackupFiles(ctx, readableStorage(ctx), manifest.name, manifest.id, client) : undefined
    const report: DrillReport = {
      backupId: manifest.id,
      name: manifest.name,
      drilledAt: ctx.now().toISOString(),
      restoreSeconds,
      target: describeConnection(target),
      tables: manifest.tables.length,
      rows: manifest.tables.reduce((sum, t) => sum + t.rows, 0),
      mismatches: proof.mismatches,
      expectedErrors: errors.filter(e => e.expected),
      unexpectedErrors,
      checkSql,
      facts: proof.facts,
      platform: supabase ? 'supabase' : 'postgres',
      standInRoles: plan.standIns,
      files,
      passed: proofFailures(proof).length === 0 && unexpectedErrors.length === 0 && (checkSql?.ok ?? true) && (files?.passed ?? true)
    }
    const json = JSON.stringify(report, null, 2) + '\n'
    for (const s of readableStorages(ctx)) await s.put(layout.drill(manifest.name, manifest.id), json)
    await ctx.host.summary(drillSummary(report))
    if (!report.passed) throw new BackupError(`Drill of backup ${manifest.id} failed: ${failureReasons(report, proof)}`)
    return report
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** A scratch database holds nothing of its own; a Supabase one holds only its platform. */
async function refuseNonEmpty(client: SqlClient, target: Connection, supabase: boolean): Promise<void> {
  const { rows } = await client.query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg\\_%' AND NOT n.nspname = ANY ($1::text[])",
    [supabase ? [...PLATFORM_SCHEMAS] : []]
  )
  if (Number(rows[0].n) > 0) {
    throw new InputError(
      'target-database-url',
      `${describeConnection(target)} already holds ${rows[0].n} table(s)${supabase ? " besides the Supabase platform's" : ''}; a drill restores into an empty scratch database`
    )
  }
}

/** Custom archives go to disk first so pg_restore can run jobs in parallel; plain SQL streams into psql. */
async function restoreInto(
  ctx: Context,
  manifest: Manifest,
  target: Connection,
  tools: ClientTools,
  client: SqlClient,
  supabase: boolean
): Promise<{ errors: RestoreError[]; plan: RestorePlan }> {
  const storage = readableStorage(ctx)
  const base = { format: manifest.format, target, tools, jobs: ctx.settings.jobs, secrets: ctx.secrets }
  const options = { keys: decryptionKeys(ctx), secrets: ctx.secrets }
  if (manifest.format === 'custom') {
    return withDumpOnDisk(storage, manifest, options, async file => {
      const plan = await planRestore(ctx, client, manifest, tools, { supabase, clean: false }, file)
      return { plan, errors: await restoreArchive({ ...base, file, ...plan.restore }) }
    })
  }
  const plan = await planRestore(ctx, client, manifest, tools, { supabase, clean: false })
  return withGpgHome(async gpgHome => {
    const reading = await readBack(storage, manifest, dataObject(manifest), { ...options, gpgHome })
    // If psql stops early, drain the rest so decryption and decompression can finish.
    const restoring = restoreArchive({ ...base, stream: reading.output }).finally(() => reading.output.resume())
    const [errors] = await Promise.all([restoring, reading.done])
    return { errors, plan }
  })
}

export async function runCheckSql(client: SqlClient, sql: string): Promise<{ ok: boolean; rows: number }> {
  const result = await client.query(sql)
  const last = Array.isArray(result) ? result[result.length - 1] : result
  const rows = last.rowCount ?? last.rows.length
  return { ok: rows === 0, rows }
}

function failureReasons(report: DrillReport, proof: Proof): string {
  const reasons = [...errorReasons(report.unexpectedErrors), ...proofFailures(proof)]
  if (report.checkSql && !report.checkSql.ok) reasons.push(`check-sql returned ${report.checkSql.rows} row(s)`)
  if (report.files && !report.files.passed) reasons.push(describeFilesFailure(report.files))
  return listReasons(reasons)
}
