import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { startChain } from '../pipeline/chain.js'
import { connect, serverVersion } from '../postgres/client.js'
import { libpqConninfo, libpqEnv } from '../postgres/connection.js'
import { pgDumpArgs } from '../postgres/dump.js'
import { findClientTools } from '../postgres/tools.js'
import { changesHeadline, changesMarkdown, schemaChanges, type SchemaChange } from '../schema/changes.js'
import { normalizeSchema } from '../schema/normalize.js'
import { commitSchema, type SchemaCommitResult } from '../schema/publish.js'
import { readAll } from '../storage/storage.js'
import { clientOptions, sourceConnection, type Context } from './context.js'

export interface SchemaResult {
  file: string
  changed: boolean
  changes: SchemaChange[]
  committed?: SchemaCommitResult
}

/**
 * Writes the database's schema (pg_dump --schema-only, plain SQL, the backup's filters) into
 * the workspace, normalized so that an unchanged database gives a byte-identical file; then,
 * as schema-commit asks, commits it on a branch with one pull request, or pushes it.
 */
export async function schema(ctx: Context): Promise<SchemaResult> {
  const { settings, host } = ctx
  const conn = sourceConnection(ctx)
  const client = await connect(conn)
  const version = await serverVersion(client).finally(() => client.end().catch(() => undefined))
  const tools = await findClientTools({ tool: 'pg_dump', minMajor: version.major, what: `the server (PostgreSQL ${version.major})` }, clientOptions(ctx))
  const filters = { schemas: settings.schemas, excludeSchemas: settings.excludeSchemas, tables: settings.tables, excludeTables: settings.excludeTables }
  const dump = startChain(
    [
      {
        name: 'pg_dump',
        command: tools.bin('pg_dump'),
        args: [
          ...pgDumpArgs({ ...filters, format: 'plain', scope: 'schema', largeObjects: false, lockWaitMs: settings.lockTimeoutMs }),
          `--dbname=${libpqConninfo(conn)}`
        ],
        env: { ...tools.env, ...libpqEnv(conn) }
      }
    ],
    ctx.secrets
  )
  const [sql] = await Promise.all([readAll(dump.output), dump.done])
  const content = normalizeSchema(sql.toString('utf8'))

  const workspace = host.env.GITHUB_WORKSPACE || process.cwd()
  const path = resolve(workspace, settings.schemaFile)
  const before = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined
    throw error
  })
  const changed = before !== content
  const changes = changed ? schemaChanges(before ?? '', content) : []
  if (changed) {
    await mkdir(dirname(path), { recursive: true })
    await writeFile(`${path}.tmp`, content)
    await rename(`${path}.tmp`, path)
  }
  const what = changed ? (before === undefined ? 'written (new file)' : `changed: ${changesHeadline(changes)}`) : 'unchanged'
  host.info(`Schema of "${conn.database}" (PostgreSQL ${version.text}, pg_dump ${tools.version}) → ${settings.schemaFile}: ${what}`)

  const body = !changed ? '' : before === undefined ? `First snapshot: ${changesHeadline(changes)}.` : limit(changesMarkdown(changes))
  let committed: SchemaCommitResult | undefined
  if (changed && settings.schemaCommit !== 'none') {
    committed = await commitSchema({
      mode: settings.schemaCommit,
      branch: settings.schemaBranch,
      workspace,
      file: settings.schemaFile,
      content,
      message: `Schema of ${conn.database}: ${before === undefined ? 'first snapshot' : changesHeadline(changes)}`,
      title: `Database schema: ${before === undefined ? `first snapshot of ${conn.database}` : `changes in ${conn.database}`}`,
      body: `\`${settings.schemaFile}\`, written by pg-backup-action from the database \`${conn.database}\` (PostgreSQL ${version.text}).\n\n${body}\n`,
      token: settings.githubToken,
      env: host.env,
      secrets: ctx.secrets
    })
    const where = committed.pullRequest ? `pull request #${committed.pullRequest.number} (${committed.pullRequest.url})` : `branch ${committed.branch}`
    host.info(committed.commit ? `Committed ${committed.commit.slice(0, 12)} to ${where}` : `${where} already holds this schema`)
  }
  await host.summary(
    `## Schema ${changed ? 'changed' : 'unchanged'}: \`${settings.schemaFile}\`\n\n${changed ? body : 'The database schema is the same as the file in the workspace.'}\n`
  )
  return { file: settings.schemaFile, changed, changes, committed }
}

/** GitHub refuses pull request bodies over 65,536 characters; a summary that long is cut. */
function limit(markdown: string, max = 60000): string {
  return markdown.length <= max ? markdown : `${markdown.slice(0, markdown.lastIndexOf('\n', max))}\n\n… and more: see the diff.`
}
