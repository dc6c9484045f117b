import type { Check } from '../catalog/checks.js'
import type { Manifest } from '../catalog/manifest.js'
import { formatBytes, formatSeconds, table } from './format.js'

const TOP_TABLES = 10

export function backupSummary(manifest: Manifest, locations: string[], durationSeconds: number): string {
  const data = manifest.objects[0]
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
    largest.length > 0 ? `### Largest tables\n\n${table(['Table', 'Rows'], largest.map(t => [`${t.schema}.${t.table}`, t.rows.toLocaleString('en-US')]))}` : '',
    ''
  ].join('\n')
}

export function checksTable(checks: Check[]): string {
  return table(['Check', 'Result', 'Detail'], checks.map(c => [c.name, c.ok ? '✅ pass' : '❌ fail', c.detail]))
}

export function verifySummary(manifest: Manifest, checks: Check[]): string {
  const ok = checks.every(c => c.ok)
  return `## Verify ${manifest.id}: ${ok ? 'passed' : 'FAILED'}\n\n${checksTable(checks)}\n`
}
