import type { Manifest } from '../model/manifest.js'
import { count, isFor, tableData, type TocEntry } from '../postgres/toc.js'

/** One line of a verify or drill report. */
export interface Check {
  name: string
  ok: boolean
  detail: string
  /** Passed, but close to a limit (e.g. storage at 80% of its quota): worth telling people. */
  warn?: boolean
}

export const checkStatus = (c: Check): 'pass' | 'warn' | 'fail' => (!c.ok ? 'fail' : c.warn ? 'warn' : 'pass')

const qualified = (t: { schema: string; table: string }) => `${t.schema}.${t.table}`

/** Compares an archive's table of contents with what the manifest says was dumped (pure). */
export function tocChecks(manifest: Manifest, toc: TocEntry[], criticalTables: string[]): Check[] {
  const checks: Check[] = []
  if (manifest.scope !== 'schema') {
    const missing = manifest.tables.filter(t => !tableData(toc, t, manifest.tables)).map(qualified)
    checks.push({
      name: 'tables',
      ok: missing.length === 0,
      detail: missing.length === 0 ? `all ${manifest.tables.length} tables have data entries` : `missing from the archive: ${missing.join(', ')}`
    })
  }
  if (criticalTables.length > 0) {
    const problems = criticalTables.flatMap(name => {
      const full = name.includes('.') ? name : `public.${name}`
      const counted = manifest.tables.find(t => qualified(t) === full)
      if (!counted || !tableData(toc, counted, manifest.tables)) return [`${full} is not in the backup`]
      return counted.rows > 0 ? [] : [`${full} had no rows`]
    })
    checks.push({
      name: 'critical tables',
      ok: problems.length === 0,
      detail: problems.length === 0 ? `${criticalTables.join(', ')} present with rows` : problems.join('; ')
    })
  }
  if (manifest.largeObjects !== undefined) {
    // One BLOB (later LARGE OBJECT) entry each; pg_dump 17 groups them into BLOB METADATA entries (up to 1000 each).
    const listed = count(toc, 'BLOB', 'LARGE OBJECT')
    const grouped = count(toc, 'BLOB METADATA') > 0
    const data = count(toc, 'BLOBS') > 0
    const ok = manifest.largeObjects === 0 || (data && (grouped || listed === manifest.largeObjects))
    checks.push({
      name: 'large objects',
      ok,
      detail: `${grouped ? 'large objects' : `${listed} of ${manifest.largeObjects} large objects`}${data ? ' with their data' : ''} in the archive`
    })
  }
  const facts = manifest.schemaFacts
  if (facts && manifest.scope !== 'data') {
    const rls = toc.filter(e => e.desc === 'ROW SECURITY')
    // rlsTables holds "schema.table"; either name may hold dots itself, so try every split.
    const hasRls = (name: string) => [...name.matchAll(/\./g)].some(dot => rls.some(e => isFor(e, name.slice(0, dot.index), name.slice((dot.index ?? 0) + 1))))
    const lostRls = facts.rlsTables.filter(t => !hasRls(t))
    const policies = count(toc, 'POLICY')
    checks.push({
      name: 'row level security',
      ok: lostRls.length === 0 && policies === facts.policies,
      detail: `${rls.length} table(s) with RLS, ${policies} of ${facts.policies} policies${lostRls.length ? `; RLS missing on ${lostRls.join(', ')}` : ''}`
    })
    const indexes = count(toc, 'INDEX')
    const constraints = count(toc, 'CONSTRAINT', 'FK CONSTRAINT')
    checks.push({
      name: 'indexes and constraints',
      ok: indexes === facts.indexes && constraints === facts.constraints,
      detail: `${indexes} of ${facts.indexes} indexes, ${constraints} of ${facts.constraints} constraints`
    })
  }
  return checks
}

/** Flags a backup much larger or smaller than the median of the set's earlier ones (pure). */
export function sizeCheck(size: number, previousSizes: number[], maxChangePercent: number): Check {
  if (size < 512) return { name: 'size', ok: false, detail: `only ${size} bytes: the dump is empty or nearly so` }
  if (previousSizes.length === 0) return { name: 'size', ok: true, detail: `${size} bytes (no earlier backup to compare)` }
  const sorted = [...previousSizes].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  const change = ((size - median) / median) * 100
  return {
    name: 'size',
    ok: Math.abs(change) <= maxChangePercent,
    detail: `${size} bytes, ${change >= 0 ? '+' : ''}${change.toFixed(1)}% against the median of ${sorted.length} earlier backup(s) (limit ±${maxChangePercent}%)`
  }
}

/**
 * The row-drop drift guard (pure): a table of the previous backup that disappeared, or lost more
 * than `maxDropPercent` of its rows, in the newest. Both manifests hold exact counts taken in
 * each dump's own snapshot, so no database is needed. Backups with different filters or a
 * schema-only scope are not comparable and pass with a note.
 */
export function rowDropCheck(newest: Manifest, previous: Manifest | undefined, maxDropPercent: number): Check {
  const name = 'row counts'
  if (!previous) return { name, ok: true, detail: 'no earlier backup to compare with' }
  if (newest.scope === 'schema' || previous.scope === 'schema') return { name, ok: true, detail: 'schema-only backups hold no rows' }
  if (JSON.stringify(newest.filters) !== JSON.stringify(previous.filters)) {
    return { name, ok: true, detail: `not compared: ${previous.id} was dumped with other schema/table filters` }
  }
  const now = new Map(newest.tables.map(t => [qualified(t), t.rows]))
  const problems = previous.tables.flatMap(t => {
    const rows = now.get(qualified(t))
    if (rows === undefined) return [`${qualified(t)} disappeared (had ${t.rows} rows)`]
    const drop = t.rows > 0 ? ((t.rows - rows) / t.rows) * 100 : 0
    return drop > maxDropPercent ? [`${qualified(t)} lost ${drop.toFixed(1)}% of its rows (${t.rows} → ${rows})`] : []
  })
  return {
    name,
    ok: problems.length === 0,
    detail:
      problems.length > 0
        ? `since ${previous.id}: ${problems.join('; ')} (limit ${maxDropPercent}%)`
        : `${previous.tables.length} table(s) of ${previous.id} present, none lost more than ${maxDropPercent}% of its rows`
  }
}
