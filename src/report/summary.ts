import type { Check } from '../catalog/checks.js'
import { dataObject } from '../catalog/manifest.js'
import { type Manifest } from '../model/manifest.js'
import type { DrillReport, RestoreError } from '../model/drill-report.js'
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
  return [
    `## Backup ${manifest.id}`,
    '',
    table(
      ['', ''],
      [
        ['Database', `${manifest.database.name} (PostgreSQL ${manifest.database.serverVersion})`],
        ['Set / kind', `${manifest.name} / ${manifest.kind}`],
        ['Size', `${formatBytes(data.size)} (${manifest.format}, ${manifest.compression.algorithm}${manifest.encryption ? ', encrypted' : ''})`],
        ['Time', formatSeconds(durationSeconds)],
        ['Tables / rows', `${manifest.tables.length} / ${totalRows.toLocaleString('en-US')}`],
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

export function checksTable(checks: Check[]): string {
  return table(
    ['Check', 'Result', 'Detail'],
    checks.map(c => [c.name, c.ok ? '✅ pass' : '❌ fail', c.detail])
  )
}

export function verifySummary(manifest: Manifest, checks: Check[]): string {
  const ok = checks.every(c => c.ok)
  return `## Verify ${manifest.id}: ${ok ? 'passed' : 'FAILED'}\n\n${checksTable(checks)}\n`
}

export function drillSummary(report: DrillReport): string {
  const rows: Array<Array<string | number>> = [
    ['Backup', report.backupId],
    ['Restored into', report.target],
    ['Restore time', formatSeconds(report.restoreSeconds)],
    ['Tables checked', `${report.tables} (${report.rows.toLocaleString('en-US')} rows)`],
    ['Row count mismatches', report.mismatches.length],
    ['Expected restore errors', report.expectedErrors.length],
    ['Unexpected restore errors', report.unexpectedErrors.length]
  ]
  if (report.checkSql) rows.push(['check-sql', report.checkSql.ok ? 'no rows (pass)' : `${report.checkSql.rows} row(s) (fail)`])
  const mismatches = report.mismatches.length
    ? `\n### Mismatches\n\n${table(
        ['Table', 'In backup', 'Restored'],
        report.mismatches.map(m => [m.table, m.expected, m.actual ?? 'missing'])
      )}\n`
    : ''
  const expected = report.expectedErrors.length
    ? `\n<details><summary>Expected errors (${report.expectedErrors.length})</summary>\n\n${table(
        ['Why expected', 'Error'],
        report.expectedErrors.slice(0, 50).map(e => [e.expected ?? '', e.message])
      )}\n</details>\n`
    : ''
  return `## Restore drill ${report.passed ? 'passed ✅' : 'FAILED ❌'}\n\n${table(['', ''], rows)}\n${mismatches}${expected}`
}

/** What a restore did, for its summary and outputs. */
export interface RestoreResult {
  manifest: Manifest
  target: string
  restoreSeconds: number
  safetyBackupId?: string
  errors: RestoreError[]
}

export function restoreSummary(result: RestoreResult, tables: string[]): string {
  const expected = result.errors.filter(e => e.expected).length
  const unexpected = result.errors.length - expected
  return `## Restore of ${result.manifest.id} ${unexpected === 0 ? 'done ✅' : 'FAILED ❌'}\n\n${table(
    ['', ''],
    [
      ['Backup', `${result.manifest.id} (${result.manifest.name}, taken ${result.manifest.startedAt})`],
      ['Restored into', result.target],
      ['What', tables.length > 0 ? `rows of ${tables.join(', ')}` : 'the whole backup'],
      ['Restore time', formatSeconds(result.restoreSeconds)],
      ['Safety snapshot', result.safetyBackupId ?? 'none (safety-snapshot: false)'],
      ['Errors', `${unexpected} unexpected, ${expected} expected`]
    ]
  )}\n`
}
