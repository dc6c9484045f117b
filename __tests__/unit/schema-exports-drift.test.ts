/** The pure parts of schema history, CSV exports and the drift report: no database, no git. */
import { describe, expect, test } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { driftBaseline } from '../../src/catalog/drift.js'
import { readExports } from '../../src/inputs.js'
import { changesMarkdown, schemaChanges } from '../../src/schema/changes.js'
import { normalizeSchema } from '../../src/schema/normalize.js'

const FIXTURE = readFileSync(new URL('../fixtures/pg_dump-17.6-schema.sql', import.meta.url), 'utf8')
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

describe('the exports input', () => {
  test('one "name: query" per line; longer queries continue on indented lines', () => {
    const text = [
      'customers: SELECT id, email FROM public.customers;',
      'open-orders:',
      '  SELECT o.id, o.amount -- the open ones (see ")")',
      "  FROM public.orders o WHERE o.status IN ('new', 'paid') AND o.note <> ';'",
      '',
      "  AND o.note <> $$ ) $$ AND o.note <> E'\\' ;' /* ; ) */",
      '# a comment line',
      'empty_things: SELECT * FROM public.empty_things'
    ].join('\n')
    expect(readExports(text)).toEqual([
      { name: 'customers', sql: 'SELECT id, email FROM public.customers' },
      {
        name: 'open-orders',
        sql: "SELECT o.id, o.amount -- the open ones (see \")\")\n  FROM public.orders o WHERE o.status IN ('new', 'paid') AND o.note <> ';'\n\n  AND o.note <> $$ ) $$ AND o.note <> E'\\' ;' /* ; ) */"
      },
      { name: 'empty_things', sql: 'SELECT * FROM public.empty_things' }
    ])
    expect(readExports('')).toEqual([])
  })

  test.each([
    ['SELECT 1', /line 1 does not start with a name and a colon/],
    ['  SELECT 1', /line 1 is indented but no export was named above it/],
    ['a: SELECT 1\na: SELECT 2', /"a" is named twice/],
    ['a:', /"a" has no query/],
    ['a: SELECT 1) TO STDOUT; COMMIT; DROP TABLE public.customers; COPY (SELECT 1', /the query of "a" has a "\)" without its "\("/],
    ['a: SELECT 1; DELETE FROM public.customers', /the query of "a" holds more than one statement/],
    ["a: SELECT 'open", /the query of "a" has an unterminated string/],
    ['a: SELECT (1', /has a "\(" without its "\)"/],
    ['bad name: SELECT 1', /line 1 does not start with a name and a colon/]
  ])('%j is refused', (text, message) => {
    expect(() => readExports(text)).toThrow(message)
    expect(() => readExports(text)).toThrow(/^Input "exports": /)
  })
})

test('the baseline: the newest earlier scheduled backup, else the newest earlier one; never a pre-restore snapshot', () => {
  const b = (id: string, kind: 'scheduled' | 'pre-deploy' | 'manual' | 'pre-restore', complete = true) => ({ id, kind, complete })
  const list = [b('5', 'pre-deploy'), b('4', 'pre-restore'), b('3', 'manual'), b('2', 'scheduled', false), b('1', 'scheduled'), b('0', 'scheduled')]
  expect(driftBaseline('5', list)?.id).toBe('1')
  expect(driftBaseline('3', list)?.id).toBe('1')
  expect(driftBaseline('0', list)).toBeUndefined()
  expect(driftBaseline('5', [b('5', 'pre-deploy'), b('3', 'manual')])?.id).toBe('3')
})
