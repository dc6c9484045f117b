import { BACKUP_KINDS, COMPRESSIONS, FORMATS, SCOPES, type BackupKind, type Compression, type Format, type Scope } from './vocabulary.js'
import { FormatError, arrayOf, bool, num, oneOf, optional, parseChecked, shape, str } from './validate.js'

/**
 * The manifest: `<set>/<id>.manifest.json`, written last; a backup exists only when it does.
 * Readers accept every version up to MANIFEST_VERSION; a newer one asks for an upgrade.
 */
export const MANIFEST_VERSION = 1

export interface ManifestObject {
  /** data: the dump; roles: pg_dumpall --roles-only; export: one named query as CSV with a header. */
  role: 'data' | 'roles' | 'export'
  /** File name inside the set's folder. */
  file: string
  size: number
  sha256: string
  /** export only: the query's name (from the exports input) and the rows it gave. */
  export?: { name: string; rows: number }
}

export interface TableCount {
  schema: string
  table: string
  rows: number
}

/** What the dump holds besides data, so verify can check the archive against it. */
export interface SchemaFacts {
  rlsTables: string[]
  policies: number
  indexes: number
  constraints: number
}

export interface Manifest {
  manifestVersion: number
  id: string
  name: string
  kind: BackupKind
  pinned: boolean
  startedAt: string
  finishedAt: string
  database: { name: string; host?: string; port?: number; serverVersion: string; serverVersionNum: number }
  tools: { pgDump: string; action: string }
  format: Format
  scope: Scope
  filters: { schemas: string[]; excludeSchemas: string[]; tables: string[]; excludeTables: string[] }
  compression: { algorithm: Compression; level?: number }
  encryption: { algorithm: 'openpgp-aes256' } | null
  objects: ManifestObject[]
  /** Row counts taken inside the dump's own snapshot. */
  tables: TableCount[]
  schemaFacts?: SchemaFacts
  github?: Record<string, string>
}

const strings = arrayOf(str)
const MANIFEST_SHAPE = shape({
  manifestVersion: num,
  id: str,
  name: str,
  kind: oneOf(BACKUP_KINDS),
  pinned: bool,
  startedAt: str,
  finishedAt: str,
  database: shape({ name: str, host: optional(str), port: optional(num), serverVersion: str, serverVersionNum: num }),
  tools: shape({ pgDump: str, action: str }),
  format: oneOf(FORMATS),
  scope: oneOf(SCOPES),
  filters: shape({ schemas: strings, excludeSchemas: strings, tables: strings, excludeTables: strings }),
  compression: shape({ algorithm: oneOf(COMPRESSIONS), level: optional(num) }),
  encryption: optional(shape({ algorithm: str })),
  objects: arrayOf(shape({ role: oneOf(['data', 'roles', 'export']), file: str, size: num, sha256: str, export: optional(shape({ name: str, rows: num })) })),
  tables: arrayOf(shape({ schema: str, table: str, rows: num })),
  schemaFacts: optional(shape({ rlsTables: strings, policies: num, indexes: num, constraints: num }))
})

/** Reads a stored manifest, refusing a newer version before looking at its fields. */
export function parseManifest(text: string, source: string): Manifest {
  const version = parseChecked<{ manifestVersion?: unknown }>(text, source, shape({ manifestVersion: num }))
  if ((version.manifestVersion as number) > MANIFEST_VERSION) {
    throw new FormatError(
      source,
      `has manifest version ${String(version.manifestVersion)}; this version of the action reads up to ${MANIFEST_VERSION}: upgrade the action`
    )
  }
  return parseChecked<Manifest>(text, source, MANIFEST_SHAPE)
}
