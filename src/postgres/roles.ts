import { BackupError, errorMessage } from '../errors.js'
import type { CatalogFacts } from '../model/manifest.js'
import { quoteIdent, type SqlClient } from './client.js'
import { isReservedRole } from './platform.js'
import type { TocEntry } from './toc.js'

const NAME = String.raw`("(?:[^"]|"")+"|[^\s;"]+)`
const unquote = (name: string) => (name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name)

/**
 * Makes pg_dumpall --roles-only output safe to run on any server (pure): the platform's reserved
 * roles are never created or altered (as the Supabase CLI's dump_role.sh does), and every other
 * role is created with its attributes only where it does not exist yet, so an existing role (a
 * server's bootstrap superuser included) is never altered.
 */
export function safeRolesSql(sql: string): string {
  const out: string[] = []
  let pending: string | undefined
  for (const line of sql.split('\n')) {
    const create = new RegExp(`^CREATE ROLE ${NAME};$`).exec(line)
    const alter = new RegExp(`^ALTER ROLE ${NAME} (WITH .*);$`).exec(line)
    const setting = new RegExp(`^ALTER ROLE ${NAME} (SET|IN DATABASE|RESET) `).exec(line)
    const grant = new RegExp(`^GRANT .* TO ${NAME}(?: WITH [A-Z ]+?)?(?: GRANTED BY ${NAME})?;$`).exec(line)
    if (create) {
      if (isReservedRole(unquote(create[1]))) out.push(`-- reserved platform role, left as the server has it: ${line}`)
      else pending = create[1]
    } else if (alter && alter[1] === pending) {
      const name = unquote(alter[1]).replace(/'/g, "''")
      out.push(
        `DO $roles$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${name}') THEN CREATE ROLE ${alter[1]}; ALTER ROLE ${alter[1]} ${alter[2]}; END IF; END $roles$;`
      )
      pending = undefined
    } else if ((alter || setting) && isReservedRole(unquote((alter ?? setting)![1]))) {
      out.push(`-- reserved platform role, left as the server has it: ${line}`)
    } else if (alter) {
      out.push(`-- an existing role is never altered: ${line}`)
    } else if (grant && isReservedRole(unquote(grant[1]))) {
      out.push(`-- reserved platform role, left as the server has it: ${line}`)
    } else if (grant && grant[2] && isReservedRole(unquote(grant[2]))) {
      out.push(line.replace(new RegExp(` GRANTED BY ${NAME};$`), ';'))
    } else out.push(line)
  }
  return out.join('\n')
}

/** Roles the archive's objects name: owners, grantees and policy roles (from the manifest's facts, when it has them). */
export function referencedRoles(toc: Iterable<TocEntry>, facts?: CatalogFacts): string[] {
  const roles = new Set([...toc].map(e => e.owner))
  for (const g of facts?.grants ?? []) roles.add(g.role)
  for (const p of facts?.policies ?? []) for (const r of p.roles) roles.add(r)
  roles.delete('')
  roles.delete('PUBLIC')
  return [...roles].sort()
}

/**
 * Creates a NOLOGIN stand-in for each role the target lacks, so that owners, grants and
 * policies restore and can be checked; a role that exists is never touched. Returns those made.
 */
export async function createStandIns(client: SqlClient, roles: string[]): Promise<string[]> {
  const { rows } = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY ($1::text[])', [roles])
  const existing = new Set(rows.map(r => r.rolname))
  const missing = roles.filter(r => !existing.has(r))
  try {
    for (const role of missing) await client.query(`CREATE ROLE ${quoteIdent(role)} NOLOGIN`)
  } catch (error) {
    throw new BackupError(
      `Could not create NOLOGIN stand-ins for the roles the backup names and the target lacks (${missing.join(', ')}): ${errorMessage(error)}. Restore as a role with CREATEROLE, create those roles first, or, into a Supabase project, set target-platform: supabase`,
      { cause: error }
    )
  }
  return missing
}
