import { arrayOf, bool, num, optional, parseChecked, shape, str } from './validate.js'

/** `<set>/<id>.drill.json`: what a drill proved, read back by monitor. */

export interface TableResult {
  table: string
  expected: number
  actual: number | null
}

/** One error pg_restore or psql reported. */
export interface RestoreError {
  message: string
  /** The archive entry it came from ("POLICY public.todos p"), when pg_restore said. */
  entry?: string
  /** Why the error is harmless on the target, when it is. */
  expected?: string
}

export interface DrillReport {
  backupId: string
  name: string
  drilledAt: string
  restoreSeconds: number
  target: string
  tables: number
  rows: number
  mismatches: TableResult[]
  expectedErrors: RestoreError[]
  unexpectedErrors: RestoreError[]
  checkSql?: { ok: boolean; rows: number }
  /** The schema facts compared with the manifest's (absent for manifests that record none). */
  facts?: FactsResult
  /** What the target carried: supabase (its platform left as it was) or postgres. */
  platform?: 'supabase' | 'postgres'
  /** NOLOGIN roles made for referenced roles the target lacked. */
  standInRoles?: string[]
  /** The backup's files snapshot, when it has one. */
  files?: FilesDrill
  passed: boolean
}

export interface FilesDrill {
  total: number
  checked: number
  /** True when only a random sample was checked (buckets-drill-sample). */
  sample: boolean
  /** "bucket/key: problem" for each file whose content is missing, unreadable or not the snapshot's. */
  failures: string[]
  /** storage.objects rows of the snapshot's buckets with no file in the snapshot, and the reverse (a few examples of each). */
  crossCheck?: { notInSnapshot: number; notInDatabase: number; examples: string[] }
  passed: boolean
}

export interface FactsResult {
  checked: number
  /** Each object missing or different ("policy public.todos.p is missing"). */
  failures: string[]
  /** Differences that are the platform's: what the target legitimately lacks or keeps its own way. */
  platform: string[]
}

const restoreError = shape({ message: str, entry: optional(str), expected: optional(str) })
const DRILL_REPORT_SHAPE = shape({
  backupId: str,
  name: str,
  drilledAt: str,
  restoreSeconds: num,
  target: str,
  tables: num,
  rows: num,
  mismatches: arrayOf(shape({ table: str, expected: num, actual: optional(num) })),
  expectedErrors: arrayOf(restoreError),
  unexpectedErrors: arrayOf(restoreError),
  checkSql: optional(shape({ ok: bool, rows: num })),
  facts: optional(shape({ checked: num, failures: arrayOf(str), platform: arrayOf(str) })),
  platform: optional(str),
  standInRoles: optional(arrayOf(str)),
  files: optional(
    shape({
      total: num,
      checked: num,
      sample: bool,
      failures: arrayOf(str),
      crossCheck: optional(shape({ notInSnapshot: num, notInDatabase: num, examples: arrayOf(str) })),
      passed: bool
    })
  ),
  passed: bool
})

export function parseDrillReport(text: string, source: string): DrillReport {
  return parseChecked<DrillReport>(text, source, DRILL_REPORT_SHAPE)
}
