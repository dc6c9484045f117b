/**
 * pg_dump's -n/-N/-t/-T selection, mirrored so that row counts cover exactly the
 * tables in the dump. Patterns follow psql's rules: unquoted text is folded to
 * lower case, `*` and `?` are wildcards, other regular-expression syntax keeps its
 * meaning, `.` separates schema from name.
 */
export interface TableFilters {
  schemas: string[]
  excludeSchemas: string[]
  tables: string[]
  excludeTables: string[]
}

function splitPattern(pattern: string): string[] {
  const parts: string[] = ['']
  let quoted = false
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '"') {
      if (quoted && pattern[i + 1] === '"') {
        parts[parts.length - 1] += '\\"'
        i++
      } else quoted = !quoted
    } else if (c === '.' && !quoted) parts.push('')
    else parts[parts.length - 1] += quoted ? escapeRegex(c) : unquoted(c)
  }
  return parts
}

/** Outside quotes psql keeps regular-expression syntax, except `*`, `?` and a literal `$`. */
function unquoted(c: string): string {
  if (c === '*') return '.*'
  if (c === '?') return '.'
  if (c === '$') return '\\$'
  return c.toLowerCase()
}

function escapeRegex(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c
}

const whole = (source: string) => new RegExp(`^(?:${source})$`)

/** A schema pattern (-n/-N). */
export function schemaMatcher(pattern: string): (schema: string) => boolean {
  const parts = splitPattern(pattern)
  const re = whole(parts[parts.length - 1])
  return schema => re.test(schema)
}

/**
 * A table pattern (-t/-T). Unqualified, pg_dump matches only tables visible on the
 * default search_path, i.e. in `public` (checked against pg_dump 15: `-t foo` skips s.foo).
 */
export function tableMatcher(pattern: string): (schema: string, table: string) => boolean {
  const parts = splitPattern(pattern)
  const table = whole(parts[parts.length - 1])
  const schema = parts.length > 1 ? whole(parts[parts.length - 2]) : /^public$/
  return (s, t) => table.test(t) && schema.test(s)
}

/** Whether pg_dump with these switches dumps the table's data. */
export function selectsTable(filters: TableFilters, schema: string, table: string): boolean {
  const excluded = filters.excludeTables.some(p => tableMatcher(p)(schema, table))
  if (excluded) return false
  // As in pg_dump, -t wins over -n/-N: selected tables are dumped whatever the schema switches say.
  if (filters.tables.length > 0) return filters.tables.some(p => tableMatcher(p)(schema, table))
  if (filters.excludeSchemas.some(p => schemaMatcher(p)(schema))) return false
  return filters.schemas.length === 0 || filters.schemas.some(p => schemaMatcher(p)(schema))
}

/**
 * Whether pg_dump dumps the schema's own objects (functions, privileges on the schema): not with
 * --table, which dumps only the named tables, and otherwise as -n/-N say.
 */
export function selectsSchema(filters: TableFilters, schema: string): boolean {
  if (filters.tables.length > 0) return false
  if (filters.excludeSchemas.some(p => schemaMatcher(p)(schema))) return false
  return filters.schemas.length === 0 || filters.schemas.some(p => schemaMatcher(p)(schema))
}

/** Whether pg_dump dumps database-wide objects (extensions, publications, large objects): only without -n or -t. */
export const selectsEverything = (filters: TableFilters): boolean => filters.schemas.length === 0 && filters.tables.length === 0
