import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { changesMarkdown, schemaChanges } from '../src/schema/changes.js'
import { normalizeSchema } from '../src/schema/normalize.js'
import { expectNoSecrets, runAction } from './helpers/action.js'
import { PG15_BIN_DIR, type TestCluster } from './helpers/postgres.js'
import { SAMPLE_MIGRATION, startShop } from './helpers/sample.js'

const FIXTURE = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures/pg_dump-17.6-schema.sql'), 'utf8')
const KEY = '9xQ2rLk0bVnY7eTq4uWcZp1sHd3fGj6mA8oIyKzE5RtNwXvB0lCaUiOgPhSeDf'

describe('normalizeSchema', () => {
  test('drops the \\restrict key lines and the version banner of a pg_dump 17.6 dump, nothing else', () => {
    const normalized = normalizeSchema(FIXTURE)
    // Another run, of pg_dump 17.7 against 17.7: a new key and new versions, the same normalized file.
    const rerun = FIXTURE.replace(`\\restrict ${KEY}`, `\\restrict ${'Zk3'.repeat(21)}q`)
      .replace(`\\unrestrict ${KEY}`, `\\unrestrict ${'Zk3'.repeat(21)}q`)
      .replace(/^(-- Dumped .*)17\.6 \(Debian 17\.6-1/gm, '$117.7 (Debian 17.7-1')
    expect(rerun).not.toBe(FIXTURE)
    expect(normalizeSchema(rerun)).toBe(normalized)

    const header = normalized.slice(0, normalized.indexOf('SET statement_timeout'))
    expect(header).toBe('--\n-- PostgreSQL database dump\n--\n\n')
    expect(normalized.endsWith('--\n-- PostgreSQL database dump complete\n--\n\n')).toBe(true)
    // The function body keeps its text byte for byte, even lines that look like the removed ones.
    const body = /AS \$\$\n([\s\S]*?)\$\$;/.exec(normalized)?.[1]
    expect(body).toBe(`SELECT '\n\\restrict ${KEY}\n\n-- Dumped by pg_dump version 17.6\n'\n`)
    // Everything else is untouched: removing the four lines and their blank lines gives the input back.
    const removed = FIXTURE.split('\n').length - normalized.split('\n').length
    expect(removed).toBe(2 + 3 + 2)
  })

  test('a dump without \\restrict lines only loses its banner', () => {
    const old = FIXTURE.replace(`\\restrict ${KEY}\n\n`, '').replace(`\\unrestrict ${KEY}\n\n`, '')
    expect(normalizeSchema(old)).toBe(normalizeSchema(FIXTURE))
  })
})

describe('schemaChanges', () => {
  test('names tables, columns, indexes, policies, RLS and single grants added, removed or changed', () => {
    const before = normalizeSchema(FIXTURE)
    const after = before
      .replace('    done boolean DEFAULT false NOT NULL\n', '    done boolean DEFAULT false NOT NULL,\n    due_at timestamp with time zone\n')
      .replace('    title text NOT NULL,', '    title character varying(200) NOT NULL,')
      .replace('GRANT SELECT ON TABLE public.todos TO anon;\n', '')
      .replace(/--\n-- Name: todos todos_owner; Type: POLICY[\s\S]*?\n\n\n/, '')
      .replace(
        '--\n-- PostgreSQL database dump complete',
        '--\n-- Name: todos_done_idx; Type: INDEX; Schema: public; Owner: postgres\n--\n\nCREATE INDEX todos_done_idx ON public.todos USING btree (done);\n\n\n--\n-- PostgreSQL database dump complete'
      )
    const changes = schemaChanges(before, after)
    expect(changes).toEqual(
      expect.arrayContaining([
        { what: 'columns', change: 'added', subject: 'public.todos.due_at timestamp with time zone' },
        { what: 'columns', change: 'changed', subject: 'public.todos.title', before: 'title text NOT NULL', after: 'title character varying(200) NOT NULL' },
        { what: 'indexes', change: 'added', subject: 'public.todos_done_idx' },
        { what: 'policies', change: 'removed', subject: 'public.todos → todos_owner' },
        { what: 'grants', change: 'removed', subject: 'GRANT SELECT ON TABLE public.todos TO anon' }
      ])
    )
    expect(changes).toHaveLength(5)
    const markdown = changesMarkdown(changes)
    expect(markdown).toContain('**Policies** (1)\n\n- ➖ removed `public.todos → todos_owner`')
    expect(markdown).toContain('- ➖ removed `GRANT SELECT ON TABLE public.todos TO anon`')
    expect(schemaChanges(before, before)).toEqual([])
  })
})

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
