import type { CatalogFacts } from '../model/manifest.js'
import type { SqlClient } from './client.js'
import { selectsEverything, selectsSchema, selectsTable, type TableFilters } from './patterns.js'

// Objects pg_dump dumps: not in system schemas, not members of an extension (the extension recreates those).
const USER_SCHEMA = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')`
const notMember = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`

/** Every user relation; `schema` and `rel` are filtered in JavaScript with pg_dump's own selection rules. */
const RELATIONS = `rel AS (
  SELECT c.oid, n.nspname AS schema, c.relname AS rel, c.relkind, c.relowner, c.relacl, c.relrowsecurity, c.relforcerowsecurity
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${USER_SCHEMA} AND ${notMember('pg_class', 'c.oid')})`

const grantee = (oid: string) => `CASE WHEN ${oid} = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(${oid}) END`
const RELATION_KIND: Record<string, string> = { r: 'table', p: 'table', v: 'view', m: 'materialized view', f: 'foreign table', S: 'sequence' }
const COMMANDS: Record<string, string> = { r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE', '*': 'ALL' }

interface RelRow {
  schema: string
  rel: string
}

/**
 * Reads the facts a dump with these filters holds (the same selection as pg_dump's -n/-N/-t/-T),
 * from the source inside the dump's snapshot or from a restored target, with the same queries.
 * Definitions are rendered with search_path = pg_catalog so that both sides qualify names alike;
 * the session's search_path is restored afterwards.
 */
export async function collectFacts(client: SqlClient, filters: TableFilters): Promise<CatalogFacts> {
  const saved = (await client.query<{ path: string }>("SELECT current_setting('search_path') AS path")).rows[0].path
  await client.query("SELECT set_config('search_path', 'pg_catalog', false)")
  try {
    return await readFacts(client, filters)
  } finally {
    await client.query("SELECT set_config('search_path', $1, false)", [saved]).catch(() => undefined)
  }
}

async function readFacts(client: SqlClient, filters: TableFilters): Promise<CatalogFacts> {
  const query = async <T extends object>(sql: string): Promise<T[]> => (await client.query<T>(sql)).rows
  const onRelations = async <T extends RelRow>(sql: string): Promise<T[]> =>
    (await query<T>(`WITH ${RELATIONS} ${sql}`)).filter(r => selectsTable(filters, r.schema, r.rel))
  const inSchemas = async <T extends { schema: string }>(sql: string): Promise<T[]> => (await query<T>(sql)).filter(r => selectsSchema(filters, r.schema))
  const everything = selectsEverything(filters)

  const tables = await onRelations<RelRow & { relkind: string; rls: boolean; force: boolean }>(
    `SELECT schema, rel, relkind, relrowsecurity AS rls, relforcerowsecurity AS force FROM rel WHERE relkind <> 'S'`
  )
  const columns = await onRelations<RelRow & { column: string; type: string; not_null: boolean; default: string | null }>(
    `SELECT r.schema, r.rel, a.attname AS "column", format_type(a.atttypid, a.atttypmod) AS "type", a.attnotnull AS not_null,
       pg_get_expr(ad.adbin, ad.adrelid) AS "default"
     FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
     LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE r.relkind <> 'S'`
  )
  const policies = await onRelations<
    RelRow & { policy: string; cmd: string; permissive: boolean; roles: string[]; using: string | null; check: string | null }
  >(
    `SELECT r.schema, r.rel, p.polname AS "policy", p.polcmd AS cmd, p.polpermissive AS permissive,
       ARRAY(SELECT ${grantee('x')} FROM unnest(p.polroles) x ORDER BY 1)::text[] AS roles,
       pg_get_expr(p.polqual, p.polrelid) AS "using", pg_get_expr(p.polwithcheck, p.polrelid) AS "check"
     FROM rel r JOIN pg_policy p ON p.polrelid = r.oid`
  )
  // The owner's own privileges are implied by ownership; grants to everyone else are the facts.
  const relationGrants = await onRelations<RelRow & { relkind: string; column: string | null; role: string; privilege: string; grantable: boolean }>(
    `SELECT r.schema, r.rel, r.relkind, NULL::name AS "column", ${grantee('a.grantee')} AS "role", a.privilege_type AS "privilege", a.is_grantable AS "grantable"
     FROM rel r, aclexplode(coalesce(r.relacl, acldefault(CASE WHEN r.relkind = 'S' THEN 's' ELSE 'r' END::"char", r.relowner))) a
     WHERE a.grantee <> r.relowner
     UNION ALL
     SELECT r.schema, r.rel, r.relkind, att.attname, ${grantee('a.grantee')}, a.privilege_type, a.is_grantable
     FROM rel r JOIN pg_attribute att ON att.attrelid = r.oid AND att.attnum > 0 AND NOT att.attisdropped AND att.attacl IS NOT NULL,
       aclexplode(att.attacl) a
     WHERE a.grantee <> r.relowner`
  )
  const schemaGrants = await inSchemas<{ schema: string; role: string; privilege: string; grantable: boolean }>(
    `SELECT n.nspname AS schema, ${grantee('a.grantee')} AS "role", a.privilege_type AS "privilege", a.is_grantable AS "grantable"
     FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
     WHERE ${USER_SCHEMA} AND a.grantee <> n.nspowner`
  )
  const functions = await inSchemas<{ schema: string; signature: string; kind: string; secdef: boolean; config: string[]; body_md5: string }>(
    `SELECT n.nspname AS schema, p.oid::regprocedure::text AS "signature", p.prokind AS "kind", p.prosecdef AS secdef,
       coalesce(p.proconfig, '{}') AS config, md5(p.prosrc) AS body_md5
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE ${USER_SCHEMA} AND ${notMember('pg_proc', 'p.oid')}`
  )
  const functionGrants = await inSchemas<{ schema: string; signature: string; role: string; privilege: string; grantable: boolean }>(
    `SELECT n.nspname AS schema, p.oid::regprocedure::text AS "signature", ${grantee('a.grantee')} AS "role", a.privilege_type AS "privilege",
       a.is_grantable AS "grantable"
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
     WHERE ${USER_SCHEMA} AND ${notMember('pg_proc', 'p.oid')} AND a.grantee <> p.proowner`
  )
  const triggers = await onRelations<RelRow & { trigger: string; definition: string; enabled: string }>(
    `SELECT r.schema, r.rel, t.tgname AS "trigger", pg_get_triggerdef(t.oid) AS "definition", t.tgenabled AS "enabled"
     FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal`
  )
  // A sequence comes with its table (identity, serial) as well as by its own name.
  const sequences = (
    await query<RelRow & { last_value: string | null; owned_by: string[] | null }>(
      `WITH ${RELATIONS}
       SELECT r.schema, r.rel,
         CASE WHEN has_sequence_privilege(r.oid, 'SELECT,USAGE') THEN pg_sequence_last_value(r.oid)::text END AS last_value,
         (SELECT ARRAY[tn.nspname::text, tc.relname::text] FROM pg_depend d
            JOIN pg_class tc ON tc.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
          WHERE d.classid = 'pg_class'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
          LIMIT 1) AS owned_by
       FROM rel r WHERE r.relkind = 'S'`
    )
  ).filter(s => selectsTable(filters, s.schema, s.rel) || (s.owned_by !== null && selectsTable(filters, s.owned_by[0], s.owned_by[1])))
  // pg_dump leaves invalid indexes out, except partitioned ones (waiting for their partitions' indexes).
  const indexes = await onRelations<RelRow & { index: string; definition: string }>(
    `SELECT r.schema, r.rel, ic.relname AS "index", pg_get_indexdef(i.indexrelid) AS "definition"
     FROM rel r JOIN pg_index i ON i.indrelid = r.oid JOIN pg_class ic ON ic.oid = i.indexrelid AND (i.indisvalid OR ic.relkind = 'I')`
  )
  const constraints = await onRelations<RelRow & { constraint: string; type: string; definition: string }>(
    `SELECT r.schema, r.rel, k.conname AS "constraint", k.contype AS "type", pg_get_constraintdef(k.oid) AS "definition"
     FROM rel r JOIN pg_constraint k ON k.conrelid = r.oid`
  )
  const publications = everything
    ? await query<{ name: string; all_tables: boolean }>('SELECT pubname AS "name", puballtables AS all_tables FROM pg_publication')
    : []
  const published = everything
    ? (
        await query<{ pub: string; schema: string; rel: string }>('SELECT pubname AS pub, schemaname AS schema, tablename AS rel FROM pg_publication_tables')
      ).filter(r => selectsTable(filters, r.schema, r.rel))
    : []
  const extensions = everything
    ? await query<{ name: string; schema: string }>(
        'SELECT e.extname AS "name", n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace'
      )
    : []
  const largeObjects = everything ? Number((await query<{ n: string }>('SELECT count(*) AS n FROM pg_largeobject_metadata'))[0].n) : 0

  const qualified = (r: RelRow) => `${r.schema}.${r.rel}`
  const grants = [
    ...relationGrants.map(g => ({ ...g, object: g.column === null ? `${RELATION_KIND[g.relkind]} ${qualified(g)}` : `column ${qualified(g)}.${g.column}` })),
    ...schemaGrants.map(g => ({ ...g, object: `schema ${g.schema}` })),
    ...functionGrants.map(g => ({ ...g, object: `function ${g.signature}` }))
  ]
  const grouped = new Map<string, { name: string; object: string; role: string; privileges: string[] }>()
  for (const g of grants) {
    const name = `${g.object} to ${g.role}`
    const entry = grouped.get(name) ?? { name, object: g.object, role: g.role, privileges: [] }
    entry.privileges.push(g.grantable ? `${g.privilege} WITH GRANT OPTION` : g.privilege)
    grouped.set(name, entry)
  }

  return {
    tables: byName(tables.map(t => ({ name: qualified(t), kind: RELATION_KIND[t.relkind], rls: t.rls, forceRls: t.force }))),
    columns: byName(columns.map(c => ({ name: `${qualified(c)}.${c.column}`, type: c.type, notNull: c.not_null, default: c.default }))),
    policies: byName(
      policies.map(p => ({
        name: `${qualified(p)}.${p.policy}`,
        table: qualified(p),
        command: COMMANDS[p.cmd] ?? p.cmd,
        permissive: p.permissive,
        roles: p.roles,
        using: p.using,
        check: p.check
      }))
    ),
    grants: byName([...grouped.values()].map(g => ({ ...g, privileges: g.privileges.sort() }))),
    triggers: byName(triggers.map(t => ({ name: `${qualified(t)}.${t.trigger}`, table: qualified(t), definition: t.definition, enabled: t.enabled }))),
    functions: byName(functions.map(f => ({ name: f.signature, kind: f.kind, securityDefiner: f.secdef, config: f.config, bodyMd5: f.body_md5 }))),
    sequences: byName(sequences.map(s => ({ name: qualified(s), lastValue: s.last_value }))),
    indexes: byName(indexes.map(i => ({ name: `${i.schema}.${i.index}`, table: qualified(i), definition: i.definition }))),
    constraints: byName(constraints.map(k => ({ name: `${qualified(k)}.${k.constraint}`, table: qualified(k), type: k.type, definition: k.definition }))),
    publications: byName(
      publications.map(p => ({
        name: p.name,
        allTables: p.all_tables,
        tables: published
          .filter(r => r.pub === p.name)
          .map(qualified)
          .sort()
      }))
    ),
    extensions: byName(extensions),
    largeObjects
  }
}

const byName = <T extends { name: string }>(items: T[]): T[] => items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
