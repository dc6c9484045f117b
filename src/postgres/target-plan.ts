import type { SqlClient } from './client.js'
import { isPlatformOwner, PLATFORM_MIGRATION_TABLES, PLATFORM_SCHEMAS } from './platform.js'
import type { TocEntry } from './toc.js'

/** What a target already holds, keyed the way pg_restore's table of contents names things. */
export interface TargetObjects {
  schemas: Set<string>
  extensions: Set<string>
  /** "schema.name" for every relation (tables, views, sequences, indexes). */
  relations: Set<string>
  types: Set<string>
  /** "schema.name(argument types)", as pg_dump tags functions. */
  functions: Set<string>
  /** "schema.table name" for constraints, triggers and policies. */
  constraints: Set<string>
  triggers: Set<string>
  policies: Set<string>
  publications: Set<string>
  /** "publication schema.table". */
  publicationTables: Set<string>
  eventTriggers: Set<string>
}

/** Reads what the target holds (names rendered with search_path = pg_catalog, as pg_dump renders its tags). */
export async function readTargetObjects(client: SqlClient): Promise<TargetObjects> {
  const list = async (sql: string) => new Set((await client.query<{ k: string }>(sql)).rows.map(r => r.k))
  const rel = 'FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace'
  await client.query("SELECT set_config('search_path', 'pg_catalog', false)")
  return {
    schemas: await list('SELECT nspname AS k FROM pg_namespace'),
    extensions: await list('SELECT extname AS k FROM pg_extension'),
    relations: await list(`SELECT n.nspname || '.' || c.relname AS k ${rel}`),
    types: await list("SELECT n.nspname || '.' || t.typname AS k FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"),
    functions: await list(
      "SELECT n.nspname || '.' || p.proname || '(' || oidvectortypes(p.proargtypes) || ')' AS k FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    ),
    constraints: await list(
      `SELECT n.nspname || '.' || c.relname || ' ' || k.conname AS k FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace`
    ),
    triggers: await list(
      `SELECT n.nspname || '.' || c.relname || ' ' || t.tgname AS k FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace`
    ),
    policies: await list(
      `SELECT n.nspname || '.' || c.relname || ' ' || p.polname AS k FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace`
    ),
    publications: await list('SELECT pubname AS k FROM pg_publication'),
    publicationTables: await list("SELECT pubname || ' ' || schemaname || '.' || tablename AS k FROM pg_publication_tables"),
    eventTriggers: await list('SELECT evtname AS k FROM pg_event_trigger')
  }
}

const RELATION_ENTRIES = new Set([
  'TABLE',
  'VIEW',
  'MATERIALIZED VIEW',
  'SEQUENCE',
  'FOREIGN TABLE',
  'INDEX',
  'TABLE ATTACH',
  'INDEX ATTACH',
  'SEQUENCE OWNED BY',
  'ROW SECURITY'
])

const CLEANED = new Set(['POLICY', 'TRIGGER', 'PUBLICATION TABLE'])

/** Whether the object an entry creates (or, for a DEFAULT, the table it belongs to) is already on the target. */
function exists(e: TocEntry, has: TargetObjects): boolean {
  const qualified = `${e.schema}.${e.tag}`
  if (RELATION_ENTRIES.has(e.desc)) return has.relations.has(qualified)
  if (e.desc === 'DEFAULT') return has.relations.has(`${e.schema}.${e.tag.split(' ')[0]}`)
  if (e.desc === 'TYPE' || e.desc === 'DOMAIN') return has.types.has(qualified)
  if (e.desc === 'FUNCTION' || e.desc === 'PROCEDURE' || e.desc === 'AGGREGATE') return has.functions.has(qualified)
  if (e.desc === 'CONSTRAINT' || e.desc === 'FK CONSTRAINT' || e.desc === 'CHECK CONSTRAINT') return has.constraints.has(qualified)
  if (e.desc === 'TRIGGER') return has.triggers.has(qualified)
  if (e.desc === 'POLICY') return has.policies.has(qualified)
  return false
}

/** A COMMENT's or ACL's object ("TABLE users", "FUNCTION uid()", "SCHEMA auth", "EXTENSION pgcrypto"), when the target has it. */
function subjectExists(e: TocEntry, has: TargetObjects): boolean {
  const [, kind, name] = /^([A-Z]+(?: [A-Z]+)?) (.+)$/.exec(e.tag) ?? []
  const unquoted = name?.replace(/^"(.*)"$/, '$1')
  if (kind === 'SCHEMA') return has.schemas.has(unquoted) && (PLATFORM_SCHEMAS.has(unquoted) || unquoted === 'public')
  if (kind === 'EXTENSION') return has.extensions.has(unquoted)
  if (!PLATFORM_SCHEMAS.has(e.schema)) return false
  if (kind === 'COLUMN') return has.relations.has(`${e.schema}.${name.split('.')[0]}`)
  if (kind === 'FUNCTION' || kind === 'PROCEDURE') return has.functions.has(`${e.schema}.${name}`)
  if (kind === 'TYPE' || kind === 'DOMAIN') return has.types.has(`${e.schema}.${name}`)
  return has.relations.has(`${e.schema}.${name}`)
}

/**
 * Which entries a restore into a Supabase project leaves out, and why (pure): what the platform
 * already put there (its schemas, extensions, tables, functions, the supabase_realtime
 * publication, event triggers, default privileges of its roles) stays as the target has it,
 * and its services' migration history is the target's own. The app's DDL, the user's triggers
 * and policies on platform tables, and all data are restored.
 */
export function platformSkips(entries: Map<number, TocEntry>, has: TargetObjects, clean = false): Map<number, string> {
  const skips = new Map<number, string>()
  for (const [id, e] of entries) {
    // With clean, the user's policies and triggers on platform tables are dropped and made again from the
    // backup, and publication members come back with their tables.
    const reason = clean && CLEANED.has(e.desc) ? undefined : skipReason(e, has)
    if (reason) skips.set(id, reason)
  }
  return skips
}

function skipReason(e: TocEntry, has: TargetObjects): string | undefined {
  switch (e.desc) {
    case 'SCHEMA':
      return has.schemas.has(e.tag) ? 'schema the target has' : undefined
    case 'EXTENSION':
      return has.extensions.has(e.tag) ? 'extension the target has' : undefined
    case 'PUBLICATION':
      return has.publications.has(e.tag) ? 'publication the target has' : undefined
    case 'PUBLICATION TABLE': {
      const [pub, ...table] = e.tag.split(' ')
      return has.publicationTables.has(`${pub} ${e.schema}.${table.join(' ')}`) ? 'publication member the target has' : undefined
    }
    case 'EVENT TRIGGER':
      return has.eventTriggers.has(e.tag) || isPlatformOwner(e.owner) ? "the platform's event trigger" : undefined
    case 'DEFAULT ACL':
      return isPlatformOwner(e.owner) ? "the platform's default privileges" : undefined
    case 'COMMENT':
    case 'ACL':
    case 'SECURITY LABEL':
      return subjectExists(e, has) ? 'platform object the target has' : undefined
    case 'TABLE DATA':
      return PLATFORM_MIGRATION_TABLES.has(`${e.schema}.${e.tag}`) ? "the platform's migration history" : undefined
    default:
      return PLATFORM_SCHEMAS.has(e.schema) && exists(e, has) ? 'platform object the target has' : undefined
  }
}

/** A pg_restore --use-list file: the archive's listing with the skipped entries commented out (pure). */
export function useList(listing: string, skips: Map<number, string>): string {
  return listing
    .split('\n')
    .map(line => {
      const id = /^(\d+);/.exec(line)?.[1]
      return id && skips.has(Number(id)) ? `;${line}` : line
    })
    .join('\n')
}

/** Tables the restore loads rows into that the target already has ("schema"."table"), to empty first on a clean restore (pure). */
export function tablesToEmpty(entries: Map<number, TocEntry>, skips: Map<number, string>, has: TargetObjects): Array<[string, string]> {
  return [...entries]
    .filter(([id, e]) => e.desc === 'TABLE DATA' && !skips.has(id) && has.relations.has(`${e.schema}.${e.tag}`))
    .map(([, e]) => [e.schema, e.tag])
}
