import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { schemaChanges } from '../src/schema/changes.js'
import { normalizeSchema } from '../src/schema/normalize.js'
import { expectNoSecrets, runAction } from './helpers/action.js'
import { PG15_BIN_DIR, type TestCluster } from './helpers/postgres.js'
import { SAMPLE_MIGRATION, startShop } from './helpers/sample.js'

describe('command: schema', () => {
  let pg: TestCluster
  let workspace: string
  beforeAll(async () => {
    pg = await startShop()
    await pg.query('shop', 'CREATE ROLE anon NOLOGIN; CREATE ROLE authenticated NOLOGIN; GRANT SELECT ON public.orders TO anon, authenticated')
  })
  afterAll(async () => {
    await pg?.stop()
    if (workspace) rmSync(workspace, { recursive: true, force: true })
  })

  const runSchema = (extra: Record<string, string> = {}) =>
    runAction({ command: 'schema', 'database-url': pg.url('shop'), 'pg-bin-dir': PG15_BIN_DIR, ...extra }, { GITHUB_WORKSPACE: workspace })

  test('writes db/schema.sql; an unchanged database gives the same bytes; a migration shows exactly', async () => {
    workspace = mkdtempSync(join(tmpdir(), 'pgb-schema-'))
    const first = await runSchema()
    expect(first.failure).toBeUndefined()
    expect(first.outputs).toMatchObject({ changed: 'true', 'schema-file': 'db/schema.sql' })
    expectNoSecrets([first.log, JSON.stringify(first.outputs)], [pg.password, encodeURIComponent(pg.password)])
    const path = join(workspace, 'db/schema.sql')
    const written = readFileSync(path, 'utf8')
    expect(written).toContain('CREATE TABLE public.customers (')
    expect(written).toContain('GRANT SELECT ON TABLE public.orders TO anon;')
    expect(written).not.toMatch(/Dumped (from|by)/)
    // pg_dump 15.14 and later (17.6, 16.10, …) write a fresh \\restrict key on every run: gone from the file.
    const raw = execFileSync(join(PG15_BIN_DIR, 'pg_dump'), ['--schema-only', '--format=plain', pg.url('shop')], { encoding: 'utf8' })
    expect(raw).toMatch(/^\\restrict \w+$/m)
    expect(raw).toMatch(/^\\unrestrict \w+$/m)
    expect(written).not.toMatch(/^\\(un)?restrict/m)
    expect(normalizeSchema(raw)).toBe(written)

    const second = await runSchema()
    expect(second.outputs.changed).toBe('false')
    expect(readFileSync(path, 'utf8')).toBe(written)
    expect(second.summary).toContain('unchanged')

    await pg.query('shop', SAMPLE_MIGRATION)
    const third = await runSchema()
    expect(third.outputs.changed).toBe('true')
    const changes = schemaChanges(written, readFileSync(path, 'utf8'))
    expect(changes.map(c => `${c.what} ${c.change} ${c.subject}`).sort()).toEqual([
      'columns added public.customers.phone text',
      'grants removed GRANT SELECT ON TABLE public.orders TO anon',
      'indexes added public.orders_amount_idx',
      'policies removed public.orders → orders_insert_positive'
    ])
    expect(third.summary).toContain('➖ removed `public.orders → orders_insert_positive`')
  })

  test('applies the backup filters and writes where schema-file says', async () => {
    const run = await runSchema({ 'exclude-schemas': 'app', 'schema-file': 'supabase/schema.sql' })
    expect(run.failure).toBeUndefined()
    const written = readFileSync(join(workspace, 'supabase/schema.sql'), 'utf8')
    expect(written).toContain('CREATE TABLE public.orders')
    expect(written).not.toContain('audit_log')
  })

  test('a schema-file outside the workspace fails before connecting', async () => {
    const run = await runSchema({ 'schema-file': '../elsewhere.sql', 'database-url': 'postgresql://nobody@127.0.0.1:1/x' })
    expect(run.failure).toMatch(/^Input "schema-file": "\.\.\/elsewhere\.sql" must be a path inside the repository/)
  })
})
