import type { FactDifference } from '../catalog/facts-diff.js'
import type { CatalogFacts } from '../model/manifest.js'
import { quoteIdent, type SqlClient } from './client.js'

/**
 * Revokes what the target granted beyond the source: a target's default privileges (Supabase
 * grants every new table to anon and authenticated) apply when the restore creates an object,
 * and pg_dump only grants, it never revokes what the source never had. Returns what it revoked.
 */
export async function revokeExtraGrants(client: SqlClient, differences: FactDifference[], actual: CatalogFacts, expected: CatalogFacts): Promise<string[]> {
  const revoked: string[] = []
  for (const d of differences.filter(x => x.category === 'grants' && x.change !== 'missing')) {
    const have = actual.grants.find(g => g.name === d.name)
    if (!have) continue
    const want = new Set(expected.grants.find(g => g.name === d.name)?.privileges ?? [])
    const target = await sqlObject(client, have.object)
    if (!target) continue
    const role = have.role === 'PUBLIC' ? 'PUBLIC' : quoteIdent(have.role)
    for (const privilege of have.privileges.filter(p => !want.has(p))) {
      const base = privilege.replace(/ WITH GRANT OPTION$/, '')
      const what = base !== privilege && want.has(base) ? `GRANT OPTION FOR ${base}` : base
      await client.query(`REVOKE ${what} ON ${target} FROM ${role}`)
      revoked.push(`${what} on ${have.object} from ${have.role}`)
    }
  }
  return revoked
}

/** The SQL name of a fact's object ("table public.t" → TABLE public.t), found in the target's catalog so quoting is right. */
async function sqlObject(client: SqlClient, object: string): Promise<string | undefined> {
  const [, kind, name] = /^(table|view|materialized view|foreign table|sequence|function|schema) (.+)$/.exec(object) ?? []
  if (!kind) return undefined
  if (kind === 'schema') return `SCHEMA ${quoteIdent(name)}`
  if (kind === 'function') {
    // Facts name functions as regprocedure prints them with search_path = pg_catalog: quoted and qualified.
    const { rows } = await client.query<{ found: boolean }>('SELECT to_regprocedure($1) IS NOT NULL AS found', [name])
    return rows[0].found ? `ROUTINE ${name}` : undefined
  }
  const { rows } = await client.query<{ rel: string }>(
    'SELECT format($2, n.nspname, c.relname) AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname || $3 || c.relname = $1',
    [name, '%I.%I', '.']
  )
  return rows[0] ? `${kind === 'sequence' ? 'SEQUENCE' : 'TABLE'} ${rows[0].rel}` : undefined
}
