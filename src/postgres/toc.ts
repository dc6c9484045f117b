import type { TableRef } from './inventory.js'

/**
 * pg_restore --list output, parsed (pure). Each line is `id; tableoid oid DESC schema tag owner`
 * with the names printed as they are, unquoted (newlines turned into spaces, a missing
 * schema as "-"): a space in a name makes the line ambiguous on its own. So an entry
 * keeps the text after its description, and callers that know the name they look for ask
 * isFor / tableData, which are exact for every legal identifier. `schema`, `tag` and
 * `owner` split that text at spaces: right only for names without spaces.
 */
export interface TocEntry {
  dumpId: number
  desc: string
  /** `schema tag owner`, as pg_restore printed them. */
  names: string
  schema: string
  tag: string
  owner: string
}

// Multi-word descriptions first, so "TABLE DATA" is not read as "TABLE".
const DESCS = [
  'TABLE DATA',
  'FK CONSTRAINT',
  'ROW SECURITY',
  'SEQUENCE SET',
  'SEQUENCE OWNED BY',
  'DEFAULT ACL',
  'INDEX ATTACH',
  'TABLE ATTACH',
  'MATERIALIZED VIEW DATA',
  'MATERIALIZED VIEW',
  'FOREIGN TABLE',
  'EVENT TRIGGER',
  'LARGE OBJECT',
  'BLOB',
  'BLOB METADATA',
  'BLOB DATA',
  'BLOBS',
  'BLOB',
  'TEXT SEARCH CONFIGURATION',
  'TEXT SEARCH DICTIONARY',
  'ACCESS METHOD',
  'FOREIGN DATA WRAPPER',
  'SERVER',
  'USER MAPPING',
  'PUBLICATION TABLE',
  'PUBLICATION',
  'SUBSCRIPTION',
  'STATISTICS',
  'CHECK CONSTRAINT',
  'CONSTRAINT',
  'COMMENT',
  'ACL',
  'DATABASE PROPERTIES',
  'DATABASE',
  'DEFAULT',
  'DOMAIN',
  'EXTENSION',
  'FUNCTION',
  'PROCEDURE',
  'AGGREGATE',
  'INDEX',
  'POLICY',
  'RULE',
  'SCHEMA',
  'SEQUENCE',
  'TABLE',
  'TRIGGER',
  'TYPE',
  'VIEW',
  'ENCODING',
  'STDSTRINGS',
  'SEARCHPATH',
  'CAST',
  'COLLATION',
  'CONVERSION',
  'OPERATOR',
  'SHELL TYPE',
  'TRANSFORM',
  'LANGUAGE',
  'PROCEDURAL LANGUAGE'
].sort((a, b) => b.length - a.length)

export function parseToc(text: string): TocEntry[] {
  const entries: TocEntry[] = []
  for (const line of text.split('\n')) {
    // Only \r goes from a line's end: a trailing space is an empty owner, and names may end in spaces.
    const match = /^(\d+); \d+ \d+ (.*)$/.exec(line.trimStart().replace(/\r$/, ''))
    if (!match) continue
    const rest = match[2]
    const desc = DESCS.find(d => rest.startsWith(`${d} `))
    if (!desc) continue
    const names = rest.slice(desc.length + 1)
    const words = names.split(' ')
    const owner = words.length > 2 ? (words.pop() as string) : ''
    const schema = words.shift() as string
    entries.push({ dumpId: Number(match[1]), desc, names, schema, tag: words.join(' '), owner })
  }
  return entries
}

/** As pg_restore prints a name in its list. */
const printed = (name: string, hyphen = false): string => (name === '' && hyphen ? '-' : name.replace(/[\r\n]/g, ' '))

/** Whether the entry is the one of `schema`.`tag` (whatever the owner). */
export function isFor(entry: TocEntry, schema: string, tag: string): boolean {
  return entry.names.startsWith(`${printed(schema, true)} ${printed(tag)} `)
}

/** The entries by dump id: the number pg_restore --verbose names in "from TOC entry <id>". */
export function tocById(text: string): Map<number, TocEntry> {
  const byId = new Map<number, TocEntry>()
  for (const line of text.split('\n')) {
    const id = /^\s*(\d+);/.exec(line)?.[1]
    const entry = id ? parseToc(line)[0] : undefined
    if (entry) byId.set(Number(id), entry)
  }
  return byId
}

export function count(entries: TocEntry[], ...descs: string[]): number {
  return entries.filter(e => descs.includes(e.desc)).length
}

/**
 * The archive's data entry for a table, if it has one. `known`: the other tables the
 * archive may hold; an entry whose line starts with a longer known name is that table's
 * ("s" "t" would otherwise also claim the entry of "s" "t x").
 */
export function tableData(entries: TocEntry[], table: TableRef, known: TableRef[] = []): TocEntry | undefined {
  const length = (t: TableRef) => printed(t.schema, true).length + printed(t.table).length
  const longer = known.filter(k => length(k) > length(table))
  return entries.find(e => e.desc === 'TABLE DATA' && isFor(e, table.schema, table.table) && !longer.some(k => isFor(e, k.schema, k.table)))
}
