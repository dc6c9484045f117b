/**
 * The backup vocabulary: the words every layer shares. This folder imports nothing from the
 * rest of src/, so storage, postgres, pipeline and catalog can depend on it without circles.
 */

export const COMMANDS = ['backup', 'verify', 'drill', 'restore', 'prune', 'monitor', 'pitr-restore', 'schema'] as const
export type Command = (typeof COMMANDS)[number]
export const STORAGE_KINDS = ['local', 's3', 'artifact'] as const
export type StorageKind = (typeof STORAGE_KINDS)[number]
export const FORMATS = ['custom', 'plain'] as const
export type Format = (typeof FORMATS)[number]
export const SCOPES = ['full', 'schema', 'data'] as const
export type Scope = (typeof SCOPES)[number]
export const COMPRESSIONS = ['zstd', 'gzip', 'none'] as const
export type Compression = (typeof COMPRESSIONS)[number]
/** What a drill or restore target carries: auto detects the Supabase platform (its auth and storage schemas and supabase_admin). */
export const TARGET_PLATFORMS = ['auto', 'supabase', 'postgres'] as const
export type TargetPlatform = (typeof TARGET_PLATFORMS)[number]
/** Why a backup was made; each kind is its own retention series. */
export const BACKUP_KINDS = ['scheduled', 'pre-deploy', 'manual', 'pre-restore'] as const
export type BackupKind = (typeof BACKUP_KINDS)[number]
/** Where the PostgreSQL client came from: on the machine, an earlier install (tool dir or actions cache), or installed by this run. */
export const CLIENT_SOURCES = ['found', 'cached', 'installed'] as const
export type ClientSource = (typeof CLIENT_SOURCES)[number]

/** How `command: schema` hands a changed file over: neither, one pull request, or a commit on a branch. */
export const SCHEMA_COMMIT_MODES = ['none', 'pull-request', 'push'] as const
export type SchemaCommitMode = (typeof SCHEMA_COMMIT_MODES)[number]

/** Where an S3 storage writes: the parsed s3-* inputs. */
export interface S3Settings {
  bucket: string
  prefix: string
  region?: string
  endpoint?: string
  forcePathStyle: boolean
  storageClass?: string
  sse?: 'AES256' | 'aws:kms'
  kmsKeyId?: string
  /** S3 Object Lock retention for every object written (s3-object-lock-mode / -days). */
  objectLock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; days: number }
}

/** An S3-compatible endpoint holding buckets to back up or restore into (Supabase Storage, AWS, MinIO…). */
export interface BucketsEndpoint {
  endpoint?: string
  region?: string
  forcePathStyle: boolean
  credentials?: { accessKeyId: string; secretAccessKey: string }
}

/** One named query of the exports input: run in the dump's snapshot, stored as CSV with a header. */
export interface ExportQuery {
  name: string
  sql: string
}
