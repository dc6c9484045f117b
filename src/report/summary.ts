import { checkStatus, type Check } from '../catalog/checks.js'
import { dataObject } from '../catalog/manifest.js'
import { type CatalogFacts, type Manifest } from '../model/manifest.js'
import type { ClientUsed, DrillReport, FactsResult, RestoreError, TableResult } from '../model/drill-report.js'
import type { ClientSource } from '../model/vocabulary.js'
import { formatBytes, formatSeconds, table } from './format.js'

const TOP_TABLES = 10

export function backupSummary(
  manifest: Manifest,
  locations: string[],
  durationSeconds: number,
  exports: Array<{ name: string; rows: number; location: string }> = []
): string {
  const data = dataObject(manifest)
  const largest = [...manifest.tables].sort((a, b) => b.rows - a.rows).slice(0, TOP_TABLES)
  const totalRows = manifest.tables.reduce((sum, t) => sum + t.rows, 0)
  const catalog = manifest.schemaFacts?.catalog
  return [
    `## Backup ${manifest.id}`,
    '',
    table(
      ['', ''],
      [
        ['Database', `${manifest.database.name} (PostgreSQL ${manifest.database.serverVersion}${isSupabaseSource(catalog) ? ', a Supabase project' : ''})`],
        ['Client', clientLine('pg_dump', manifest.tools.pgDump, manifest.tools.client)],
        ['Set / kind', `${manifest.name} / ${manifest.kind}`],
        ...tagsRow(manifest),
        [
          'Size',
          `${formatBytes(data.size)} (${manifest.format}, ${manifest.compression.algorithm}${manifest.encryption ? (manifest.encryption.algorithm === 'age-x25519' ? ', encrypted to age public keys' : ', encrypted') : ''})`
        ],
        ['Time', formatSeconds(durationSeconds)],
        ['Tables / rows', `${manifest.tables.length} / ${totalRows.toLocaleString('en-US')}`],
        ...(catalog
          ? [
              [
                'Schema facts',
                `${catalog.policies.length} policies, ${catalog.grants.length} grants, ${catalog.triggers.length} triggers, ${catalog.functions.length} functions, ${catalog.indexes.length} indexes, ${catalog.constraints.length} constraints`
              ]
            ]
          : []),
        ['SHA-256', `\`${data.sha256}\``],
        ['Stored at', locations.map(l => `\`${l}\``).join('<br>')]
      ]
    ),
    '',
    largest.length > 0
      ? `### Largest tables\n\n${table(
          ['Table', 'Rows'],
          largest.map(t => [`${t.schema}.${t.table}`, t.rows.toLocaleString('en-US')])
        )}`
      : '',
    exports.length > 0
      ? `\n### CSV exports (same snapshot as the dump)\n\n${table(
          ['Export', 'Rows', 'Stored at'],
          exports.map(e => [e.name, e.rows.toLocaleString('en-US'), `\`${e.location}\``])
        )}`
      : '',
    ''
  ].join('\n')
}

const CLIENT_ORIGIN = { found: 'found on the runner', cached: 'cached by an earlier run', installed: 'installed by this run' }

/** "pg_dump 17.2, installed by this run (/opt/hostedtoolcache/…/bin)". */
export function clientLine(tool: string, version: string, client?: { source: ClientSource; dir: string }): string {
  return client ? `${tool} ${version}, ${CLIENT_ORIGIN[client.source]} (\`${client.dir}\`)` : `${tool} ${version}`
}

/** A dump of a Supabase project holds the platform's auth.users and storage.objects. */
const isSupabaseSource = (catalog: CatalogFacts | undefined): boolean =>
  ['auth.users', 'storage.objects'].every(name => catalog?.tables.some(t => t.name === name))

export function checksTable(checks: Check[]): string {
  return table(
    ['Check', 'Result', 'Detail'],
    checks.map(c => [c.name, { pass: '✅ pass', warn: '⚠️ warn', fail: '❌ fail' }[checkStatus(c)], c.detail])
  )
}

export function verifySummary(manifest: Manifest, checks: Check[]): string {
  const ok = checks.every(c => c.ok)
  const tags = manifest.tags?.length ? `Tags: ${formatTags(manifest.tags)}\n\n` : ''
  return `## Verify ${manifest.id}: ${ok ? 'passed' : 'FAILED'}\n\n${tags}${checksTable(checks)}\n`
}

export function formatTags(tags: string[]): string {
  return tags.map(t => `\`${t}\``).join(', ')
}

function tagsRow(manifest: Manifest): string[][] {
  return manifest.tags?.length ? [['Tags', formatTags(manifest.tags)]] : []
}

export function drillSummary(report: DrillReport): string {
  const rows: Array<Array<string | number>> = [
    ['Backup', report.backupId],
    ['Restored into', `${report.target}${report.platform === 'supabase' ? ' (Supabase project: its platform left as it was)' : ''}`],
    ['Restore time', formatSeconds(report.restoreSeconds)],
    ['Tables checked', `${report.tables} (${report.rows.toLocaleString('en-US')} rows)`],
    ['Row count mismatches', report.mismatches.length]
  ]
  if (report.client) rows.push(['Client', clientLine(report.client.tool, report.client.version, report.client)])
  if (report.facts) rows.push(['Schema facts checked', `${report.facts.checked}, ${report.facts.failures.length} missing or different`])
  if (report.standInRoles?.length) rows.push(['Stand-in roles made (NOLOGIN)', report.standInRoles.join(', ')])
  rows.push(['Expected restore errors', expectedByKind(report.expectedErrors)], ['Unexpected restore errors', report.unexpectedErrors.length])
  if (report.checkSql)
    rows.push([
      'check-sql',
      report.checkSql.error ? `failed: ${report.checkSql.error}` : report.checkSql.ok ? 'no rows (pass)' : `${report.checkSql.rows} row(s) (fail)`
    ])
  const mismatches = report.mismatches.length
    ? `\n### Mismatches\n\n${table(
        ['Table', 'In backup', 'Restored'],
        report.mismatches.map(m => [m.table, m.expected, m.actual ?? 'missing'])
      )}\n`
    : ''
  return `## Restore drill ${report.passed ? 'passed ✅' : 'FAILED ❌'}\n\n${table(['', ''], rows)}\n${mismatches}${factsDetails(report.facts)}`
}

/** Expected errors counted by kind: "12: 9 ownership by a platform role, 3 privileges on a platform object". */
export function expectedByKind(errors: RestoreError[]): string {
  const counts = new Map<string, number>()
  for (const e of errors) counts.set(e.expected ?? '', (counts.get(e.expected ?? '') ?? 0) + 1)
  return errors.length === 0 ? '0' : `${errors.length}: ${[...counts].map(([kind, n]) => `${n} ${kind}`).join(', ')}`
}

function factsDetails(facts: FactsResult | undefined): string {
  const list = (title: string, items: string[]) =>
    items.length
      ? `\n<details><summary>${title} (${items.length})</summary>\n\n${items
          .slice(0, 100)
          .map(i => `- ${i}`)
          .join('\n')}\n</details>\n`
      : ''
  return facts ? list('Missing or different', facts.failures) + list("The platform's (not failures)", facts.platform) : ''
}

/** What a restore did, for its summary and outputs. */
export interface RestoreResult {
  manifest: Manifest
  target: string
  restoreSeconds: number
  safetyBackupId?: string
  errors: RestoreError[]
  /** Restored tables whose rows differ from the backup's counts. */
  mismatches: TableResult[]
  facts?: FactsResult
  platform: 'supabase' | 'postgres'
  standInRoles: string[]
  /** Privileges the target's default privileges had added, revoked so they end as in the source. */
  revoked: string[]
  client: ClientUsed
}

export function restoreSummary(result: RestoreResult, tables: string[]): string {
  const expected = result.errors.filter(e => e.expected)
  const unexpected = result.errors.length - expected.length
  const failed = unexpected > 0 || result.mismatches.length > 0 || (result.facts?.failures.length ?? 0) > 0
  const rows: Array<Array<string | number>> = [
    ['Backup', `${result.manifest.id} (${result.manifest.name}, taken ${result.manifest.startedAt})`],
    ['Restored into', `${result.target}${result.platform === 'supabase' ? ' (Supabase project: its platform left as it was)' : ''}`],
    ['What', tables.length > 0 ? `rows of ${tables.join(', ')}` : 'the whole backup'],
    ['Restore time', formatSeconds(result.restoreSeconds)],
    ['Client', clientLine(result.client.tool, result.client.version, result.client)],
    ['Safety snapshot', result.safetyBackupId ?? 'none (safety-snapshot: false)'],
    ['Row count mismatches', result.mismatches.length]
  ]
  if (result.facts) rows.push(['Schema facts checked', `${result.facts.checked}, ${result.facts.failures.length} missing or different`])
  if (result.standInRoles.length) rows.push(['Stand-in roles made (NOLOGIN)', result.standInRoles.join(', ')])
  if (result.revoked.length) rows.push(["Revoked (the target's default privileges)", result.revoked.join('; ')])
  rows.push(['Errors', `${unexpected} unexpected, expected ${expectedByKind(expected)}`])
  return `## Restore of ${result.manifest.id} ${failed ? 'FAILED ❌' : 'done ✅'}\n\n${table(['', ''], rows)}\n${factsDetails(result.facts)}`
}
