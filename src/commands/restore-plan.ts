import { writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { BackupError, errorMessage, InputError } from '../errors.js'
import type { Manifest } from '../model/manifest.js'
import { quoteIdent, type SqlClient } from '../postgres/client.js'
import { hasSupabasePlatform } from '../postgres/platform.js'
import { listArchive, type RestoreOptions } from '../postgres/restore.js'
import { createStandIns, referencedRoles } from '../postgres/roles.js'
import { platformSkips, readTargetObjects, tablesToEmpty, useList } from '../postgres/target-plan.js'
import type { ClientTools } from '../postgres/tools.js'
import type { Context } from './context.js'

/** How a restore treats its target, decided before pg_restore runs. */
export interface RestorePlan {
  /** The target carries the Supabase platform (detected, or target-platform: supabase). */
  supabase: boolean
  /** NOLOGIN roles made for referenced roles the target lacked (plain Postgres targets). */
  standIns: string[]
  /** Archive entries left out because the target's platform already has them. */
  skipped: number
  /** Data loads with session_replication_role = replica (user and platform triggers off). */
  triggersOff: boolean
  /** What restoreArchive needs besides the archive: entries for error classification, the list, session settings. */
  restore: Pick<RestoreOptions, 'toc' | 'list' | 'sessionOptions'>
}

/** Whether the target is a Supabase project, as target-platform says or as its schemas and roles show. */
export async function isSupabaseTarget(ctx: Context, client: SqlClient): Promise<boolean> {
  if (ctx.settings.targetPlatform === 'auto') return hasSupabasePlatform(client)
  return ctx.settings.targetPlatform === 'supabase'
}

/**
 * Prepares the target for a whole-archive restore: on plain Postgres, NOLOGIN stand-ins for the
 * roles the backup names and the target lacks, so that owners, grants and policies restore and
 * can be checked; on a Supabase target, a --use-list without what its platform already holds,
 * and data loaded with triggers off. `file` is the archive on disk (custom format).
 */
export async function planRestore(
  ctx: Context,
  client: SqlClient,
  manifest: Manifest,
  tools: ClientTools,
  options: { supabase: boolean; clean: boolean },
  file?: string
): Promise<RestorePlan> {
  const { supabase, clean } = options
  const toc = file ? await listArchive(tools, file) : undefined
  if (!supabase) {
    const standIns = await createStandIns(client, referencedRoles(toc?.entries.values() ?? [], manifest.schemaFacts?.catalog))
    return { supabase, standIns, skipped: 0, triggersOff: false, restore: { toc: toc?.entries } }
  }
  if (!toc || !file) throw new InputError('target-platform', `supabase needs a custom-format backup; ${manifest.id} is ${manifest.format}`)
  const has = await readTargetObjects(client)
  const skips = platformSkips(toc.entries, has, clean)
  const list = join(dirname(file), 'restore.list')
  await writeFile(list, useList(toc.text, skips))
  const triggersOff = await canDisableTriggers(client)
  if (!triggersOff) {
    ctx.host.warning(
      'the target role may not set session_replication_role, so triggers on platform tables fire while their rows load; grant it (Supabase allows it for postgres) or restore as a superuser'
    )
  }
  // --clean drops and recreates the app's tables but not the platform's (auth.users, storage.objects):
  // their rows are replaced, all in one statement so foreign keys between them allow it.
  const fill = clean ? tablesToEmpty(toc.entries, skips, has) : []
  if (fill.length > 0) {
    await client.query('BEGIN')
    try {
      if (triggersOff) await client.query('SET LOCAL session_replication_role = replica')
      await client.query(`TRUNCATE ONLY ${fill.map(([schema, table]) => `${quoteIdent(schema)}.${quoteIdent(table)}`).join(', ')}`)
      await client.query('COMMIT')
    } catch (error) {
      await client.query('ROLLBACK')
      throw new BackupError(`Could not empty the tables the clean restore refills; nothing was changed: ${errorMessage(error)}`, { cause: error })
    }
  }
  return {
    supabase,
    standIns: [],
    skipped: skips.size,
    triggersOff,
    restore: { toc: toc.entries, list, sessionOptions: triggersOff ? '-c session_replication_role=replica' : undefined }
  }
}

/** Whether this role may set session_replication_role (superusers; on Supabase, postgres through supautils). */
export async function canDisableTriggers(client: SqlClient): Promise<boolean> {
  try {
    await client.query('SET session_replication_role = replica')
    await client.query('RESET session_replication_role')
    return true
  } catch {
    return false
  }
}
