import {
  BACKUP_KINDS,
  CLIENT_SOURCES,
  COMPRESSIONS,
  FORMATS,
  SCOPES,
  type BackupKind,
  type ClientSource,
  type Compression,
  type Format,
  type Scope
} from './vocabulary.js'
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
  /** Every object the dump holds, so a drill or restore can check the target against it (absent in older manifests). */
  catalog?: CatalogFacts
}

/**
 * A database's objects as the catalog describes them, read the same way from the source
 * (inside the dump's snapshot) and from a restored target (src/postgres/facts.ts).
 * Every entry has a `name` that is unique within its category; definitions are
 * rendered with search_path = pg_catalog, so every name in them is schema-qualified.
 */
export interface CatalogFacts {
  /** Tables, partitioned tables, views, materialized views, foreign tables: "schema.name". */
  tables: Array<{ name: string; kind: string; rls: boolean; forceRls: boolean }>
  /** "schema.table.column". */
  columns: Array<{ name: string; type: string; notNull: boolean; default: string | null }>
  /** "schema.table.policy"; roles sorted, "PUBLIC" for everyone. */
  policies: Array<{ name: string; table: string; command: string; permissive: boolean; roles: string[]; using: string | null; check: string | null }>
  /** "<object> to <role>", object as "table public.t", "column public.t.c", "sequence …", "function public.f(integer)", "schema s"; the owner's own privileges are left out. */
  grants: Array<{ name: string; object: string; role: string; privileges: string[] }>
  /** "schema.table.trigger"; enabled is pg_trigger.tgenabled (O, D, R, A). */
  triggers: Array<{ name: string; table: string; definition: string; enabled: string }>
  /** "schema.name(argument types)"; bodyMd5 is md5(prosrc). */
  functions: Array<{ name: string; kind: string; securityDefiner: boolean; config: string[]; bodyMd5: string }>
  /** "schema.sequence"; lastValue as text (bigint), null when never called. */
  sequences: Array<{ name: string; lastValue: string | null }>
  /** "schema.index". */
  indexes: Array<{ name: string; table: string; definition: string }>
  /** "schema.table.constraint"; type is pg_constraint.contype. */
  constraints: Array<{ name: string; table: string; type: string; definition: string }>
  /** Publications with the dumped tables they publish (recorded when the dump holds database-wide objects). */
  publications: Array<{ name: string; allTables: boolean; tables: string[] }>
  extensions: Array<{ name: string; schema: string }>
  /** Large objects in the database (recorded when the dump holds database-wide objects). */
  largeObjects: number
}

/**
 * How the objects are encrypted: a gpg passphrase (AES-256), or age to X25519 public keys
 * (`recipients` lists them, so a reader can say which private key it needs). Null: not encrypted.
 */
export type ManifestEncryption = { algorithm: 'openpgp-aes256' } | { algorithm: 'age-x25519'; recipients: string[] }

export interface Manifest {
  manifestVersion: number
  id: string
  name: string
  kind: BackupKind
  pinned: boolean
  startedAt: string
  finishedAt: string
  database: { name: string; host?: string; port?: number; serverVersion: string; serverVersionNum: number }
  /** client: the pg_dump's bin dir and where it came from (absent in manifests before it was recorded). */
  tools: { pgDump: string; action: string; client?: { source: ClientSource; dir: string } }
  format: Format
  scope: Scope
  filters: { schemas: string[]; excludeSchemas: string[]; tables: string[]; excludeTables: string[] }
  compression: { algorithm: Compression; level?: number }
  encryption: ManifestEncryption | null
  objects: ManifestObject[]
  /** Row counts taken inside the dump's own snapshot. */
  tables: TableCount[]
  /** Large objects in the dump, counted in its snapshot (absent: none dumped, or an older manifest). */
  largeObjects?: number
  schemaFacts?: SchemaFacts
  /** The Storage files snapshot taken with this backup (`<id>.files.json`), so verify can insist on it. */
  files?: { files: number; bytes: number }
  github?: Record<string, string>
  /** The backup's `tags` input, for keep-tag; absent in manifests written before tags existed. */
  tags?: string[]
}

const strings = arrayOf(str)
export const CATALOG_FACTS_SHAPE = shape({
  tables: arrayOf(shape({ name: str, kind: str, rls: bool, forceRls: bool })),
  columns: arrayOf(shape({ name: str, type: str, notNull: bool, default: optional(str) })),
  policies: arrayOf(shape({ name: str, table: str, command: str, permissive: bool, roles: strings, using: optional(str), check: optional(str) })),
  grants: arrayOf(shape({ name: str, object: str, role: str, privileges: strings })),
  triggers: arrayOf(shape({ name: str, table: str, definition: str, enabled: str })),
  functions: arrayOf(shape({ name: str, kind: str, securityDefiner: bool, config: strings, bodyMd5: str })),
  sequences: arrayOf(shape({ name: str, lastValue: optional(str) })),
  indexes: arrayOf(shape({ name: str, table: str, definition: str })),
  constraints: arrayOf(shape({ name: str, table: str, type: str, definition: str })),
  publications: arrayOf(shape({ name: str, allTables: bool, tables: strings })),
  extensions: arrayOf(shape({ name: str, schema: str })),
  largeObjects: num
})
const MANIFEST_SHAPE = shape({
  manifestVersion: num,
  id: str,
  name: str,
  kind: oneOf(BACKUP_KINDS),
  pinned: bool,
  startedAt: str,
  finishedAt: str,
  database: shape({ name: str, host: optional(str), port: optional(num), serverVersion: str, serverVersionNum: num }),
  tools: shape({ pgDump: str, action: str, client: optional(shape({ source: oneOf(CLIENT_SOURCES), dir: str })) }),
  format: oneOf(FORMATS),
  scope: oneOf(SCOPES),
  filters: shape({ schemas: strings, excludeSchemas: strings, tables: strings, excludeTables: strings }),
  compression: shape({ algorithm: oneOf(COMPRESSIONS), level: optional(num) }),
  encryption: optional(shape({ algorithm: oneOf(['openpgp-aes256', 'age-x25519']), recipients: optional(strings) })),
  objects: arrayOf(shape({ role: oneOf(['data', 'roles', 'export']), file: str, size: num, sha256: str, export: optional(shape({ name: str, rows: num })) })),
  tables: arrayOf(shape({ schema: str, table: str, rows: num })),
  largeObjects: optional(num),
  schemaFacts: optional(shape({ rlsTables: strings, policies: num, indexes: num, constraints: num, catalog: optional(CATALOG_FACTS_SHAPE) })),
  files: optional(shape({ files: num, bytes: num })),
  tags: optional(strings)
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
