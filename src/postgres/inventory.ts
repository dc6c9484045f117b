import type { SchemaFacts, TableCount } from '../model/manifest.js'
import { quoteIdent, type SqlClient } from './client.js'
import { selectsTable, type TableFilters } from './patterns.js'

export interface TableRef {
  schema: string
  table: string
}

/**
 * Ordinary tables pg_dump would dump data for: not system schemas, not members of
 * extensions (pg_dump skips those), leaf tables only (partition parents hold no rows).
 */
export async function listTables(client: SqlClient, filters: TableFilters, relkinds = ['r']): Promise<TableRef[]> {
  const { rows } = await client.query<TableRef>(
    `
    SELECT n.nspname AS schema, c.relname AS table
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = ANY ($1::"char"[])
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
    ORDER BY 1, 2`,
    [relkinds]
  )
  return rows.filter(t => selectsTable(filters, t.schema, t.table))
}

/** Exact row counts, in batches of one query each; ONLY, because COPY dumps each table's own rows. */
export async function countRows(client: SqlClient, tables: TableRef[]): Promise<TableCount[]> {
  const out: TableCount[] = []
  for (let i = 0; i < tables.length; i += 100) {
    const batch = tables.slice(i, i + 100)
    const sql = batch.map((t, j) => `SELECT ${j} AS i, count(*) AS n FROM ONLY ${quoteIdent(t.schema)}.${quoteIdent(t.table)}`).join(' UNION ALL ')
    const { rows } = await client.query<{ i: number; n: string }>(sql)
    for (const row of rows) out.push({ ...batch[row.i], rows: Number(row.n) })
  }
  return out.sort((a, b) => a.schema.localeCompare(b.schema) || a.table.localeCompare(b.table))
}

/**
 * Policies, indexes and constraints on the dumped relations (listTables(…, ['r', 'p', 'm'])),
 * counted the way pg_restore's table of contents lists them: an index backing a constraint
 * appears as the constraint, check constraints are part of CREATE TABLE, and pg_dump skips
 * invalid indexes (except a partitioned one, still waiting for its partitions' indexes) and foreign keys that partitions inherit from their parent.
 */
export async function schemaFacts(client: SqlClient, tables: TableRef[]): Promise<SchemaFacts> {
  const names = tables.map(t => `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`)
  const { rows } = await client.query<{ rls: string[] | null; policies: string; indexes: string; constraints: string }>(
    `WITH t AS (SELECT unnest($1::text[])::regclass AS oid)
     SELECT
       (SELECT array_agg(n.nspname || '.' || c.relname ORDER BY 1) FROM pg_class c JOIN t ON t.oid = c.oid
          JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relrowsecurity) AS rls,
       (SELECT count(*) FROM pg_policy p JOIN t ON t.oid = p.polrelid) AS policies,
       (SELECT count(*) FROM pg_index i JOIN t ON t.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
          WHERE (i.indisvalid OR ic.relkind = 'I') AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)) AS indexes,
       (SELECT count(*) FROM pg_constraint k JOIN t ON t.oid = k.conrelid WHERE k.contype IN ('p','u','f','x') AND NOT (k.contype = 'f' AND k.conparentid <> 0)) AS constraints`,
    [names]
  )
  const row = rows[0]
  return { rlsTables: row.rls ?? [], policies: Number(row.policies), indexes: Number(row.indexes), constraints: Number(row.constraints) }
}
