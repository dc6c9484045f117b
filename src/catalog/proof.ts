import type { CatalogFacts } from '../model/manifest.js'
import type { Scope } from '../model/vocabulary.js'
import { PLATFORM_EXTENSIONS, PLATFORM_MIGRATION_TABLES, PLATFORM_SCHEMAS, schemaOf } from '../postgres/platform.js'
import { diffFacts, type FactDifference } from './facts-diff.js'

export interface FactVerdict {
  /** Missing or different objects: the restore is not complete. */
  failures: FactDifference[]
  /** Differences that are the platform's: what the target legitimately lacks or keeps its own way. */
  platform: FactDifference[]
}

/** What a dump of this scope holds: no sequence values or large objects in a schema-only dump (pure). */
export function factsInScope(facts: CatalogFacts, scope: Scope): CatalogFacts {
  if (scope !== 'schema') return facts
  return { ...facts, sequences: facts.sequences.map(s => ({ ...s, lastValue: null })), largeObjects: 0 }
}

/**
 * Judges the differences between the backup's facts and the restored target's (pure).
 * Missing or changed is a failure unless it is the platform's: an extension only the platform
 * provides, or, on a Supabase target, the platform's own tables, functions and privileges in its
 * schemas (left as the target has them; policies and triggers there are the user's and are checked).
 * Extra objects are ignored, except grants on the backup's own objects: privileges must end as in the source.
 */
export function judgeFacts(expected: CatalogFacts, differences: FactDifference[], supabaseTarget: boolean): FactVerdict {
  const verdict: FactVerdict = { failures: [], platform: [] }
  const backupObjects = new Set([
    ...expected.tables.map(t => `${t.kind} ${t.name}`),
    ...expected.columns.map(c => `column ${c.name}`),
    ...expected.sequences.map(s => `sequence ${s.name}`),
    ...expected.functions.map(f => `function ${f.name}`),
    ...expected.grants.map(g => g.object)
  ])
  for (const d of differences) {
    const object = d.category === 'grants' ? d.name.replace(/ to [^ ]+$/, '') : d.name
    const platformObject =
      supabaseTarget && d.category !== 'policies' && d.category !== 'triggers' && d.category !== 'largeObjects' && PLATFORM_SCHEMAS.has(schemaOf(object))
    if (d.category === 'extensions' && d.change === 'missing' && PLATFORM_EXTENSIONS.has(d.name)) verdict.platform.push(d)
    else if (platformObject) verdict.platform.push(d)
    else if (d.change !== 'extra' || (d.category === 'grants' && backupObjects.has(object))) verdict.failures.push(d)
  }
  return verdict
}

/** The whole comparison: facts of the backup (in its scope) against the target's. */
export function proveFacts(expected: CatalogFacts, actual: CatalogFacts, scope: Scope, supabaseTarget: boolean): FactVerdict {
  const wanted = factsInScope(expected, scope)
  return judgeFacts(wanted, diffFacts(wanted, actual), supabaseTarget)
}

/** On a Supabase target the platform's migration tables keep the target's own history. */
export const isPlatformTable = (table: string, supabaseTarget: boolean): boolean => supabaseTarget && PLATFORM_MIGRATION_TABLES.has(table)

/** How many facts a proof compared. */
export const factCount = (facts: CatalogFacts): number =>
  facts.tables.length +
  facts.columns.length +
  facts.policies.length +
  facts.grants.length +
  facts.triggers.length +
  facts.functions.length +
  facts.sequences.length +
  facts.indexes.length +
  facts.constraints.length +
  facts.publications.length +
  facts.extensions.length +
  (facts.largeObjects > 0 ? 1 : 0)
