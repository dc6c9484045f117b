import type { Format, Scope } from '../model/vocabulary.js'
import type { TableFilters } from './patterns.js'

export interface DumpOptions extends TableFilters {
  format: Format
  scope: Scope
  snapshot?: string
  /** Large objects in or out; pg_dump's own default drops them silently when -n/-t are used. */
  largeObjects: boolean
  /** pg_dump gives up when a table's lock is not granted within this (it would wait forever). */
  lockWaitMs: number
}

/**
 * pg_dump's arguments. No connection details: those travel in the environment.
 * Compression is left to the pipeline (-Z0): pg_dump's own gzip is single-threaded
 * and was the bottleneck, while `zstd -T0` is faster and smaller.
 */
export function pgDumpArgs(options: DumpOptions): string[] {
  const args = [`--format=${options.format}`, '--no-password']
  if (options.format === 'custom') args.push('--compress=0')
  if (options.snapshot) args.push(`--snapshot=${options.snapshot}`)
  args.push(`--lock-wait-timeout=${options.lockWaitMs}`)
  // -b/-B: the short forms work with every pg_dump (15 calls them --blobs, 16+ --large-objects).
  if (!options.largeObjects) args.push('-B')
  else if (options.scope !== 'schema' && (options.schemas.length > 0 || options.tables.length > 0)) args.push('-b')
  if (options.scope === 'schema') args.push('--schema-only')
  if (options.scope === 'data') args.push('--data-only')
  for (const s of options.schemas) args.push(`--schema=${s}`)
  for (const s of options.excludeSchemas) args.push(`--exclude-schema=${s}`)
  for (const t of options.tables) args.push(`--table=${t}`)
  for (const t of options.excludeTables) args.push(`--exclude-table=${t}`)
  return args
}

/** Roles only, without password hashes (managed platforms refuse to read them anyway). */
export function pgDumpallRolesArgs(): string[] {
  return ['--roles-only', '--no-role-passwords', '--no-password']
}
