import type { CatalogFacts } from '../model/manifest.js'

/** The categories of CatalogFacts that list named objects. */
export type FactCategory = Exclude<keyof CatalogFacts, 'largeObjects'>

export const FACT_CATEGORIES: readonly FactCategory[] = [
  'extensions',
  'tables',
  'columns',
  'constraints',
  'indexes',
  'triggers',
  'policies',
  'functions',
  'sequences',
  'grants',
  'publications'
]

/** Singular nouns, for messages. */
export const FACT_NOUN: Record<FactCategory | 'largeObjects', string> = {
  extensions: 'extension',
  tables: 'table',
  columns: 'column',
  constraints: 'constraint',
  indexes: 'index',
  triggers: 'trigger',
  policies: 'policy',
  functions: 'function',
  sequences: 'sequence',
  grants: 'grant',
  publications: 'publication',
  largeObjects: 'large objects'
}

export interface FactDifference {
  category: FactCategory | 'largeObjects'
  /** The object's name within its category (for grants: "table public.t to role"). */
  name: string
  /** missing: expected but absent; extra: present but not expected; changed: present with other attributes. */
  change: 'missing' | 'extra' | 'changed'
  /** For a change, each differing attribute as `field: expected → actual`. */
  detail?: string
}

/**
 * Compares two fact sets (pure): what the backup recorded (expected) and what a database holds
 * (actual). Sequences differ only when the actual value is lower: the source's value was read
 * before pg_dump read it, and a sequence never goes back.
 */
export function diffFacts(expected: CatalogFacts, actual: CatalogFacts): FactDifference[] {
  const differences: FactDifference[] = []
  for (const category of FACT_CATEGORIES) {
    const want = new Map<string, object>(expected[category].map(e => [e.name, e]))
    const have = new Map<string, object>(actual[category].map(e => [e.name, e]))
    for (const [name, wanted] of want) {
      const found = have.get(name)
      if (!found) differences.push({ category, name, change: 'missing' })
      else {
        const detail = category === 'sequences' ? sequenceBehind(wanted, found) : changedFields(wanted, found)
        if (detail) differences.push({ category, name, change: 'changed', detail })
      }
    }
    for (const name of have.keys()) if (!want.has(name)) differences.push({ category, name, change: 'extra' })
  }
  if (expected.largeObjects !== actual.largeObjects) {
    differences.push({
      category: 'largeObjects',
      name: 'large objects',
      change: actual.largeObjects < expected.largeObjects ? 'missing' : 'extra',
      detail: `count: ${expected.largeObjects} → ${actual.largeObjects}`
    })
  }
  return differences
}

function changedFields(expected: object, actual: object): string | undefined {
  const a = actual as Record<string, unknown>
  const fields = Object.entries(expected as Record<string, unknown>)
    .filter(([field, value]) => field !== 'name' && JSON.stringify(value ?? null) !== JSON.stringify(a[field] ?? null))
    .map(([field, value]) => `${field}: ${show(value)} → ${show(a[field])}`)
  return fields.length > 0 ? fields.join('; ') : undefined
}

function sequenceBehind(expected: object, actual: object): string | undefined {
  const value = (v: object) => BigInt((v as { lastValue?: string | null }).lastValue ?? '-9223372036854775808')
  return value(actual) < value(expected) ? changedFields(expected, actual) : undefined
}

const show = (value: unknown): string => (value === undefined || value === null ? 'none' : typeof value === 'string' ? value : JSON.stringify(value))

/** "policy public.todos.own_rows is missing", "grant table public.t to anon: privileges: [...] → [...]". */
export function describeDifference(d: FactDifference): string {
  const what = d.category === 'largeObjects' ? FACT_NOUN.largeObjects : `${FACT_NOUN[d.category]} ${d.name}`
  if (d.change === 'changed') return `${what} differs (${d.detail ?? ''})`
  if (d.category === 'largeObjects') return `${what} ${d.change === 'missing' ? 'missing' : 'unexpected'} (${d.detail ?? ''})`
  return `${what} is ${d.change === 'missing' ? 'missing' : 'not in the backup'}`
}
