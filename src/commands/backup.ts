import { execFile } from 'node:child_process'
import { pipeline } from 'node:stream/promises'
import { promisify } from 'node:util'
import pg from 'pg'
import { deleteBackupFiles, listBackups, readManifest } from '../catalog/catalog.js'
import { driftBaseline, driftBetween, driftMarkdown, type Drift } from '../catalog/drift.js'
import { checksumFile, dataFileName, dataObject, exportFileName, layout, newBackupId, rolesFileName } from '../catalog/manifest.js'
import { MANIFEST_VERSION, type Manifest, type ManifestObject } from '../model/manifest.js'
import { BackupError, errorMessage, InputError } from '../errors.js'
import type { BackupKind } from '../model/vocabulary.js'
import { startChain, type Stage } from '../pipeline/chain.js'
import { withGpgHome } from '../pipeline/gpg-home.js'
import { publish, type Published } from '../pipeline/publish.js'
import { COMPRESSION_EXT, compressStage, DEFAULT_LEVEL, PASS_THROUGH } from '../pipeline/stages.js'
import { encryptedExtension, encryptionMode, encryptionRecord, encryptStep } from '../pipeline/encryption.js'
import type { Readable, Writable } from 'node:stream'
import { close, connect, quoteIdentIfNeeded, serverVersion, type SqlClient } from '../postgres/client.js'
import { childEnv, libpqConninfo, libpqEnv, type Connection } from '../postgres/connection.js'
import { safeRolesSql } from '../postgres/roles.js'
import { pgDumpallRolesArgs, pgDumpArgs } from '../postgres/dump.js'
import { copyCsv, snapshotSession } from '../postgres/exports.js'
import { collectFacts } from '../postgres/facts.js'
import { countLargeObjects, countRows, listTables, lockHolders, schemaFacts, type LockHolder } from '../postgres/inventory.js'
import { findClientTools } from '../postgres/tools.js'
import { backupSummary } from '../report/summary.js'
import { openStorages } from '../storage/index.js'
import { S3Storage } from '../storage/s3.js'
import type { Storage } from '../storage/storage.js'
import { ACTION_VERSION } from '../version.js'
import { snapshotWithBackup } from '../files/commands.js'
import { filesSummary } from '../report/files-summary.js'
import type { Snapshot } from '../files/snapshot.js'
import { clientOptions, githubContext, readableStorages, deriveSetName, sourceConnection, type Context } from './context.js'
import { checkBackup, describeChecks, listWhileWriting } from './verify.js'

const run = promisify(execFile)

export interface BackupResult {
  verified: boolean
  manifest: Manifest
  location: string
  durationSeconds: number
  files?: Snapshot
  /** The CSV exports, where they were stored. */
  exports: Array<{ name: string; rows: number; location: string }>
  /** What changed in the schema since the earlier backup it was compared with. */
  drift?: Drift
}

/** Where the exports go: with the dump (same set and storages), or a set and storages of their own. */
interface ExportsTarget {
  name: string
  storages: Storage[]
  separate: boolean
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
  const exportsTo = exportsTarget(ctx, name)
  if (conn.port === 6543 && /pooler\.supabase\.com$/i.test(conn.host ?? '')) {
    ctx.host.warning(
      "database-url points at Supabase's transaction pooler (port 6543); use the session pooler (port 5432): pg_dump and the snapshot it shares with the row counts need a real session"
    )
  }
  if (settings.encryptionPublicKeys.length > 0 && settings.encryptionPrivateKeys.length > 0 && kind !== 'pre-restore') {
    host.warning(
      'encryption-private-key is set for a backup that encrypts to public keys, which needs no private key: keep the private key out of the backup job'
    )
  }
  const client = await connect(conn)
  let published = false
  let listing: Awaited<ReturnType<typeof listWhileWriting>> | undefined
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
    // Locks are awaited no longer than lock-timeout, like pg_dump's.
    await client.query(
      `SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0; SET lock_timeout = ${settings.lockTimeoutMs}; SET row_security = off`
    )
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    const snapshot = (await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0].id
    const filters = { schemas: settings.schemas, excludeSchemas: settings.excludeSchemas, tables: settings.tables, excludeTables: settings.excludeTables }
    const tables = await listTables(client, filters)
    // Read before pg_dump starts, so a sequence's recorded value is never ahead of the dumped one.
    const catalog = await collectFacts(client, filters)

    const encryption = encryptionMode(settings)
    const ext = COMPRESSION_EXT[settings.compression]
    const encryptedExt = encryptedExtension(encryption)
    // A backup to public keys cannot read back what it stored: it lists the archive on its way in.
    listing =
      options.verify && encryption.kind === 'age'
        ? await listWhileWriting(ctx, {
            format: settings.format,
            tools: { pgDump: tools.version, action: ACTION_VERSION },
            compression: { algorithm: settings.compression }
          })
        : undefined
    const dumped = await withGpgHome(async gpgHome => {
      // first → compress → encrypt → every storage; `input` is fed to the first program, `tap` gets the bytes before encryption.
      const publishObject = async (first: Stage, key: string, options: { input?: string; tap?: Writable } = {}) => {
        const step = await encryptStep(encryption, gpgHome)
        const compress = compressStage(settings.compression, settings.compressionLevel)
        const stages = [first, ...(compress ? [compress] : []), ...(step.stage ? [step.stage] : [])]
        const chain = startChain(stages, ctx.secrets, { input: options.input === undefined ? 'ignore' : 'pipe' })
        if (options.input !== undefined) chain.input?.end(options.input)
        return publish(chain, ctx.storages, key, { transform: step.transform, tap: options.tap })
      }
      // A stream from Node (an export's CSV) → compress → encrypt → `storages`, the same steps as the dump.
      const publishStream = async (source: Readable, key: string, storages: Storage[]) => {
        const step = await encryptStep(encryption, gpgHome)
        const compress = compressStage(settings.compression, settings.compressionLevel)
        const stages = [...(compress ? [compress] : []), ...(step.stage ? [step.stage] : [])]
        const chain = startChain(stages.length > 0 ? stages : [PASS_THROUGH], ctx.secrets, { input: 'pipe' })
        const feeding = pipeline(source, chain.input!).catch((error: unknown) => {
          chain.kill()
          throw error
        })
        const [fed, stored] = await Promise.allSettled([feeding, publish(chain, storages, key, { transform: step.transform })])
        return { fed, stored }
      }
      const env = { ...tools.env, ...libpqEnv(conn) }
      const dump: Stage = {
        name: 'pg_dump',
        command: tools.bin('pg_dump'),
        args: [
          ...pgDumpArgs({
            ...filters,
            format: settings.format,
            scope: settings.scope,
            snapshot,
            largeObjects: settings.largeObjects,
            lockWaitMs: settings.lockTimeoutMs
          }),
          `--dbname=${libpqConninfo(conn)}`
        ],
        env
      }
      const dataFile = dataFileName(id, settings.format, ext, encryptedExt)
      const withData = settings.scope !== 'schema'
      // While pg_dump streams, the snapshot's session counts; one session runs one query at a time, so in order.
      const inventory = (async () => ({
        counts: withData ? await countRows(client, tables) : [],
        largeObjects: withData && settings.largeObjects ? await countLargeObjects(client) : undefined,
        facts: await schemaFacts(client, await listTables(client, filters, ['r', 'p', 'm']))
      }))()
      inventory.catch(() => undefined)
      const data = await publishObject(dump, layout.object(name, dataFile), { tap: listing?.input })
      const result: ManifestObject[] = [{ role: 'data', file: dataFile, ...data }]
      if (settings.roles) {
        // Small enough to read whole: made safe to run on any server before it is stored.
        const rolesDump = await run(tools.bin('pg_dumpall'), [...pgDumpallRolesArgs(), `--dbname=${libpqConninfo(conn)}`], {
          env: childEnv(env),
          maxBuffer: 64 * 1024 * 1024
        })
        const rolesFile = rolesFileName(id, ext, encryptedExt)
        const cat: Stage = { name: 'cat', command: 'cat', args: [] }
        result.push({
          role: 'roles',
          file: rolesFile,
          ...(await publishObject(cat, layout.object(name, rolesFile), { input: safeRolesSql(rolesDump.stdout) }))
        })
      }
      const exported =
        settings.exports.length > 0
          ? await publishExports(ctx, conn, snapshot, publishStream, (n: string) => exportFileName(id, n, ext, encryptedExt), exportsTo)
          : []
      if (!exportsTo.separate) result.push(...exported)
      return { objects: result, exported, ...(await inventory) }
    })
    await client.query('COMMIT')
    // Right after the dump, so the files and the storage.objects rows describe nearly the same moment.
    const files = await snapshotWithBackup(ctx, name, id, kind)

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
      encryption: encryptionRecord(encryption),
      objects: dumped.objects,
      tables: dumped.counts,
      largeObjects: dumped.largeObjects,
      schemaFacts: { ...dumped.facts, catalog },
      files: files && { files: files.manifest.files.length, bytes: files.manifest.files.reduce((s, f) => s + f.size, 0) },
      github: githubContext(host.env),
      ...(settings.tags.length > 0 ? { tags: settings.tags } : {})
    }
    // Exports stored apart are a backup of their own in their set: same id, only the CSV objects.
    const exportsManifest: Manifest | undefined = exportsTo.separate
      ? { ...manifest, name: exportsTo.name, objects: dumped.exported, tables: [], schemaFacts: undefined, files: undefined }
      : undefined
    const exportsCtx = { ...ctx, storages: exportsTo.storages }
    // Verified before the manifest makes it exist: a backup that does not read back is never published.
    // A size far from the set's history is only a flag: that backup is published, then the step fails.
    const checks = options.verify ? await checkBackup(ctx, manifest, listing?.listing) : []
    if (exportsManifest && options.verify && readableStorages(exportsCtx).length > 0) checks.push(...(await checkBackup(exportsCtx, exportsManifest)))
    const broken = checks.filter(c => !c.ok && c.name !== 'size')
    if (broken.length > 0) throw new BackupError(`Verify failed for backup ${id}, so it was not published: ${describeChecks(broken)}`)
    if (exportsManifest) await finish(exportsCtx, exportsManifest)
    await finish(ctx, manifest)
    published = true
    const flagged = checks.filter(c => !c.ok)
    if (flagged.length > 0) throw new BackupError(`Backup ${id} was published, but verify flagged it: ${describeChecks(flagged)}`)
    const durationSeconds = (finishedAt.getTime() - startedAt.getTime()) / 1000
    const locations = ctx.storages.map(s => s.locate(layout.object(name, dataObject(manifest).file)))
    const exports = dumped.exported.map(o => ({ ...o.export!, location: exportsTo.storages[0].locate(layout.object(exportsTo.name, o.file)) }))
    const drift = await driftReport(ctx, manifest)
    await host.summary(backupSummary(manifest, locations, durationSeconds, exports) + (drift ? `\n${driftMarkdown(drift)}` : ''))
    if (files) await host.summary(filesSummary(files.manifest, files.seconds))
    return { manifest, location: locations[0], durationSeconds, verified: options.verify === true, files, exports, drift }
  } catch (error) {
    if (!published) {
      if (exportsTo.separate) await discardPartial({ ...ctx, storages: exportsTo.storages }, exportsTo.name, id)
      await discardPartial(ctx, name, id)
    }
    throw await explainLockWait(error, conn, ctx.settings.lockTimeoutMs)
  } finally {
    listing?.stop()
    await close(client)
  }
}

/**
 * pg_dump (--lock-wait-timeout, reported as a statement timeout on its LOCK TABLE) or the
 * row counts (lock_timeout) gave up waiting for a table: name it and who holds it.
 */
async function explainLockWait(error: unknown, conn: Connection, lockTimeoutMs: number): Promise<unknown> {
  const message = errorMessage(error)
  if (!/canceling statement due to (lock|statement) timeout/.test(message)) return error
  const locked = /LOCK TABLE (\S+) IN ACCESS SHARE MODE/.exec(message)?.[1]
  if (/statement timeout/.test(message) && !locked) return error
  let holders: LockHolder[] = []
  try {
    const client = await connect(conn)
    try {
      holders = await lockHolders(client)
    } finally {
      await close(client)
    }
  } catch {
    // The explanation is a bonus; the failure stands without it.
  }
  const named = holders.filter(h => `${quoteIdentIfNeeded(h.schema)}.${quoteIdentIfNeeded(h.table)}` === locked)
  const who = (named.length > 0 ? named : holders).map(
    h => `${h.schema}.${h.table} is locked by session ${h.pid} (application "${h.application}", query: ${h.query})`
  )
  return new BackupError(
    `Gave up waiting for a table lock after lock-timeout (${lockTimeoutMs / 1000} s)${locked ? ` on ${locked}` : ''}: ${
      who.length > 0 ? who.join('; ') : 'the server did not say which session holds it'
    }. Run the backup when that session is done, or raise lock-timeout.`,
    { cause: error }
  )
}

function exportsTarget(ctx: Context, name: string): ExportsTarget {
  const { settings } = ctx
  const exportsName = settings.exportsName ?? name
  if (!settings.exportsStorage) return { name: exportsName, storages: ctx.storages, separate: exportsName !== name }
  // Two manifests under one key would overwrite each other.
  if (exportsName === name && settings.exportsStorage.some(kind => settings.storage.includes(kind))) {
    throw new InputError(
      'exports-storage',
      `shares ${settings.exportsStorage.join(', ')} with storage: set exports-name to another set, or leave exports-storage empty to store the exports with the dump`
    )
  }
  return { name: exportsName, storages: openStorages({ ...settings, storage: settings.exportsStorage }, ctx.host.env), separate: true }
}

/**
 * Each named query, in a session that imported the dump's snapshot, streamed as CSV through
 * the same compression and encryption as the dump (publishStream) into the exports' storages.
 * The first query that fails stops the backup, naming the query and the server's error.
 */
async function publishExports(
  ctx: Context,
  conn: Connection,
  snapshot: string,
  publishStream: (source: Readable, key: string, storages: Storage[]) => Promise<{ fed: PromiseSettledResult<void>; stored: PromiseSettledResult<Published> }>,
  fileName: (exportName: string) => string,
  to: ExportsTarget
): Promise<ManifestObject[]> {
  const session = await snapshotSession(conn, snapshot)
  try {
    const objects: ManifestObject[] = []
    for (const query of ctx.settings.exports) {
      const file = fileName(query.name)
      const csv = copyCsv(session, query)
      const { fed, stored } = await publishStream(csv.output, layout.object(to.name, file), to.storages)
      // The server's error is the root cause of everything after it (a stopped chain, an aborted upload).
      if (fed.status === 'rejected' && (fed.reason instanceof pg.DatabaseError || stored.status === 'fulfilled')) {
        const readOnly = (fed.reason as { code?: string }).code === '25006' ? ' (exports run in a read-only transaction: give a query that only reads)' : ''
        throw new BackupError(`Export "${query.name}" failed: ${errorMessage(fed.reason)}${readOnly}`)
      }
      if (stored.status === 'rejected') throw stored.reason
      objects.push({ role: 'export', file, ...stored.value, export: { name: query.name, rows: csv.rows() } })
    }
    return objects
  } finally {
    await session.end().catch(() => undefined)
  }
}

/**
 * The schema drift since the baseline backup (see driftBaseline), with a warning annotation
 * when protection or API access was lost. A report that cannot be made is a warning: the
 * backup is published and stays a success.
 */
async function driftReport(ctx: Context, manifest: Manifest): Promise<Drift | undefined> {
  const storage = readableStorages(ctx)[0]
  if (!storage || !manifest.schemaFacts?.catalog) return undefined
  try {
    const baseline = driftBaseline(manifest.id, await listBackups(storage, manifest.name))
    if (!baseline) return undefined
    const drift = driftBetween(await readManifest(storage, manifest.name, baseline.id), manifest)
    if (drift && drift.alerts.length > 0) ctx.host.warning(`Backup ${manifest.id}, compared with ${drift.since.id}: ${drift.alerts.join('; ')}`)
    return drift
  } catch (error) {
    ctx.host.warning(`no schema drift report for ${manifest.id}: ${errorMessage(error)}`)
    return undefined
  }
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
    const createOnly = { createOnly: true }
    if (manifest.pinned) await storage.put(layout.pinned(name, id), '', 'text/plain', createOnly)
    await storage.put(layout.checksums(name, id), checksumFile(manifest.objects), 'text/plain', createOnly)
    await storage.put(layout.manifest(name, id), json, 'application/json', createOnly)
    await storage.commit?.(layout.manifest(name, id))
  }
}
