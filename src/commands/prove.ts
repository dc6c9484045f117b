import { describeDifference, diffFacts } from '../catalog/facts-diff.js'
import { factCount, factsInScope, isPlatformTable, judgeFacts } from '../catalog/proof.js'
import type { FactsResult, RestoreError, TableResult } from '../model/drill-report.js'
import type { Manifest, TableCount } from '../model/manifest.js'
import type { SqlClient } from '../postgres/client.js'
import { collectFacts } from '../postgres/facts.js'
import { countRows, type TableRef } from '../postgres/inventory.js'
import { revokeExtraGrants } from '../postgres/privileges.js'

/** What a drill or restore proved about the target, against the manifest. */
export interface Proof {
  /** Tables whose rows differ from the backup's counts. */
  mismatches: TableResult[]
  /** Schema facts compared (absent when the manifest records none, or for a data-only backup or a tables restore). */
  facts?: FactsResult
  /** Privileges revoked because the target's default privileges had added them. */
  revoked: string[]
}

export interface ProveOptions {
  /** The target carries the Supabase platform: its own objects there are left as they are. */
  supabase: boolean
  /** Only these tables were restored (a `tables` restore): compare their rows only. */
  tables?: TableCount[]
}

/**
 * Proves a restore complete: every counted table's rows, then every schema fact the manifest
 * records, after revoking what the target's default privileges added beyond the source.
 */
export async function prove(client: SqlClient, manifest: Manifest, options: ProveOptions): Promise<Proof> {
  // Counts see every row, as the backup's did: fail rather than count what row security lets through.
  await client.query('SET row_security = off')
  const counted = options.tables ?? manifest.tables
  const mismatches = (await compareCounts(client, counted)).filter(m => !isPlatformTable(m.table, options.supabase))
  const recorded = manifest.schemaFacts?.catalog
  if (!recorded || manifest.scope === 'data' || options.tables) return { mismatches, revoked: [] }

  const expected = factsInScope(recorded, manifest.scope)
  const before = await collectFacts(client, manifest.filters)
  const extra = judgeFacts(expected, diffFacts(expected, before), options.supabase).failures.filter(d => d.category === 'grants')
  const revoked = await revokeExtraGrants(client, extra, before, expected)
  const actual = revoked.length > 0 ? await collectFacts(client, manifest.filters) : before
  const verdict = judgeFacts(expected, diffFacts(expected, actual), options.supabase)
  return {
    mismatches,
    facts: { checked: factCount(expected), failures: verdict.failures.map(describeDifference), platform: verdict.platform.map(describeDifference) },
    revoked
  }
}

/** Counts the restored tables the way the backup counted the source, and lists every difference. */
async function compareCounts(client: SqlClient, tables: TableCount[]): Promise<TableResult[]> {
  const { rows } = await client.query<TableRef>(
    "SELECT n.nspname AS schema, c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r'"
  )
  const key = (t: TableRef) => `${t.schema}.${t.table}`
  const present = new Set(rows.map(key))
  const restored = new Map(
    (
      await countRows(
        client,
        tables.filter(t => present.has(key(t)))
      )
    ).map(t => [key(t), t.rows])
  )
  return tables.map(t => ({ table: key(t), expected: t.rows, actual: restored.get(key(t)) ?? null })).filter(t => t.actual !== t.expected)
}

/** Each reason a proof fails, for the error message. */
export function proofFailures(proof: Proof): string[] {
  const reasons = proof.mismatches.map(m =>
    m.actual === null ? `table ${m.table} is missing` : `${m.table} has ${m.actual} rows, the backup had ${m.expected}`
  )
  return [...reasons, ...(proof.facts?.failures ?? [])]
}

/** Unexpected restore errors as reasons, the entry each came from first. */
export function errorReasons(errors: RestoreError[]): string[] {
  const reasons = errors.slice(0, 5).map(e => `restore error${e.entry ? ` in ${e.entry}` : ''}: ${e.message}`)
  return errors.length > 5 ? [...reasons, `…and ${errors.length - 5} more restore errors`] : reasons
}

/** The first 20 reasons, joined for an error message. */
export const listReasons = (reasons: string[]): string => reasons.slice(0, 20).join('; ') + (reasons.length > 20 ? `; …and ${reasons.length - 20} more` : '')
