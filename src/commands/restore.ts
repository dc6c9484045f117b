import { writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { resolveBackup } from '../catalog/catalog.js'
import type { RestoreError } from '../model/drill-report.js'
import { BackupError, InputError } from '../errors.js'
import { startChain } from '../pipeline/chain.js'
import { withDumpOnDisk } from '../pipeline/readback.js'
import { connect, quoteIdent, type SqlClient } from '../postgres/client.js'
import { describeConnection, libpqEnv, parseConnection, type Connection } from '../postgres/connection.js'
import { listArchive, restoreArchive } from '../postgres/restore.js'
import { archiveReader, type ClientTools } from '../postgres/tools.js'
import { expectedByKind, restoreSummary, type RestoreResult } from '../report/summary.js'
import { backup } from './backup.js'
import { configuredSetName, decryptionKeys, readableStorage, type Context } from './context.js'
import { requireKeys } from '../pipeline/encryption.js'
import { errorReasons, listReasons, prove, proofFailures } from './prove.js'
import { canDisableTriggers, isSupabaseTarget, planRestore } from './restore-plan.js'

/** The guard: a target, and `confirm` naming its database, before anything is read or changed. */
export function restoreTarget(ctx: Context): Connection {
  if (!ctx.settings.targetDatabaseUrl) throw new InputError('target-database-url', 'is required: the database to restore into')
  const target = parseConnection(ctx.settings.targetDatabaseUrl, {}, ctx.secrets, 'target-database-url')
  if (!target.database) throw new InputError('target-database-url', 'must name a database')
  if (ctx.settings.tables.some(t => /[*?"]/.test(t))) throw new InputError('tables', 'restore takes exact table names (schema.table), not patterns')
  if (ctx.settings.confirm !== target.database) {
    throw new InputError(
      'confirm',
      `must equal the target database name "${target.database}" to restore into it (got ${ctx.settings.confirm ? `"${ctx.settings.confirm}"` : 'nothing'}); nothing was changed`
    )
  }
  return target
}

/**
 * Restores a backup into a real database: a safety snapshot of the target first
 * (kind pre-restore, same storage), then either the whole archive or, with `tables`,
 * only those tables' rows, replaced in one transaction.
 */
export async function restore(ctx: Context): Promise<RestoreResult> {
  const target = restoreTarget(ctx)
  const storage = readableStorage(ctx)
  const manifest = await resolveBackup(storage, configuredSetName(ctx), ctx.settings.backupRef, ctx.host.warning)
  // Before the safety snapshot: a restore that cannot decrypt must not start.
  await requireKeys(manifest.encryption, decryptionKeys(ctx), `backup ${manifest.id}`)
  if (manifest.format !== 'custom' && ctx.settings.tables.length > 0)
    throw new InputError('tables', `needs a custom-format backup; ${manifest.id} is ${manifest.format}`)
  const tools = await archiveReader(manifest.format, manifest.tools.pgDump, ctx.settings.pgBinDir, ctx.host.env)
  const client = await connect(target)
  try {
    let safetyBackupId: string | undefined
    if (ctx.settings.safetySnapshot) {
      const scope = { schemas: [], excludeSchemas: [], excludeTables: [], tables: ctx.settings.tables }
      const snapshotCtx: Context = {
        ...ctx,
        settings: { ...ctx.settings, ...scope, name: manifest.name, format: 'custom', scope: 'full', roles: false, pin: false }
      }
      safetyBackupId = (await backup(snapshotCtx, { kind: 'pre-restore', conn: target })).manifest.id
      ctx.host.info(`Safety snapshot of ${describeConnection(target)}: ${safetyBackupId}`)
    }

    const supabase = await isSupabaseTarget(ctx, client)
    ctx.host.info(`Restoring backup ${manifest.id} into ${describeConnection(target)}${supabase ? ' (a Supabase project: its platform is left as it is)' : ''}`)
    const started = Date.now()
    const tables = ctx.settings.tables.map(t => (t.includes('.') ? t.split('.', 2) : ['public', t]))
    const { errors, plan } = await withDumpOnDisk(storage, manifest, { keys: decryptionKeys(ctx), secrets: ctx.secrets }, async file => {
      if (tables.length > 0) return { errors: await replaceTables(ctx, tools, file, target, client, tables), plan: undefined }
      const plan = await planRestore(ctx, client, manifest, tools, { supabase, clean: ctx.settings.clean }, file)
      const restoring = { format: manifest.format, target, tools, jobs: ctx.settings.jobs, secrets: ctx.secrets, clean: ctx.settings.clean, file }
      return { plan, errors: await restoreArchive({ ...restoring, ...plan.restore }) }
    })
    const restoreSeconds = (Date.now() - started) / 1000
    const restored = tables.length > 0 ? manifest.tables.filter(t => tables.some(([schema, table]) => t.schema === schema && t.table === table)) : undefined
    const proof = await prove(client, manifest, { supabase, tables: restored })
    const result: RestoreResult = {
      manifest,
      target: describeConnection(target),
      restoreSeconds,
      safetyBackupId,
      errors,
      mismatches: proof.mismatches,
      facts: proof.facts,
      platform: supabase ? 'supabase' : 'postgres',
      standInRoles: plan?.standIns ?? [],
      revoked: proof.revoked
    }
    await ctx.host.summary(restoreSummary(result, ctx.settings.tables))
    const expected = errors.filter(e => e.expected)
    if (expected.length > 0) ctx.host.warning(`expected restore errors, ${expectedByKind(expected)}`)
    const reasons = [...errorReasons(errors.filter(e => !e.expected)), ...proofFailures(proof)]
    if (reasons.length > 0) {
      throw new BackupError(
        `Restore of ${manifest.id} is not complete: ${listReasons(reasons)}${safetyBackupId ? `; the target's previous state is in safety snapshot ${safetyBackupId}` : ''}`
      )
    }
    return result
  } finally {
    await client.end().catch(() => undefined)
  }
}

/**
 * Replaces the rows of the named tables in one transaction: TRUNCATE, then the
 * archive's data for exactly those tables (a -L list, since pg_restore's -n/-t combine
 * as a cross product). Any error rolls everything back.
 */
async function replaceTables(
  ctx: Context,
  tools: ClientTools,
  file: string,
  target: Connection,
  client: SqlClient,
  names: string[][]
): Promise<RestoreError[]> {
  const listing = await listArchive(tools, file)
  const wanted = names.map(([schema, table]) => {
    const found = [...listing.entries].find(([, e]) => e.desc === 'TABLE DATA' && e.schema === schema && e.tag === table)
    if (!found) throw new InputError('tables', `${schema}.${table} has no data in backup`)
    return listing.text.split('\n').find(line => line.startsWith(`${found[0]};`)) as string
  })
  const list = join(dirname(file), 'tables.list')
  await writeFile(list, wanted.join('\n') + '\n')
  const qualified = names.map(([schema, table]) => `${quoteIdent(schema)}.${quoteIdent(table)}`)
  const triggers = await triggersOff(client, qualified)
  const chain = startChain(
    [
      { name: 'pg_restore', command: tools.bin('pg_restore'), args: ['--data-only', `--use-list=${list}`, '--file=-', file] },
      // psql runs each --command and --file in order, all inside --single-transaction.
      {
        name: 'psql',
        command: tools.bin('psql'),
        args: [
          '--no-password',
          '--quiet',
          '--no-psqlrc',
          '--single-transaction',
          '--set=ON_ERROR_STOP=1',
          '--output=/dev/null',
          ...triggers.before.map(sql => `--command=${sql}`),
          `--command=TRUNCATE ONLY ${qualified.join(', ')}`,
          '--file=-',
          ...triggers.after.map(sql => `--command=${sql}`)
        ],
        env: libpqEnv(target)
      }
    ],
    ctx.secrets
  )
  chain.output.resume()
  await chain.done
  return []
}

/**
 * Statements that keep the tables' user triggers from firing while their rows load (an audit
 * trigger would log every row again, a trigger on auth.users would insert profiles twice), and
 * put each back as it was. Owned tables: each enabled trigger disabled and re-enabled in the same
 * transaction; otherwise session_replication_role = replica, where the role may set it.
 */
async function triggersOff(client: SqlClient, tables: string[]): Promise<{ before: string[]; after: string[] }> {
  const { rows } = await client.query<{ rel: string; owned: boolean; trigger: string | null; enabled: string | null }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS rel, pg_has_role(c.relowner, 'USAGE') AS owned, t.tgname AS trigger, t.tgenabled AS enabled
     FROM unnest($1::text[]) AS q(name) JOIN pg_class c ON c.oid = q.name::regclass JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgenabled <> 'D'`,
    [tables]
  )
  const firing = rows.filter(r => r.trigger !== null)
  if (firing.length === 0) return { before: [], after: [] }
  if (firing.every(r => r.owned)) {
    const again: Record<string, string> = { O: 'ENABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' }
    return {
      before: firing.map(r => `ALTER TABLE ${r.rel} DISABLE TRIGGER ${quoteIdent(r.trigger as string)}`),
      after: firing.map(r => `ALTER TABLE ${r.rel} ${again[r.enabled as string]} TRIGGER ${quoteIdent(r.trigger as string)}`)
    }
  }
  if (await canDisableTriggers(client)) return { before: ['SET LOCAL session_replication_role = replica'], after: [] }
  const names = firing.map(r => `${r.trigger} on ${r.rel}`).join(', ')
  throw new BackupError(
    `Cannot keep triggers from firing while the rows load (${names}): the target role neither owns those tables nor may set session_replication_role; nothing was changed`
  )
}
