import { isAbsolute, normalize } from 'node:path'
import { InputError } from './errors.js'
import { queryTextProblem } from './postgres/query-text.js'
import type { Host } from './host.js'
import {
  BACKUP_KINDS,
  COMMANDS,
  COMPRESSIONS,
  FORMATS,
  SCHEMA_COMMIT_MODES,
  TARGET_PLATFORMS,
  SCOPES,
  STORAGE_KINDS,
  type BackupKind,
  type BucketsEndpoint,
  type Command,
  type Compression,
  type ExportQuery,
  type Format,
  type TargetPlatform,
  type S3Settings,
  type SchemaCommitMode,
  type Scope,
  type StorageKind
} from './model/vocabulary.js'
import type { PostgresVersion } from './postgres/client-choice.js'
import { parseIdentities, parseRecipients } from './pipeline/age.js'
import { durationMs, parseDuration, type CalendarDuration, type DurationOptions } from './catalog/duration.js'
import { hasKeepRule, UNLIMITED, type RetentionPolicy } from './catalog/retention.js'
import { checkTimeZone } from './catalog/timezone.js'
import { isProjectRef, parseRestoreTime } from './supabase/platform.js'

export interface Settings {
  command: Command
  databaseUrl: string
  name?: string
  storage: StorageKind[]
  path: string
  s3?: S3Settings
  artifactRetentionDays?: number
  encryptionPassphrase?: string
  /** age X25519 recipients (`age1…`): encrypt to these public keys instead of a passphrase. */
  encryptionPublicKeys: string[]
  /** age private keys (`AGE-SECRET-KEY-1…`) for the commands that read contents. */
  encryptionPrivateKeys: string[]
  pgBinDir?: string
  postgresVersion: PostgresVersion
  format: Format
  scope: Scope
  schemas: string[]
  excludeSchemas: string[]
  tables: string[]
  excludeTables: string[]
  largeObjects: boolean
  lockTimeoutMs: number
  roles: boolean
  compression: Compression
  compressionLevel?: number
  kind: BackupKind
  pin: boolean
  verify: boolean
  prune: boolean
  criticalTables: string[]
  maxSizeChange: number
  /** The `backup` input: an id or "latest". */
  backupRef: string
  targetDatabaseUrl: string
  confirm: string
  jobs: number
  checkSql: string
  /** backup: tags recorded in the manifest, for keep-tag */
  tags: string[]
  retention: RetentionPolicy
  /** IANA zone whose clock defines retention's hours, days, weeks, months and years */
  retentionTimeZone: string
  dryRun: boolean
  maxAge: CalendarDuration
  maxDrillAge?: CalendarDuration
  maxRowDrop: number
  storageQuotaBytes?: number
  safetySnapshot: boolean
  clean: boolean
  notify: NotifySettings
  /** command: schema — the file (relative to the workspace), and how a change is committed. */
  schemaFile: string
  schemaCommit: SchemaCommitMode
  schemaBranch?: string
  githubToken: string
  /** backup: named queries stored as CSV, and where (default: with the dump). */
  exports: ExportQuery[]
  exportsName?: string
  exportsStorage?: StorageKind[]
  targetPlatform: TargetPlatform
  supabase: SupabaseSettings
  files: FilesSettings
}

/** Storage buckets: what to back up from where, and where a files restore writes. */
export interface FilesSettings {
  /** Bucket names, or ['*'] for every bucket; empty: no files. */
  buckets: string[]
  only: boolean
  source: BucketsEndpoint
  jobs: number
  drillSample: number
  /** '' (restore the database), 's3://', 's3://bucket[/prefix]' or a folder. */
  restoreTo: string
  restorePrefix: string
  restoreDeleteExtra: boolean
  restoreTarget: BucketsEndpoint
}

export const NOTIFY_ON = ['failure', 'always', 'never'] as const

/** Where a run reports its outcome (src/notify). Every URL and the token are secrets. */
export interface NotifySettings {
  slackWebhookUrl?: string
  webhookUrl?: string
  heartbeatUrl?: string
  /** When Slack and the webhook hear of a run; heartbeat and issue follow every run. */
  on: (typeof NOTIFY_ON)[number]
  /** One GitHub issue per backup set: opened on failure, closed by the next success. */
  issue: boolean
  githubToken?: string
}

/** The Management API inputs: Supabase's own backups and PITR. */
export interface SupabaseSettings {
  accessToken?: string
  /** Given, or derived from database-url when the command needs it. */
  projectRef?: string
  apiUrl: string
  requirePitr: boolean
  maxPlatformBackupAgeMs: number
  restoreTime?: Date
  restoreTimeoutMs: number
}

/** The inputs that make a retention policy: prune refuses to run without one of them. */
export const KEEP_INPUTS = [
  'keep-last',
  'keep-hourly',
  'keep-daily',
  'keep-weekly',
  'keep-monthly',
  'keep-yearly',
  'keep-within',
  'keep-within-hourly',
  'keep-within-daily',
  'keep-within-weekly',
  'keep-within-monthly',
  'keep-within-yearly',
  'keep-tag'
]

/** Reads every input once, validates it, and fails naming the input before any work starts. */
export function readSettings(host: Host): Settings {
  const get = (name: string): string => host.input(name).trim()
  const command = oneOf(get, 'command', COMMANDS, 'backup')
  const compression = oneOf(get, 'compression', COMPRESSIONS, 'zstd')
  const storage = readStorage(get)
  const exports = readExports(host.input('exports'))
  const exportsStorage = get('exports-storage') ? readStorage(get, 'exports-storage') : undefined
  const s3 = [...storage, ...(exportsStorage ?? [])].includes('s3') ? readS3(get) : undefined

  const settings: Settings = {
    command,
    databaseUrl: get('database-url'),
    name: readName(get),
    storage,
    path: get('path') || 'backups',
    s3,
    artifactRetentionDays: optionalInt(get, 'artifact-retention-days', 1, 90),
    encryptionPassphrase: host.input('encryption-passphrase') || undefined,
    encryptionPublicKeys: ageKeys('encryption-public-keys', () => parseRecipients(host.input('encryption-public-keys'))),
    encryptionPrivateKeys: ageKeys('encryption-private-key', () => parseIdentities(host.input('encryption-private-key'))),
    pgBinDir: get('pg-bin-dir') || undefined,
    postgresVersion: readPostgresVersion(get),
    format: oneOf(get, 'format', FORMATS, 'custom'),
    scope: oneOf(get, 'scope', SCOPES, 'full'),
    schemas: list(get('schemas')),
    excludeSchemas: list(get('exclude-schemas')),
    tables: list(get('tables')),
    excludeTables: list(get('exclude-tables')),
    largeObjects: bool(get, 'large-objects', true),
    lockTimeoutMs: elapsedMs(get, 'lock-timeout', '5min'),
    roles: bool(get, 'roles', false),
    compression,
    compressionLevel: readLevel(get, compression),
    kind: readKind(get, host.env, command),
    pin: bool(get, 'pin', false),
    verify: bool(get, 'verify', true),
    prune: bool(get, 'prune', false),
    criticalTables: list(get('critical-tables')),
    maxSizeChange: optionalInt(get, 'max-size-change', 0, 100000) ?? 50,
    backupRef: get('backup') || 'latest',
    targetDatabaseUrl: get('target-database-url'),
    confirm: get('confirm'),
    jobs: optionalInt(get, 'jobs', 1, 64) ?? 2,
    checkSql: host.input('check-sql').trim(),
    tags: readTags('tags', list(get('tags'))),
    retention: readRetention(get),
    retentionTimeZone: readTimeZone(get),
    dryRun: bool(get, 'dry-run', false),
    maxAge: optionalDuration(get, 'max-age', { allowMinutes: true }) ?? parseDuration('26h'),
    maxDrillAge: optionalDuration(get, 'max-drill-age', { allowMinutes: true }),
    maxRowDrop: optionalInt(get, 'max-row-drop', 0, 100) ?? 50,
    storageQuotaBytes: optionalBytes(get, 'storage-quota'),
    safetySnapshot: bool(get, 'safety-snapshot', true),
    clean: bool(get, 'clean', false),
    notify: readNotifySettings(host),
    targetPlatform: oneOf(get, 'target-platform', TARGET_PLATFORMS, 'auto'),
    supabase: readSupabase(get, host.input('supabase-access-token').trim(), command),
    files: readFiles(get),
    schemaFile: readSchemaFile(get),
    schemaCommit: oneOf(get, 'schema-commit', SCHEMA_COMMIT_MODES, 'none'),
    schemaBranch: readBranch(get),
    githubToken: host.input('github-token').trim(),
    exports,
    exportsName: readName(get, 'exports-name'),
    exportsStorage
  }
  if (settings.schemaCommit === 'pull-request' && !settings.githubToken) {
    throw new InputError(
      'github-token',
      'is required with schema-commit: pull-request; pass ${{ github.token }} (with permissions contents: write and pull-requests: write)'
    )
  }
  for (const input of ['exports-name', 'exports-storage']) {
    if (get(input) && exports.length === 0) throw new InputError(input, 'has no meaning without exports')
  }
  if (settings.encryptionPassphrase && /[\r\n]/.test(settings.encryptionPassphrase)) {
    throw new InputError('encryption-passphrase', 'must be a single line (gpg reads the passphrase up to the first newline)')
  }
  if (settings.encryptionPassphrase && settings.encryptionPublicKeys.length > 0) {
    throw new InputError(
      'encryption-public-keys',
      'cannot be combined with encryption-passphrase: choose one encryption mode (public keys need no secret on the runner; a passphrase opens every backup)'
    )
  }
  if (settings.clean && settings.tables.length > 0 && command === 'restore') {
    throw new InputError('clean', "cannot be combined with tables: a table restore replaces only those tables' rows")
  }
  if (settings.prune && !storage.some(kind => kind !== 'artifact')) {
    throw new InputError('prune', 'needs s3 or local storage: artifacts expire by artifact-retention-days instead')
  }
  // Caught here so that a backup with `prune: true` but no rule fails before dumping, not after.
  if (settings.prune && command === 'backup' && !hasKeepRule(settings.retention)) {
    throw new InputError('prune', `needs at least one keep rule: set ${KEEP_INPUTS.join(', ')}`)
  }
  if (command === 'prune' && !hasKeepRule(settings.retention)) {
    throw new InputError('command', `prune needs at least one keep rule: set ${KEEP_INPUTS.join(', ')}; nothing was deleted`)
  }
  if (settings.files.buckets.length > 0 && command === 'backup' && !storage.some(kind => kind !== 'artifact')) {
    throw new InputError('buckets', 'needs s3 or local storage: file contents are shared between backups, which artifacts cannot be')
  }
  if (settings.files.only && !settings.name) throw new InputError('name', 'is required with buckets-only (there is no database to name the set)')
  return settings
}

/** auto, or a major version (10 and later are one number). */
function readPostgresVersion(get: (name: string) => string): PostgresVersion {
  const value = get('postgres-version') || 'auto'
  if (value === 'auto') return 'auto'
  if (!/^\d+$/.test(value) || Number(value) < 10)
    throw new InputError('postgres-version', `should be auto or a major version such as 17, not ${JSON.stringify(value)}`)
  return Number(value)
}

function readFiles(get: (n: string) => string): FilesSettings {
  const buckets = list(get('buckets'))
  const bad = buckets.find(b => (b === '*' && buckets.length > 1) || (b !== '*' && !/^[^/\s*]{1,100}$/.test(b)))
  if (bad) throw new InputError('buckets', `"${bad}" is not a bucket name; list bucket names (comma- or newline-separated) or give * alone for every bucket`)
  const only = bool(get, 'buckets-only', false)
  if (only && buckets.length === 0) throw new InputError('buckets-only', 'needs buckets: the buckets to back up')
  const restoreTo = get('buckets-restore-to')
  if (restoreTo.startsWith('s3:') && !/^s3:\/\/([^/\s]+(\/[^\s]*)?)?$/.test(restoreTo)) {
    throw new InputError('buckets-restore-to', `"${restoreTo}" is not s3://, s3://<bucket> or s3://<bucket>/<prefix>`)
  }
  return {
    buckets,
    only,
    source: readEndpoint(get, 'buckets'),
    jobs: optionalInt(get, 'buckets-jobs', 1, 64) ?? 8,
    drillSample: optionalInt(get, 'buckets-drill-sample', 0, 100_000_000) ?? 0,
    restoreTo,
    restorePrefix: get('buckets-restore-prefix'),
    restoreDeleteExtra: bool(get, 'buckets-restore-delete-extra', false),
    restoreTarget: readEndpoint(get, 'buckets-restore')
  }
}

/** `<prefix>-s3-endpoint`, `-s3-region`, `-s3-force-path-style`, `-access-key-id`, `-secret-access-key`. */
function readEndpoint(get: (n: string) => string, prefix: string): BucketsEndpoint {
  const endpoint = get(`${prefix}-s3-endpoint`) || undefined
  if (endpoint && !/^https?:\/\/[^\s]+$/.test(endpoint)) {
    throw new InputError(`${prefix}-s3-endpoint`, `"${endpoint}" is not a URL; use e.g. https://<project-ref>.supabase.co/storage/v1/s3`)
  }
  const accessKeyId = get(`${prefix}-access-key-id`)
  const secretAccessKey = get(`${prefix}-secret-access-key`)
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) {
    const missing = accessKeyId ? `${prefix}-secret-access-key` : `${prefix}-access-key-id`
    throw new InputError(
      missing,
      `is required with ${accessKeyId ? `${prefix}-access-key-id` : `${prefix}-secret-access-key`} (give both, or neither to use the AWS credential chain)`
    )
  }
  return {
    endpoint,
    region: get(`${prefix}-s3-region`) || undefined,
    forcePathStyle: get(`${prefix}-s3-force-path-style`) ? bool(get, `${prefix}-s3-force-path-style`, false) : Boolean(endpoint),
    credentials: accessKeyId ? { accessKeyId, secretAccessKey } : undefined
  }
}

/** Splits a newline- or comma-separated list, dropping blanks. */
export function list(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map(item => item.trim())
    .filter(item => item.length > 0)
}

function ageKeys(name: string, parse: () => string[]): string[] {
  try {
    return parse()
  } catch (error) {
    throw new InputError(name, (error as Error).message)
  }
}

function oneOf<T extends string>(get: (n: string) => string, name: string, allowed: readonly T[], fallback: T): T {
  const value = get(name).toLowerCase()
  if (!value) return fallback
  if (!(allowed as readonly string[]).includes(value)) {
    throw new InputError(name, `"${value}" is not supported; use one of: ${allowed.join(', ')}`)
  }
  return value as T
}

function bool(get: (n: string) => string, name: string, fallback: boolean): boolean {
  const value = get(name).toLowerCase()
  if (!value) return fallback
  if (['true', 'yes', '1', 'on'].includes(value)) return true
  if (['false', 'no', '0', 'off'].includes(value)) return false
  throw new InputError(name, `"${value}" is not a boolean; use true or false`)
}

function optionalInt(get: (n: string) => string, name: string, min: number, max: number): number | undefined {
  const value = get(name)
  if (!value) return undefined
  if (!/^-?\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new InputError(name, `"${value}" is not a whole number from ${min} to ${max}`)
  }
  return Number(value)
}

/**
 * Read on its own before the other inputs (and again inside readSettings), so that a run whose
 * other inputs are wrong still tells people it failed.
 */
export function readNotifySettings(host: Host): NotifySettings {
  const get = (name: string): string => host.input(name).trim()
  const issue = bool(get, 'issue', false)
  const token = get('github-token')
  const notify: NotifySettings = {
    slackWebhookUrl: httpUrl(get, 'slack-webhook-url'),
    webhookUrl: httpUrl(get, 'webhook-url'),
    heartbeatUrl: httpUrl(get, 'heartbeat-url')?.replace(/\/+$/, ''),
    on: oneOf(get, 'notify-on', NOTIFY_ON, 'failure'),
    issue,
    // Kept only when used: action.yml fills it with the job's token on every run.
    githubToken: issue ? token || undefined : undefined
  }
  if (notify.issue && !notify.githubToken) throw new InputError('github-token', "is required with issue: true (the default is the job's github.token)")
  if (notify.issue && !host.env.GITHUB_REPOSITORY) throw new InputError('issue', 'needs GITHUB_REPOSITORY (it runs in GitHub Actions)')
  return notify
}

/** A URL input; its value is never echoed: these URLs are credentials. */
function httpUrl(get: (n: string) => string, name: string): string | undefined {
  const value = get(name)
  if (!value) return undefined
  if (!/^https?:\/\/[^\s/]+/.test(value)) throw new InputError(name, 'is not an http(s) URL (the value is not shown: it is a secret)')
  return value
}

const BYTE_UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 }

function optionalBytes(get: (n: string) => string, name: string): number | undefined {
  const value = get(name)
  if (!value) return undefined
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value)
  const unit = match ? BYTE_UNITS[(match[2] || 'b').toLowerCase()] : undefined
  if (!match || !unit || Number(match[1]) <= 0) {
    throw new InputError(name, `"${value}" is not a size; use a number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB, e.g. 50GiB`)
  }
  return Math.round(Number(match[1]) * unit)
}

/** Every duration input goes through the one grammar of catalog/duration.ts. */
function optionalDuration(get: (n: string) => string, name: string, options?: DurationOptions): CalendarDuration | undefined {
  const value = get(name)
  if (!value) return undefined
  try {
    return parseDuration(value, options)
  } catch (error) {
    throw new InputError(name, (error as Error).message)
  }
}

/** An age limit or timeout as milliseconds: the duration grammar with minutes, calendar units counted back from now. */
function elapsedMs(get: (n: string) => string, name: string, fallback: string): number {
  return durationMs(optionalDuration(get, name, { allowMinutes: true }) ?? parseDuration(fallback, { allowMinutes: true }), new Date())
}

/** A keep-* count: a whole number, or unlimited (also restic's -1) for "every unit". */
function optionalCount(get: (n: string) => string, name: string): number | undefined {
  const value = get(name).toLowerCase()
  if (!value) return undefined
  if (value === 'unlimited' || value === '-1') return UNLIMITED
  if (!/^\d+$/.test(value) || Number(value) > 100000) {
    throw new InputError(name, `"${value}" is not a whole number from 0 to 100000 or unlimited (also -1, as restic writes it)`)
  }
  return Number(value)
}

const TAG = /^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,99}$/

function readTags(name: string, tags: string[]): string[] {
  for (const tag of tags) {
    if (!TAG.test(tag)) {
      throw new InputError(name, `"${tag}" is not a tag: use up to 100 letters, digits and . _ : @ / + = - (starting with a letter or digit)`)
    }
  }
  return [...new Set(tags)]
}

/** keep-tag: one tag list per line, restic's --keep-tag; a backup must carry every tag of a line (commas) to be kept by it. */
function readKeepTags(get: (n: string) => string): string[][] {
  return get('keep-tag')
    .split('\n')
    .map(line => readTags('keep-tag', list(line)))
    .filter(tags => tags.length > 0)
}

function readTimeZone(get: (n: string) => string): string {
  const value = get('retention-timezone')
  if (!value) return 'UTC'
  try {
    return checkTimeZone(value)
  } catch (error) {
    throw new InputError('retention-timezone', (error as Error).message)
  }
}

function readName(get: (n: string) => string, input = 'name'): string | undefined {
  const name = get(input)
  if (name && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) {
    throw new InputError(input, `"${name}" may hold only letters, digits, ".", "_" and "-" (starting with a letter or digit)`)
  }
  return name || undefined
}

function readStorage(get: (n: string) => string, input = 'storage'): StorageKind[] {
  const given = list(get(input).toLowerCase())
  if (given.length === 0) {
    if (get('s3-bucket')) return ['s3']
    return ['local']
  }
  for (const kind of given) {
    if (!(STORAGE_KINDS as readonly string[]).includes(kind)) {
      throw new InputError(input, `"${kind}" is not supported; use one or more of: ${STORAGE_KINDS.join(', ')} (comma-separated)`)
    }
  }
  return [...new Set(given)] as StorageKind[]
}

function readS3(get: (n: string) => string): S3Settings {
  const bucket = get('s3-bucket')
  if (!bucket) throw new InputError('s3-bucket', 'is required when storage includes s3')
  const endpoint = get('s3-endpoint') || undefined
  if (endpoint && !/^https?:\/\/[^\s]+$/.test(endpoint)) {
    throw new InputError('s3-endpoint', `"${endpoint}" is not a URL; use e.g. https://<account>.r2.cloudflarestorage.com`)
  }
  const sse = get('s3-sse')
  if (sse && sse !== 'AES256' && sse !== 'aws:kms') {
    throw new InputError('s3-sse', `"${sse}" is not supported; use AES256 or aws:kms`)
  }
  const kmsKeyId = get('s3-kms-key-id') || undefined
  if (kmsKeyId && sse !== 'aws:kms') throw new InputError('s3-kms-key-id', 'needs s3-sse: aws:kms')
  const pathStyle = get('s3-force-path-style')
  const lockMode = oneOf(get, 's3-object-lock-mode', ['governance', 'compliance'] as const, '' as never)
  const lockDays = optionalInt(get, 's3-object-lock-days', 1, 36500)
  if (lockMode && lockDays === undefined)
    throw new InputError('s3-object-lock-days', `is required with s3-object-lock-mode: ${lockMode}; give the days each object stays locked`)
  if (!lockMode && lockDays !== undefined) throw new InputError('s3-object-lock-mode', 'is required with s3-object-lock-days; use governance or compliance')
  return {
    bucket,
    prefix: get('s3-prefix').replace(/^\/+|\/+$/g, ''),
    region: get('s3-region') || undefined,
    endpoint,
    // Most S3-compatible servers (MinIO, B2, Supabase Storage) want path-style URLs.
    forcePathStyle: pathStyle ? bool(get, 's3-force-path-style', false) : Boolean(endpoint),
    storageClass: get('s3-storage-class') || undefined,
    sse: (sse || undefined) as S3Settings['sse'],
    kmsKeyId,
    objectLock: lockMode ? { mode: lockMode === 'compliance' ? 'COMPLIANCE' : 'GOVERNANCE', days: lockDays! } : undefined
  }
}

function readLevel(get: (n: string) => string, compression: Compression): number | undefined {
  const value = get('compression-level')
  if (!value) return undefined
  const range = { zstd: [1, 19], gzip: [1, 9], none: [0, 0] }[compression]
  if (compression === 'none') throw new InputError('compression-level', 'has no meaning with compression: none')
  if (!/^\d+$/.test(value) || Number(value) < range[0] || Number(value) > range[1]) {
    throw new InputError('compression-level', `"${value}" is not valid for ${compression}; use a whole number from ${range[0]} to ${range[1]}`)
  }
  return Number(value)
}

function readKind(get: (n: string) => string, env: NodeJS.ProcessEnv, command: Command): BackupKind {
  // A bare prune means the scheduled set, whatever event started it.
  const auto = command === 'prune' || env.GITHUB_EVENT_NAME === 'schedule' ? 'scheduled' : 'manual'
  return oneOf(get, 'kind', BACKUP_KINDS, auto)
}

function readRetention(get: (n: string) => string): RetentionPolicy {
  const count = (name: string) => optionalCount(get, name)
  const within = (name: string) => optionalDuration(get, name)
  return {
    last: count('keep-last'),
    hourly: count('keep-hourly'),
    daily: count('keep-daily'),
    weekly: count('keep-weekly'),
    monthly: count('keep-monthly'),
    yearly: count('keep-yearly'),
    within: within('keep-within'),
    withinHourly: within('keep-within-hourly'),
    withinDaily: within('keep-within-daily'),
    withinWeekly: within('keep-within-weekly'),
    withinMonthly: within('keep-within-monthly'),
    withinYearly: within('keep-within-yearly'),
    tags: readKeepTags(get)
  }
}

/** The default is db/schema.sql: any Postgres, not only Supabase, and outside supabase/, whose files the Supabase CLI reads. */
function readSchemaFile(get: (n: string) => string): string {
  const file = get('schema-file') || 'db/schema.sql'
  if (isAbsolute(file) || normalize(file).split(/[\\/]/)[0] === '..') {
    throw new InputError('schema-file', `"${file}" must be a path inside the repository, relative to the workspace (e.g. db/schema.sql)`)
  }
  return file
}

function readBranch(get: (n: string) => string): string | undefined {
  const branch = get('schema-branch')
  if (branch && (!/^[A-Za-z0-9._/-]+$/.test(branch) || /(^[/.-])|\.\.|\/\/|[/.]$|\.lock$/.test(branch))) {
    throw new InputError('schema-branch', `"${branch}" is not a valid branch name`)
  }
  return branch || undefined
}

const EXPORTS_SYNTAX =
  'each export starts a line with its name and a colon, e.g. "customers: SELECT id, email FROM public.customers"; a longer query goes on the lines below, indented'

/**
 * The exports input: one `name: query` per export; a query may continue on indented lines
 * below its name, so that a YAML block (`exports: |`) reads like a list of named queries.
 */
export function readExports(text: string): ExportQuery[] {
  const exports: ExportQuery[] = []
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '' || line.startsWith('#')) {
      if (exports.length > 0) exports[exports.length - 1].sql += '\n'
      return
    }
    if (/^\s/.test(line)) {
      if (exports.length === 0) throw new InputError('exports', `line ${index + 1} is indented but no export was named above it; ${EXPORTS_SYNTAX}`)
      exports[exports.length - 1].sql += `\n${line}`
      return
    }
    const match = /^([A-Za-z0-9][A-Za-z0-9_-]{0,62}):(.*)$/.exec(line)
    if (!match)
      throw new InputError('exports', `line ${index + 1} does not start with a name and a colon; ${EXPORTS_SYNTAX} (names: letters, digits, "_" and "-")`)
    if (exports.some(e => e.name === match[1])) throw new InputError('exports', `"${match[1]}" is named twice; each export needs its own name`)
    exports.push({ name: match[1], sql: match[2] })
  })
  for (const e of exports) {
    e.sql = e.sql.trim().replace(/;\s*$/, '').trim()
    if (!e.sql) throw new InputError('exports', `"${e.name}" has no query; ${EXPORTS_SYNTAX}`)
    const problem = queryTextProblem(e.sql)
    if (problem) throw new InputError('exports', `the query of "${e.name}" ${problem}`)
  }
  return exports
}

function readSupabase(get: (n: string) => string, accessToken: string, command: Command): SupabaseSettings {
  const projectRef = get('supabase-project-ref') || undefined
  if (projectRef && !isProjectRef(projectRef))
    throw new InputError('supabase-project-ref', `"${projectRef}" is not a project ref: 20 lower-case letters and digits, as in <ref>.supabase.co`)
  const apiUrl = get('supabase-api-url') || 'https://api.supabase.com'
  if (!/^https?:\/\/[^\s]+$/.test(apiUrl)) throw new InputError('supabase-api-url', `"${apiUrl}" is not a URL`)
  const timeText = get('restore-time')
  const restoreTime = timeText ? parseRestoreTime(timeText) : undefined
  if (timeText && !restoreTime) {
    throw new InputError('restore-time', `"${timeText}" is not a time; use ISO 8601 with a zone (2026-03-01T02:00:00Z) or unix seconds`)
  }
  if (command === 'pitr-restore') {
    if (!accessToken) throw new InputError('supabase-access-token', 'is required by pitr-restore (a token with "Backups: Read-write")')
    if (!restoreTime) throw new InputError('restore-time', 'is required by pitr-restore: the time to recover to')
  }
  return {
    accessToken: accessToken || undefined,
    projectRef,
    apiUrl,
    requirePitr: bool(get, 'require-pitr', false),
    maxPlatformBackupAgeMs: elapsedMs(get, 'max-platform-backup-age', '36h'),
    restoreTime,
    restoreTimeoutMs: elapsedMs(get, 'restore-timeout', '6h')
  }
}
