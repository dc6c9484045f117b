import type { FilesDrill } from '../model/drill-report.js'
import type { FilesManifest } from '../model/files-manifest.js'
import { formatBytes, formatSeconds, table } from './format.js'

/** Files and bytes per bucket, how many were new (stored by this backup) and how many reused. */
export function filesSummary(manifest: FilesManifest, seconds: number): string {
  const rows = manifest.buckets.map(b => [b.bucket, b.files, formatBytes(b.bytes), `${b.newFiles} (${formatBytes(b.newBytes)})`, b.files - b.newFiles])
  const all = manifest.buckets.reduce(
    (t, b) => ({ files: t.files + b.files, bytes: t.bytes + b.bytes, newFiles: t.newFiles + b.newFiles, newBytes: t.newBytes + b.newBytes }),
    {
      files: 0,
      bytes: 0,
      newFiles: 0,
      newBytes: 0
    }
  )
  rows.push(['**all**', all.files, formatBytes(all.bytes), `${all.newFiles} (${formatBytes(all.newBytes)})`, all.files - all.newFiles])
  return [
    `### Files snapshot ${manifest.id}`,
    '',
    `From ${manifest.source.endpoint ?? 'AWS S3'} in ${formatSeconds(seconds)}${manifest.encryption ? ', contents encrypted' : ''}.`,
    '',
    table(['Bucket', 'Files', 'Bytes', 'New (stored now)', 'Reused'], rows),
    ''
  ].join('\n')
}

/** What a drill proved about a files snapshot. */
export function filesDrillSummary(id: string, drill: FilesDrill): string {
  const rows: Array<Array<string | number>> = [
    ['Files checked', drill.sample ? `${drill.checked} of ${drill.total} (a random sample: buckets-drill-sample)` : `${drill.checked} (every file)`],
    ['Hash mismatches or unreadable', drill.failures.length]
  ]
  if (drill.crossCheck) {
    rows.push(['storage.objects rows with no file in the snapshot', drill.crossCheck.notInSnapshot])
    rows.push(['Files in the snapshot with no storage.objects row', drill.crossCheck.notInDatabase])
  }
  const details = [...drill.failures.slice(0, 20), ...(drill.crossCheck?.examples ?? [])].map(line => `- ${line}`)
  return [`### Files of ${id}: ${drill.passed ? 'passed' : 'FAILED'}`, '', table(['', ''], rows), '', ...details, ''].join('\n')
}
