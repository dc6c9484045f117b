import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { resolveBackup } from '../catalog/catalog.js'
import type { RestoreError } from '../model/drill-report.js'
import { BackupError, InputError } from '../errors.js'
import { startChain } from '../pipeline/chain.js'
import { withDumpOnDisk } from '../pipeline/readback.js'
import { connect, quoteIdent } from '../postgres/client.js'
import { childEnv, describeConnection, libpqEnv, parseConnection, type Connection } from '../postgres/connection.js'
import { parseToc } from '../postgres/toc.js'
import { restoreArchive } from '../postgres/restore.js'
import { archiveReader, type ClientTools } from '../postgres/tools.js'
import { restoreSummary, type RestoreResult } from '../report/summary.js'
import { backup } from './backup.js'
import { configuredSetName, readableStorage, type Context } from './context.js'

const execFileAsync = promisify(execFile)

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
  const manifest = await resolveBackup(storage, configuredSetName(ctx), ctx.settings.backupRef)
  if (manifest.format !== 'custom' && ctx.settings.tables.length > 0)
    throw new InputError('tables', `needs a custom-format backup; ${manifest.id} is ${manifest.format}`)
  const tools = await archiveReader(manifest.format, manifest.tools.pgDump, ctx.settings.pgBinDir, ctx.host.env)
  const probe = await connect(target)
  await probe.end()

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

  ctx.host.info(`Restoring backup ${manifest.id} into ${describeConnection(target)}`)
  const started = Date.now()
  const errors = await withDumpOnDisk(storage, manifest, { passphrase: ctx.settings.encryptionPassphrase, secrets: ctx.secrets }, file =>
    ctx.settings.tables.length > 0
      ? replaceTables(ctx, tools, file, target)
      : restoreArchive({ format: manifest.format, target, tools, jobs: ctx.settings.jobs, secrets: ctx.secrets, clean: ctx.settings.clean, file })
  )
  const restoreSeconds = (Date.now() - started) / 1000
  const result: RestoreResult = { manifest, target: describeConnection(target), restoreSeconds, safetyBackupId, errors }
  await ctx.host.summary(restoreSummary(result, ctx.settings.tables))
  for (const e of errors.filter(e => e.expected)) ctx.host.warning(`expected restore error (${e.expected}): ${e.message}`)
  const unexpected = errors.filter(e => !e.expected)
  if (unexpected.length > 0) {
    throw new BackupError(
      `Restore of ${manifest.id} reported ${unexpected.length} error(s): ${unexpected
        .slice(0, 5)
        .map(e => e.message)
        .join('; ')}${safetyBackupId ? `; the target's previous state is in safety snapshot ${safetyBackupId}` : ''}`
    )
  }
  return result
}

/**
 * Replaces the rows of the named tables in one transaction: TRUNCATE, then the
 * archive's data for exactly those tables (a -L list, since pg_restore's -n/-t combine
 * as a cross product). Any error rolls everything back.
 */
async function replaceTables(ctx: Context, tools: ClientTools, file: string, target: Connection): Promise<RestoreError[]> {
  const names = ctx.settings.tables.map(t => (t.includes('.') ? t.split('.', 2) : ['public', t]))
  const listing = await execFileAsync(tools.bin('pg_restore'), ['--list', file], { env: childEnv(), maxBuffer: 256 * 1024 * 1024 })
  const data = listing.stdout
    .split('\n')
    .map(line => ({ line, entry: parseToc(line)[0] }))
    .filter(({ entry }) => entry?.desc === 'TABLE DATA')
  const wanted = names.map(([schema, table]) => {
    const found = data.find(({ entry }) => entry.schema === schema && entry.tag === table)
    if (!found) throw new InputError('tables', `${schema}.${table} has no data in backup`)
    return found.line
  })
  const list = join(dirname(file), 'tables.list')
  await writeFile(list, wanted.join('\n') + '\n')
  const truncate = `TRUNCATE ONLY ${names.map(([schema, table]) => `${quoteIdent(schema)}.${quoteIdent(table)}`).join(', ')}`
  const chain = startChain(
    [
      { name: 'pg_restore', command: tools.bin('pg_restore'), args: ['--data-only', `--use-list=${list}`, '--file=-', file] },
      // psql runs --command then --file in order, all inside --single-transaction.
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
          `--command=${truncate}`,
          '--file=-'
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
