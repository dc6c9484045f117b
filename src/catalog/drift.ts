import type { BackupKind } from '../model/vocabulary.js'
import type { CatalogFacts, Manifest } from '../model/manifest.js'
import { diffFacts, FACT_NOUN, type FactCategory } from './facts-diff.js'

/** The roles Supabase's API (PostgREST) runs queries as: a grant or policy they lose changes what the app can do. */
export const API_ROLES = ['anon', 'authenticated', 'service_role']

export interface DriftChange {
  category: FactCategory
  change: 'added' | 'removed' | 'changed'
  name: string
  /** For a change: each attribute as `field: before → after`. */
  detail?: string
}

/** What changed in the schema between an earlier backup and this one: the job summary's section and the `drift` output. */
export interface Drift {
  since: { id: string; kind: BackupKind; startedAt: string }
  changes: DriftChange[]
  /** Changes that lose protection or access: dropped RLS policies, RLS turned off, grants to API roles taken away. */
  alerts: string[]
  /** Set when the two backups were made with different filters, so they hold different objects. */
  note?: string
}

/**
 * The backup a new one is compared with: the newest earlier scheduled backup (so a pre-deploy
 * snapshot shows what changed since the last scheduled one), else the newest earlier backup.
 */
export function driftBaseline<T extends { id: string; kind?: BackupKind; complete: boolean }>(current: string, newestFirst: T[]): T | undefined {
  // By position, not by id: ids resolve to the second, the listing also orders by write time.
  const earlier = newestFirst.slice(newestFirst.findIndex(b => b.id === current) + 1).filter(b => b.complete && b.kind !== 'pre-restore')
  return earlier.find(b => b.kind === 'scheduled') ?? earlier[0]
}

/**
 * Compares the schema facts two manifests recorded (pure). Sequence values and large objects
 * are data, not schema: left out.
 */
export function driftBetween(before: Manifest, after: Manifest): Drift | undefined {
  const old = before.schemaFacts?.catalog
  const now = after.schemaFacts?.catalog
  if (!old || !now) return undefined
  const changes: DriftChange[] = diffFacts(old, now)
    .filter((d): d is typeof d & { category: FactCategory } => d.category !== 'largeObjects' && !(d.category === 'sequences' && d.change === 'changed'))
    .map(d => ({
      category: d.category,
      change: d.change === 'missing' ? 'removed' : d.change === 'extra' ? 'added' : 'changed',
      name: d.name,
      detail: d.detail
    }))
  const sameFilters = JSON.stringify(before.filters) === JSON.stringify(after.filters)
  return {
    since: { id: before.id, kind: before.kind, startedAt: before.startedAt },
    changes,
    alerts: alerts(old, now),
    ...(sameFilters ? {} : { note: `${before.id} was made with other filters (schemas, tables): objects in only one of them show as added or removed` })
  }
}

function alerts(old: CatalogFacts, now: CatalogFacts): string[] {
  const out: string[] = []
  const policies = new Set(now.policies.map(p => p.name))
  for (const p of old.policies) if (!policies.has(p.name)) out.push(`RLS policy ${p.name} was dropped`)
  const tables = new Map(now.tables.map(t => [t.name, t]))
  for (const t of old.tables) if (t.rls && tables.get(t.name)?.rls === false) out.push(`row level security was disabled on ${t.name}`)
  const grants = new Map(now.grants.map(g => [g.name, g]))
  for (const g of old.grants.filter(g => API_ROLES.includes(g.role))) {
    const lost = g.privileges.filter(p => !(grants.get(g.name)?.privileges ?? []).includes(p))
    if (lost.length > 0) out.push(`${lost.join(', ')} on ${g.object} was revoked from ${g.role}`)
  }
  return out
}

/** The job summary's section: one row per change, alerts first. */
export function driftMarkdown(drift: Drift): string {
  const since = `${drift.since.id} (${drift.since.kind}, ${drift.since.startedAt})`
  if (drift.changes.length === 0) return `### Schema: no changes since ${since}\n`
  const rows = drift.changes.map(c => {
    const sign = c.change === 'added' ? '➕ added' : c.change === 'removed' ? '➖ removed' : '✏️ changed'
    return `| ${sign} | ${FACT_NOUN[c.category]} | \`${c.name.replace(/\|/g, '\\|')}\` | ${(c.detail ?? '').replace(/\|/g, '\\|')} |`
  })
  return [
    `### Schema changed since ${since}`,
    '',
    ...drift.alerts.map(a => `> [!WARNING]\n> ${a}\n`),
    ...(drift.note ? [`_${drift.note}_`, ''] : []),
    '| Change | Kind | Object | Detail |',
    '|---|---|---|---|',
    ...rows,
    ''
  ].join('\n')
}
