import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { deleteBackupFiles, listBackups } from '../catalog/catalog.js'
import { checksumFile, dataFileName, dataObject, layout, newBackupId, rolesFileName } from '../catalog/manifest.js'
import { MANIFEST_VERSION, type Manifest, type ManifestObject } from '../model/manifest.js'
import { BackupError, errorMessage } from '../errors.js'
import type { BackupKind } from '../model/vocabulary.js'
import { startChain, type Stage } from '../pipeline/chain.js'
import { withGpgHome } from '../pipeline/gpg-home.js'
import { publish } from '../pipeline/publish.js'
import { COMPRESSION_EXT, compressStage, DEFAULT_LEVEL, encryptStage } from '../pipeline/stages.js'
import { connect, serverVersion, type SqlClient } from '../postgres/client.js'
import { childEnv, libpqEnv, type Connection } from '../postgres/connection.js'
import { safeRolesSql } from '../postgres/roles.js'
import { pgDumpallRolesArgs, pgDumpArgs } from '../postgres/dump.js'
import { collectFacts } from '../postgres/facts.js'
import { countRows, listTables, schemaFacts } from '../postgres/inventory.js'
import { findClientTools } from '../postgres/tools.js'
import { backupSummary } from '../report/summary.js'
import { S3Storage } from '../storage/s3.js'
import { ACTION_VERSION } from '../version.js'
import { clientOptions, githubContext, readableStorages, deriveSetName, sourceConnection, type Context } from './context.js'
import { checkBackup, describeChecks } from './verify.js'

const run = promisify(execFile)

export interface BackupResult {
  verified: boolean
  manifest: Manifest
  location: string
  durationSeconds: number
}

/**
 * dump → compress → (encrypt) → sha256 → every storage, in one stream; then the
 * checksum file and, last, the manifest that makes the backup exist.
 */
export async function backup(ctx: Context, options: { kind?: BackupKind; conn?: Connection; verify?: boolean } = {}): Promise<BackupResult> {
  const kind = options.kind ?? ctx.settings.kind
  const conn = options.conn ?? sourceConnection(ctx)
  const { settings, host } = ctx
  const name = deriveSetName(ctx, conn)
  const startedAt = ctx.now()
  const id = newBackupId(startedAt, kind)
  if (conn.port === 6543 && /pooler\.supabase\.com$/i.test(conn.host ?? '')) {
    ctx.host.warning(
      "database-url points at Supabase's transaction pooler (port 6543); use the session pooler (port 5432): pg_dump and the snapshot it shares with the row counts need a real session"
    )
  }
  const client = await connect(conn)
  let published = false
  try {
    const version = await serverVersion(client)
    const tools = await findClientTools({ tool: 'pg_dump', minMajor: version.major, what: `the server (PostgreSQL ${version.major})` }, clientOptions(ctx))
    host.info(`Backing up "${conn.database}" (PostgreSQL ${version.text}) with pg_dump ${tools.version} (${tools.source}: ${tools.dir}) as ${id}`)
    const s3 = ctx.storages.filter(s => s instanceof S3Storage)
    if (s3.length > 0) {
      const size = await databaseSize(client)
      for (const storage of s3) storage.sizePartsFor(size)
    }

    // The dump and the row counts share one snapshot, so a drill can prove every row came back.
    // The session idles in its transaction while pg_dump runs: server timeouts must not end it,
    // and counts must see every row (as pg_dump does, RLS off: fail rather than count a subset).
    await client.query('SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0; SET lock_timeout = 0; SET row_security = off')
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    const snapshot = (await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0].id
    const filters = { schemas: settings.schemas, excludeSchemas: settings.excludeSchemas, tables: settings.tables, excludeTables: settings.excludeTables }
    const tables = await listTables(client, filters)
    // Read before pg_dump starts, so a sequence's recorded value is never ahead of the dumped one.
    const catalog = await collectFacts(client, filters)

    const encrypted = Boolean(settings.encryptionPassphrase)
    const ext = COMPRESSION_EXT[settings.compression]
    const dumped = await withGpgHome(async gpgHome => {
      const tail = pipelineTail(ctx, gpgHome)
      const env = { ...tools.env, ...libpqEnv(conn) }
      const dump: Stage = {
        name: 'pg_dump',
        command: tools.bin('pg_dump'),
        args: pgDumpArgs({ ...filters, format: settings.format, scope: settings.scope, snapshot }),
        env
      }
      const dataFile = dataFileName(id, settings.format, ext, encrypted)
      const counting = settings.scope === 'schema' ? Promise.resolve([]) : countRows(client, tables)
      const facts = listTables(client, filters, ['r', 'p', 'm']).then(relations => schemaFacts(client, relations))
      counting.catch(() => undefined)
      facts.catch(() => undefined)
      const data = await publishObject(ctx, [dump, ...tail], layout.object(name, dataFile))
      const result: ManifestObject[] = [{ role: 'data', file: dataFile, ...data }]
      if (settings.roles) {
        // Small enough to read whole: made safe to run on any server before it is stored.
        const rolesDump = await run(tools.bin('pg_dumpall'), pgDumpallRolesArgs(), { env: childEnv(env), maxBuffer: 64 * 1024 * 1024 })
        const rolesFile = rolesFileName(id, ext, encrypted)
        const chain = startChain([{ name: 'cat', command: 'cat', args: [] }, ...tail], ctx.secrets, { input: 'pipe' })
        chain.input?.end(safeRolesSql(rolesDump.stdout))
        result.push({ role: 'roles', file: rolesFile, ...(await publish(chain, ctx.storages, layout.object(name, rolesFile))) })
      }
      return { objects: result, counts: await counting, facts: await facts }
    })
    await client.query('COMMIT')

    const finishedAt = ctx.now()
    const manifest: Manifest = {
      manifestVersion: MANIFEST_VERSION,
      id,
      name,
      kind,
      pinned: settings.pin,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      database: { name: conn.database ?? '', host: conn.host, port: conn.port, serverVersion: version.text, serverVersionNum: version.num },
      tools: { pgDump: tools.version, action: ACTION_VERSION, client: { source: tools.source, dir: tools.dir } },
      format: settings.format,
      scope: settings.scope,
      filters,
      compression: { algorithm: settings.compression, level: settings.compressionLevel ?? DEFAULT_LEVEL[settings.compression] },
      encryption: encrypted ? { algorithm: 'openpgp-aes256' } : null,
      objects: dumped.objects,
      tables: dumped.counts,
      schemaFacts: { ...dumped.facts, catalog },
      github: githubContext(host.env),
      ...(settings.tags.length > 0 ? { tags: settings.tags } : {})
    }
    // Verified before the manifest makes it exist: a backup that does not read back is never published.
    // A size far from the set's history is only a flag: that backup is published, then the step fails.
    const checks = options.verify ? await checkBackup(ctx, manifest) : []
    const broken = checks.filter(c => !c.ok && c.name !== 'size')
    if (broken.length > 0) throw new BackupError(`Verify failed for backup ${id}, so it was not published: ${describeChecks(broken)}`)
    await finish(ctx, manifest)
    published = true
    const flagged = checks.filter(c => !c.ok)
    if (flagged.length > 0) throw new BackupError(`Backup ${id} was published, but verify flagged it: ${describeChecks(flagged)}`)
    const durationSeconds = (finishedAt.getTime() - startedAt.getTime()) / 1000
    const locations = ctx.storages.map(s => s.locate(layout.object(name, dataObject(manifest).file)))
    await host.summary(backupSummary(manifest, locations, durationSeconds))
    return { manifest, location: locations[0], durationSeconds, verified: options.verify === true }
  } catch (error) {
    if (!published) await discardPartial(ctx, name, id)
    throw error
  } finally {
    await client.end().catch(() => undefined)
  }
}

function pipelineTail(ctx: Context, gpgHome: string): Stage[] {
  const stages: Stage[] = []
  const compress = compressStage(ctx.settings.compression, ctx.settings.compressionLevel)
  if (compress) stages.push(compress)
  if (ctx.settings.encryptionPassphrase) stages.push(encryptStage(gpgHome, ctx.settings.encryptionPassphrase))
  return stages
}

async function publishObject(ctx: Context, stages: Stage[], key: string) {
  return publish(startChain(stages, ctx.secrets), ctx.storages, key)
}

/** Removes whatever this failed run stored, before its manifest was written. */
async function discardPartial(ctx: Context, name: string, id: string): Promise<void> {
  for (const storage of ctx.storages) await storage.discard?.()
  for (const storage of readableStorages(ctx)) {
    try {
      const leftovers = (await listBackups(storage, name)).filter(b => b.id === id)
      await deleteBackupFiles(storage, name, leftovers)
    } catch (error) {
      ctx.host.warning(
        `could not remove the unfinished upload ${id} from ${storage.locate(layout.setPrefix(name))} (a later prune will): ${errorMessage(error)}`
      )
    }
  }
}

async function databaseSize(client: SqlClient): Promise<number> {
  const { rows } = await client.query<{ size: string }>('SELECT pg_database_size(current_database()) AS size')
  return Number(rows[0].size)
}

/** Checksum file, then the manifest last: until the manifest exists, the backup does not. */
async function finish(ctx: Context, manifest: Manifest): Promise<void> {
  const { name, id } = manifest
  const json = JSON.stringify(manifest, null, 2) + '\n'
  for (const storage of ctx.storages) {
    if (manifest.pinned) await storage.put(layout.pinned(name, id), '', 'text/plain')
    await storage.put(layout.checksums(name, id), checksumFile(manifest.objects), 'text/plain')
    await storage.put(layout.manifest(name, id), json, 'application/json')
    await storage.commit?.(layout.manifest(name, id))
  }
}
