/** The pure parts of a restore's proof: the roles file, the Supabase restore list, judging fact differences, stored facts. */
import { describe, expect, test } from '@jest/globals'
import { diffFacts } from '../../src/catalog/facts-diff.js'
import { judgeFacts, proveFacts } from '../../src/catalog/proof.js'
import { parseManifest, type CatalogFacts } from '../../src/model/manifest.js'
import { safeRolesSql } from '../../src/postgres/roles.js'
import { platformSkips, tablesToEmpty, useList, type TargetObjects } from '../../src/postgres/target-plan.js'
import { tocById } from '../../src/postgres/toc.js'

const EMPTY: CatalogFacts = {
  tables: [],
  columns: [],
  policies: [],
  grants: [],
  triggers: [],
  functions: [],
  sequences: [],
  indexes: [],
  constraints: [],
  publications: [],
  extensions: [],
  largeObjects: 0
}

describe('the roles file', () => {
  test('never creates or alters a reserved role, and never alters a role that exists', () => {
    const dumped = [
      'CREATE ROLE anon;',
      'ALTER ROLE anon WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;',
      'CREATE ROLE postgres;',
      'ALTER ROLE postgres WITH NOSUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;',
      'CREATE ROLE "app writer";',
      'ALTER ROLE "app writer" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;',
      "ALTER ROLE authenticated SET statement_timeout TO '8s';",
      'GRANT anon TO authenticator GRANTED BY supabase_admin;',
      'GRANT authenticated TO "app writer" GRANTED BY supabase_admin;'
    ].join('\n')
    const safe = safeRolesSql(dumped).split('\n')
    expect(safe.filter(l => !l.startsWith('--'))).toEqual([
      `DO $roles$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app writer') THEN CREATE ROLE "app writer"; ALTER ROLE "app writer" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS; END IF; END $roles$;`,
      'GRANT authenticated TO "app writer";'
    ])
    expect(safe.filter(l => l.startsWith('--'))).toHaveLength(6)
  })
})

describe('a restore into a Supabase project', () => {
  const listing = [
    '9; 2615 16456 SCHEMA - auth supabase_admin',
    '3; 3079 16411 EXTENSION - pgcrypto ',
    '289; 1255 16493 FUNCTION auth uid() supabase_auth_admin',
    '3618; 0 0 ACL auth FUNCTION uid() supabase_auth_admin',
    '220; 1259 16457 TABLE auth users supabase_auth_admin',
    '237; 1259 16614 TABLE public todos postgres',
    '3585; 0 16488 TABLE DATA auth schema_migrations supabase_auth_admin',
    '3581; 0 16457 TABLE DATA auth users supabase_auth_admin',
    '3597; 0 16614 TABLE DATA public todos postgres',
    '3420; 2620 16656 TRIGGER auth users on_auth_user_created postgres',
    '3421; 2620 16536 TRIGGER storage objects update_objects_updated_at supabase_storage_admin',
    '3577; 3256 16657 POLICY storage objects Avatar images are public. postgres',
    '3579; 6104 16398 PUBLICATION - supabase_realtime postgres',
    '3580; 6106 16655 PUBLICATION TABLE public supabase_realtime todos postgres',
    '2162; 826 16448 DEFAULT ACL public DEFAULT PRIVILEGES FOR TABLES supabase_admin',
    '2165; 826 16451 DEFAULT ACL public DEFAULT PRIVILEGES FOR TABLES postgres',
    '3330; 3466 16455 EVENT TRIGGER - issue_pg_cron_access supabase_admin'
  ].join('\n')
  const has: TargetObjects = {
    schemas: new Set(['auth', 'storage', 'public']),
    extensions: new Set(['pgcrypto']),
    relations: new Set(['auth.users', 'auth.schema_migrations', 'storage.objects']),
    types: new Set(),
    functions: new Set(['auth.uid()']),
    constraints: new Set(),
    triggers: new Set(['storage.objects update_objects_updated_at']),
    policies: new Set(),
    publications: new Set(['supabase_realtime']),
    publicationTables: new Set(),
    eventTriggers: new Set(['issue_pg_cron_access'])
  }

  test("leaves out what the platform has, keeps the app, the user's objects on platform tables and all data", () => {
    const skips = platformSkips(tocById(listing), has)
    expect([...skips.keys()].sort((a, b) => a - b)).toEqual([3, 9, 220, 289, 2162, 3330, 3421, 3579, 3585, 3618])
    expect(skips.get(3585)).toBe("the platform's migration history")
    const list = useList(listing, skips).split('\n')
    expect(list.filter(l => !l.startsWith(';')).map(l => l.split(';')[0])).toEqual(['237', '3581', '3597', '3420', '3577', '3580', '2165'])
  })

  test('a clean restore empties the tables it refills that the target has', () => {
    const entries = tocById(listing)
    const skips = platformSkips(entries, { ...has, relations: new Set([...has.relations, 'public.todos']) }, true)
    expect(skips.has(3421)).toBe(false) // the trigger is dropped and made again
    expect(tablesToEmpty(entries, skips, { ...has, relations: new Set([...has.relations, 'public.todos']) })).toEqual([
      ['auth', 'users'],
      ['public', 'todos']
    ])
  })
})

describe('judging a restore against the backup', () => {
  const backup: CatalogFacts = {
    ...EMPTY,
    tables: [
      { name: 'public.notes', kind: 'table', rls: true, forceRls: false },
      { name: 'auth.users', kind: 'table', rls: false, forceRls: false }
    ],
    policies: [{ name: 'auth.users.own', table: 'auth.users', command: 'SELECT', permissive: true, roles: ['authenticated'], using: 'true', check: null }],
    grants: [{ name: 'table public.notes to service_role', object: 'table public.notes', role: 'service_role', privileges: ['SELECT'] }],
    extensions: [
      { name: 'pg_graphql', schema: 'graphql' },
      { name: 'postgis', schema: 'extensions' }
    ],
    sequences: [{ name: 'public.notes_id_seq', lastValue: '10' }]
  }

  test('missing objects fail, except what only the platform provides; extra grants on the backup own objects fail', () => {
    const target: CatalogFacts = {
      ...backup,
      tables: [...backup.tables, { name: 'public.other', kind: 'table', rls: false, forceRls: false }],
      policies: [],
      extensions: [],
      grants: [...backup.grants, { name: 'table public.notes to anon', object: 'table public.notes', role: 'anon', privileges: ['SELECT'] }],
      sequences: [{ name: 'public.notes_id_seq', lastValue: '12' }]
    }
    const verdict = judgeFacts(backup, diffFacts(backup, target), false)
    expect(verdict.failures.map(d => `${d.category} ${d.name} ${d.change}`)).toEqual([
      'extensions postgis missing',
      'policies auth.users.own missing',
      'grants table public.notes to anon extra'
    ])
    expect(verdict.platform.map(d => d.name)).toEqual(['pg_graphql'])
  })

  test("on a Supabase target the platform's tables are its own, the user's policies on them are not", () => {
    const target: CatalogFacts = { ...backup, tables: [backup.tables[0]], policies: [] }
    const verdict = judgeFacts(backup, diffFacts(backup, target), true)
    expect(verdict.failures.map(d => d.name)).toEqual(['auth.users.own'])
    expect(verdict.platform.map(d => d.name)).toEqual(['auth.users'])
  })

  test('a schema-only backup holds no sequence values', () => {
    const target: CatalogFacts = { ...backup, sequences: [{ name: 'public.notes_id_seq', lastValue: null }] }
    expect(proveFacts(backup, target, 'schema', false).failures).toEqual([])
    expect(proveFacts(backup, target, 'full', false).failures.map(d => d.name)).toEqual(['public.notes_id_seq'])
  })
})

describe('stored facts', () => {
  const manifest = {
    manifestVersion: 1,
    id: '20260301T020000Z-manual-abcd',
    name: 'shop',
    kind: 'manual',
    pinned: false,
    startedAt: '2026-03-01T02:00:00Z',
    finishedAt: '2026-03-01T02:01:00Z',
    database: { name: 'shop', serverVersion: '15.18', serverVersionNum: 150018 },
    tools: { pgDump: '15.18', action: '0.1.0' },
    format: 'custom',
    scope: 'full',
    filters: { schemas: [], excludeSchemas: [], tables: [], excludeTables: [] },
    compression: { algorithm: 'zstd' },
    encryption: null,
    objects: [],
    tables: [],
    schemaFacts: { rlsTables: [], policies: 0, indexes: 0, constraints: 0 }
  }

  test('an older manifest without the catalog still reads; a broken catalog fails naming the field', () => {
    expect(parseManifest(JSON.stringify(manifest), 'old.json').schemaFacts?.catalog).toBeUndefined()
    const withCatalog = { ...manifest, schemaFacts: { ...manifest.schemaFacts, catalog: EMPTY } }
    expect(parseManifest(JSON.stringify(withCatalog), 'new.json').schemaFacts?.catalog).toEqual(EMPTY)
    const broken = { ...manifest, schemaFacts: { ...manifest.schemaFacts, catalog: { ...EMPTY, policies: [{ name: 'p' }] } } }
    expect(() => parseManifest(JSON.stringify(broken), 'broken.json')).toThrow(
      'broken.json: schemaFacts.catalog.policies[0].table should be a string, not undefined'
    )
  })
})
