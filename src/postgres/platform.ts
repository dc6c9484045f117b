import type { SqlClient } from './client.js'

/**
 * What the Supabase platform owns in a project's database, as the Supabase CLI's dump scripts
 * list it (supabase/cli pkg/migration/dump.go): its reserved roles, the schemas it maintains or
 * its extensions create, and the migration tables its services keep.
 */
const RESERVED_ROLES = [
  /^anon$/,
  /^authenticated$/,
  /^authenticator$/,
  /^cli_login_/,
  /^dashboard_user$/,
  /^pgbouncer$/,
  /^postgres$/,
  /^service_role$/,
  /^supabase_/,
  /^pgsodium_key/,
  /^pgtle_admin$/
]

/** A reserved platform role: never created or altered by this action, and its objects' ownership and privileges are the platform's. */
export const isReservedRole = (role: string): boolean => RESERVED_ROLES.some(pattern => pattern.test(role))

/** Objects the platform owns: the user's own objects belong to postgres, which is reserved too. */
export const isPlatformOwner = (role: string): boolean => role !== 'postgres' && isReservedRole(role)

export const PLATFORM_SCHEMAS: ReadonlySet<string> = new Set([
  '_analytics',
  '_realtime',
  '_supavisor',
  'auth',
  'etl',
  'extensions',
  'pgbouncer',
  'realtime',
  'storage',
  'supabase_functions',
  'supabase_migrations',
  'cron',
  'dbdev',
  'graphql',
  'graphql_public',
  'net',
  'pgmq',
  'pgsodium',
  'pgsodium_masks',
  'pgtle',
  'repack',
  'topology',
  'vault'
])

/** Extensions the platform installs itself; a plain server may lack them. */
export const PLATFORM_EXTENSIONS: ReadonlySet<string> = new Set([
  'hypopg',
  'index_advisor',
  'pg_cron',
  'pg_graphql',
  'pg_hashids',
  'pg_jsonschema',
  'pg_net',
  'pg_stat_monitor',
  'pg_stat_statements',
  'pg_tle',
  'pgaudit',
  'pgjwt',
  'pgmq',
  'pgsodium',
  'plpgsql_check',
  'supabase_vault',
  'wrappers'
])

/** The platform services' own migration history: a target keeps its own. */
export const PLATFORM_MIGRATION_TABLES: ReadonlySet<string> = new Set([
  'auth.schema_migrations',
  'storage.migrations',
  'realtime.schema_migrations',
  'supabase_functions.migrations'
])

/** Schema of a dotted fact name ("auth.users", "function auth.uid()" → auth). */
export const schemaOf = (name: string): string => name.replace(/^[a-z ]+ (?=\S)/, '').split('.')[0]

/**
 * Whether a database carries the Supabase platform: its auth and storage schemas and its admin
 * role, a superuser that logs in (a restore into plain Postgres makes a NOLOGIN stand-in of that name).
 */
export async function hasSupabasePlatform(client: SqlClient): Promise<boolean> {
  const { rows } = await client.query<{ found: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'supabase_admin' AND rolsuper AND rolcanlogin)
        AND (SELECT count(*) FROM pg_namespace WHERE nspname IN ('auth', 'storage')) = 2 AS found`
  )
  return rows[0].found
}
