/**
 * What changed between two schema files written by `command: schema` (pure): pg_dump heads
 * every object with `-- Name: …; Type: …; Schema: …; Owner: …`, so the files split into
 * objects that can be compared by type and name, tables down to their columns and access
 * lists down to their single GRANT and REVOKE statements. This is what a pull request's
 * body shows; no database is needed, only the file before and after.
 */

export interface SchemaObject {
  type: string
  schema: string
  name: string
  sql: string
}

export interface SchemaChange {
  what: 'tables' | 'columns' | 'indexes' | 'constraints' | 'policies' | 'row level security' | 'grants' | 'other'
  change: 'added' | 'removed' | 'changed'
  /** e.g. `public.orders`, `public.orders.amount numeric`, `SELECT ON TABLE public.orders TO anon`. */
  subject: string
  /** For a changed object: the definition before and after. */
  before?: string
  after?: string
}

const HEADER = /^-- Name: (.*); Type: (.*); Schema: (.*); Owner: (.*)$/

export function parseSchemaObjects(sql: string): SchemaObject[] {
  const objects: SchemaObject[] = []
  let body: string[] | undefined
  const close = () => {
    const last = objects[objects.length - 1]
    if (last && body) last.sql = trimComments(body)
  }
  for (const line of sql.split('\n')) {
    const header = HEADER.exec(line)
    if (header) {
      close()
      objects.push({ type: header[2], schema: header[3], name: header[1], sql: '' })
      body = []
    } else body?.push(line)
  }
  close()
  return objects
}

/** An object's statements without the `--` separator lines and blanks around them. */
function trimComments(lines: string[]): string {
  let start = 0
  let end = lines.length
  while (start < end && (lines[start] === '--' || lines[start] === '')) start++
  while (end > start && (lines[end - 1] === '--' || lines[end - 1] === '' || lines[end - 1].startsWith('-- PostgreSQL database dump complete'))) end--
  return lines.slice(start, end).join('\n')
}

const qualified = (o: SchemaObject) => (o.schema === '-' ? o.name : `${o.schema}.${o.name}`)

/** `name type …` of each column in a CREATE TABLE, keyed by column name. */
function columns(createTable: string): Map<string, string> {
  const result = new Map<string, string>()
  const open = createTable.indexOf('(\n')
  const closing = createTable.indexOf('\n)', open)
  if (open === -1 || closing === -1) return result
  for (const raw of createTable.slice(open + 2, closing).split('\n')) {
    const line = raw.trim().replace(/,$/, '')
    if (!line || line.startsWith('CONSTRAINT ')) continue
    const name = /^("(?:[^"]|"")*"|\S+)/.exec(line)?.[1] ?? line
    result.set(name, line)
  }
  return result
}

/** The single statements of an access list (`GRANT … TO …;`, `REVOKE … FROM …;`). */
function aclStatements(sql: string): Set<string> {
  return new Set(
    sql
      .split('\n')
      .filter(line => /^(GRANT|REVOKE) /.test(line))
      .map(line => line.replace(/;$/, ''))
  )
}

const CATEGORY: Record<string, SchemaChange['what']> = {
  TABLE: 'tables',
  INDEX: 'indexes',
  CONSTRAINT: 'constraints',
  'FK CONSTRAINT': 'constraints',
  POLICY: 'policies',
  'ROW SECURITY': 'row level security'
}

export function schemaChanges(before: string, after: string): SchemaChange[] {
  const key = (o: SchemaObject) => `${o.type}\u0000${o.schema}\u0000${o.name}`
  const old = new Map(parseSchemaObjects(before).map(o => [key(o), o]))
  const now = new Map(parseSchemaObjects(after).map(o => [key(o), o]))
  const changes: SchemaChange[] = []
  for (const [k, o] of now) {
    const was = old.get(k)
    if (o.type === 'ACL') changes.push(...grantChanges(was?.sql ?? '', o.sql))
    else if (!was) changes.push({ what: CATEGORY[o.type] ?? 'other', change: 'added', subject: describe(o) })
    else if (was.sql !== o.sql) changes.push(...modified(was, o))
  }
  for (const [k, o] of old) {
    if (now.has(k)) continue
    if (o.type === 'ACL') changes.push(...grantChanges(o.sql, ''))
    else changes.push({ what: CATEGORY[o.type] ?? 'other', change: 'removed', subject: describe(o) })
  }
  return changes
}

function describe(o: SchemaObject): string {
  const category = CATEGORY[o.type]
  // Policies and triggers are named "<table> <name>" by pg_dump.
  const name = o.type === 'POLICY' || o.type === 'TRIGGER' || o.type === 'CONSTRAINT' || o.type === 'FK CONSTRAINT' ? o.name.replace(' ', ' → ') : o.name
  const subject = o.schema === '-' ? name : `${o.schema}.${name}`
  return category && category !== 'other' ? subject : `${o.type.toLowerCase()} ${subject}`
}

function modified(was: SchemaObject, o: SchemaObject): SchemaChange[] {
  if (o.type !== 'TABLE') return [{ what: CATEGORY[o.type] ?? 'other', change: 'changed', subject: describe(o), before: was.sql, after: o.sql }]
  const before = columns(was.sql)
  const after = columns(o.sql)
  const table = qualified(o)
  const out: SchemaChange[] = []
  for (const [name, def] of after) {
    const old = before.get(name)
    if (old === undefined) out.push({ what: 'columns', change: 'added', subject: `${table}.${def}` })
    else if (old !== def) out.push({ what: 'columns', change: 'changed', subject: `${table}.${name}`, before: old, after: def })
  }
  for (const [, def] of before)
    if (!after.has(/^("(?:[^"]|"")*"|\S+)/.exec(def)?.[1] ?? def)) out.push({ what: 'columns', change: 'removed', subject: `${table}.${def}` })
  // A change outside the column list (CHECK constraints, partitioning, options).
  if (out.length === 0) out.push({ what: 'tables', change: 'changed', subject: table, before: was.sql, after: o.sql })
  return out
}

function grantChanges(before: string, after: string): SchemaChange[] {
  const old = aclStatements(before)
  const now = aclStatements(after)
  return [
    ...[...now].filter(s => !old.has(s)).map(s => ({ what: 'grants' as const, change: 'added' as const, subject: s })),
    ...[...old].filter(s => !now.has(s)).map(s => ({ what: 'grants' as const, change: 'removed' as const, subject: s }))
  ]
}

const ORDER: SchemaChange['what'][] = ['tables', 'columns', 'indexes', 'constraints', 'policies', 'row level security', 'grants', 'other']

/** Markdown for a pull request body or a job summary: one section per kind of object. */
export function changesMarkdown(changes: SchemaChange[]): string {
  if (changes.length === 0) return 'No changes to tables, columns, indexes, constraints, policies or grants.'
  const sections: string[] = []
  for (const what of ORDER) {
    const mine = changes.filter(c => c.what === what)
    if (mine.length === 0) continue
    const lines = mine.map(c => {
      const sign = c.change === 'added' ? '➕ added' : c.change === 'removed' ? '➖ removed' : '✏️ changed'
      const detail = c.what === 'columns' && c.before !== undefined ? `: \`${c.before}\` → \`${c.after}\`` : ''
      return `- ${sign} \`${c.subject}\`${detail}`
    })
    sections.push(`**${what[0].toUpperCase()}${what.slice(1)}** (${mine.length})\n\n${lines.join('\n')}`)
  }
  return sections.join('\n\n')
}

/** One line for a commit message: counts per kind. */
export function changesHeadline(changes: SchemaChange[]): string {
  const counts = ORDER.map(what => [what, changes.filter(c => c.what === what).length] as const).filter(([, n]) => n > 0)
  return counts.length === 0 ? 'no object changes' : counts.map(([what, n]) => `${n} ${what}`).join(', ')
}
