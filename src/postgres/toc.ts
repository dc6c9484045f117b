/** pg_restore -l output, parsed (pure). */
export interface TocEntry {
  desc: string
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
    const match = /^\d+; \d+ \d+ (.+)$/.exec(line.trimStart()) // a trailing space is an empty owner
    if (!match) continue
    const rest = match[1]
    const desc = DESCS.find(d => rest.startsWith(`${d} `))
    if (!desc) continue
    const words = rest.slice(desc.length + 1).split(' ')
    const owner = words.length > 2 ? (words.pop() as string) : ''
    const schema = words.shift() as string
    entries.push({ desc, schema, tag: words.join(' '), owner })
  }
  return entries
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

/** Tables with data in the archive, as "schema.table". */
export function tablesWithData(entries: TocEntry[]): Set<string> {
  return new Set(entries.filter(e => e.desc === 'TABLE DATA').map(e => `${e.schema}.${e.tag}`))
}
