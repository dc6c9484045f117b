import { describe, expect, test } from '@jest/globals'
import { sizeCheck, tocChecks } from '../../src/catalog/checks.js'
import { backupTime, checksumFile, kindOf, layout, newBackupId } from '../../src/catalog/manifest.js'
import { type Manifest } from '../../src/model/manifest.js'
import { parseArgs } from '../../src/cli-args.js'
import { parseConnection, sameDatabase } from '../../src/postgres/connection.js'
import { selectsTable } from '../../src/postgres/patterns.js'
import { classifyErrors } from '../../src/postgres/restore.js'
import { parseToc, tocById } from '../../src/postgres/toc.js'
import { parseToolVersion } from '../../src/postgres/tools.js'
import { Secrets } from '../../src/secrets.js'

describe('secrets', () => {
  test('every form of a secret is masked, and unknown connection URLs lose their password', () => {
    const secrets = new Secrets()
    const masked: string[] = []
    secrets.onAdd(v => masked.push(v))
    const conn = parseConnection('postgresql://app:p%40ss%3Aw0rd@db.example.com:6543/prod?sslmode=require', {}, secrets)
    expect(conn).toMatchObject({ host: 'db.example.com', port: 6543, user: 'app', password: 'p@ss:w0rd', database: 'prod', params: { sslmode: 'require' } })
    expect(masked).toEqual(expect.arrayContaining(['p@ss:w0rd', 'p%40ss%3Aw0rd']))
    const text = 'failed: p@ss:w0rd / p%40ss%3Aw0rd / postgres://other:hunter2@h/db'
    expect(secrets.redact(text)).toBe('failed: *** / *** / postgres://other:***@h/db')
  })

  test('PG* variables fill what the URL leaves out', () => {
    const conn = parseConnection('', { PGHOST: '/var/run/postgresql', PGDATABASE: 'app', PGPASSWORD: 'x1x2x3' }, new Secrets())
    expect(conn).toMatchObject({ host: '/var/run/postgresql', database: 'app', password: 'x1x2x3' })
    expect(() => parseConnection('', {}, new Secrets())).toThrow(/Input "database-url": is required/)
  })

  test('sameDatabase treats localhost forms and the default port alike', () => {
    const a = parseConnection('postgresql://u@localhost/app', {}, new Secrets())
    const b = parseConnection('postgresql://v@127.0.0.1:5432/app', {}, new Secrets())
    const c = parseConnection('postgresql://u@127.0.0.1:5432/other', {}, new Secrets())
    expect(sameDatabase(a, b)).toBe(true)
    expect(sameDatabase(a, c)).toBe(false)
  })
})

describe('pg_dump table selection', () => {
  const none = { schemas: [], excludeSchemas: [], tables: [], excludeTables: [] }
  test.each([
    [{}, 'public', 'orders', true],
    [{ schemas: ['app'] }, 'public', 'orders', false],
    [{ schemas: ['app*'] }, 'app_v2', 'x', true],
    [{ excludeSchemas: ['audit'] }, 'audit', 'log', false],
    [{ tables: ['orders'] }, 'public', 'orders', true],
    [{ tables: ['orders'] }, 's', 'orders', false],
    [{ tables: ['s.ord?rs'] }, 's', 'orders', true],
    [{ tables: ['"Mixed"'] }, 'public', 'Mixed', true],
    [{ tables: ['Mixed'] }, 'public', 'Mixed', false],
    [{ schemas: ['s'], tables: ['public.u'] }, 'public', 'u', true],
    [{ tables: ['public.*'], excludeTables: ['public.big_*'] }, 'public', 'big_log', false]
  ])('%j selects %s.%s: %s', (filters, schema, table, expected) => {
    expect(selectsTable({ ...none, ...filters }, schema, table)).toBe(expected)
  })
})

describe('ids and layout', () => {
  test('ids carry the UTC start time and the kind, and sort in time order', () => {
    const id = newBackupId(new Date('2026-03-01T02:00:00.123Z'), 'pre-deploy', () => 0.5)
    expect(id).toBe('20260301T020000Z-pre-deploy-8000')
    expect(kindOf(id)).toBe('pre-deploy')
    expect(backupTime(id).toISOString()).toBe('2026-03-01T02:00:00.000Z')
    expect(layout.idOf(`${id}.dump.zst.gpg`)).toBe(id)
    expect(layout.idOf('notes.txt')).toBeUndefined()
    expect(checksumFile([{ role: 'data', file: 'a.dump', size: 1, sha256: 'f'.repeat(64) }])).toBe(`${'f'.repeat(64)}  a.dump\n`)
  })
})

describe('archive checks', () => {
  const listing = `;
; Archive created at 2026-11-21
214; 1259 16385 TABLE public orders postgres
3344; 0 16385 TABLE DATA public orders postgres
3345; 0 16392 TABLE DATA app audit_log postgres
3201; 2606 16391 CONSTRAINT public orders orders_pkey postgres
3202; 1259 16400 INDEX public orders_customer_idx postgres
3203; 2606 16401 FK CONSTRAINT public orders orders_customer_fk postgres
3360; 0 0 ROW SECURITY public orders postgres
3361; 3256 16410 POLICY public orders orders_read postgres
`
  const manifest = {
    scope: 'full',
    tables: [
      { schema: 'public', table: 'orders', rows: 10 },
      { schema: 'app', table: 'audit_log', rows: 0 }
    ],
    schemaFacts: { rlsTables: ['public.orders'], policies: 1, indexes: 1, constraints: 2 }
  } as unknown as Manifest

  test('pg_restore --list parses, multi-word kinds included', () => {
    const toc = parseToc(listing)
    expect(toc.map(e => e.desc)).toEqual(['TABLE', 'TABLE DATA', 'TABLE DATA', 'CONSTRAINT', 'INDEX', 'FK CONSTRAINT', 'ROW SECURITY', 'POLICY'])
    expect(toc[7]).toEqual({ desc: 'POLICY', schema: 'public', tag: 'orders orders_read', owner: 'postgres' })
  })

  test('a matching archive passes; missing tables, policies and empty critical tables fail', () => {
    expect(tocChecks(manifest, parseToc(listing), ['orders']).every(c => c.ok)).toBe(true)
    const broken = parseToc(listing.replace(/.*POLICY.*\n/, '').replace(/.*DATA app.*\n/, ''))
    const failed = tocChecks(manifest, broken, ['app.audit_log']).filter(c => !c.ok)
    expect(failed.map(c => c.name)).toEqual(['tables', 'critical tables', 'row level security'])
    expect(failed[0].detail).toBe('missing from the archive: app.audit_log')
  })

  test('size check compares with the median of earlier backups', () => {
    expect(sizeCheck(100, [], 50)).toMatchObject({ ok: false })
    expect(sizeCheck(10_000, [], 50)).toMatchObject({ ok: true })
    expect(sizeCheck(10_000, [9_000, 10_000, 50_000], 50)).toMatchObject({ ok: true })
    expect(sizeCheck(20_000, [9_000, 10_000, 11_000], 50)).toMatchObject({ ok: false, detail: expect.stringContaining('+100.0%') })
  })
})

describe('restore errors', () => {
  test('errors are judged by the TOC entry they came from, never by their wording', () => {
    const toc = tocById(
      [
        '9; 2615 16456 SCHEMA - auth supabase_admin',
        '3573; 3256 16630 POLICY public todos own rows postgres',
        '3591; 0 16544 TABLE DATA realtime subscription supabase_admin',
        '3; 3079 16411 EXTENSION - pg_graphql ',
        '3330; 3466 16455 EVENT TRIGGER - issue_pg_cron_access supabase_admin',
        '3626; 0 0 ACL auth TABLE users supabase_auth_admin',
        '304; 1255 16647 FUNCTION public handle_new_user() postgres',
        '3397; 2606 16569 CONSTRAINT realtime messages_2026_11_29 messages_2026_11_29_pkey supabase_admin'
      ].join('\n')
    )
    const error = (id: number, message: string, command?: string) => [
      `pg_restore: from TOC entry ${id}; 0 0 X y z`,
      `pg_restore: error: could not execute query: ERROR:  ${message}`,
      ...(command ? [`Command was: ${command}`, ''] : [])
    ]
    const stderr = [
      'pg_restore: while PROCESSING TOC:',
      ...error(9, 'role "supabase_admin" does not exist', 'ALTER SCHEMA auth OWNER TO supabase_admin;'),
      ...error(3573, 'role "authenticated" does not exist', 'CREATE POLICY "own rows" ON public.todos TO authenticated USING (true);'),
      'pg_restore: from TOC entry 3591; 0 16544 TABLE DATA subscription supabase_admin',
      'pg_restore: error: COPY failed for table "subscription": ERROR:  role "authenticated" does not exist',
      'CONTEXT:  COPY subscription, line 1, column claims_role: "authenticated"',
      ...error(3, 'extension "pg_graphql" is not available', 'CREATE EXTENSION IF NOT EXISTS pg_graphql;'),
      ...error(3330, 'permission denied to create event trigger "issue_pg_cron_access"', 'CREATE EVENT TRIGGER issue_pg_cron_access ON ddl_command_end;'),
      ...error(3626, 'permission denied for table users', 'GRANT ALL ON TABLE auth.users TO dashboard_user;'),
      ...error(304, 'permission denied to set parameter "search_path"', 'CREATE FUNCTION public.handle_new_user() RETURNS trigger;'),
      ...error(
        3397,
        'cannot drop inherited constraint "messages_2026_11_29_pkey"',
        'ALTER TABLE IF EXISTS ONLY realtime.messages_2026_11_29 DROP CONSTRAINT IF EXISTS messages_2026_11_29_pkey;'
      ),
      'pg_restore: error: could not execute query: ERROR:  role "anon" does not exist',
      'Command was: ALTER TABLE public.notes OWNER TO anon;',
      'pg_restore: warning: errors ignored on restore: 10'
    ].join('\n')
    const errors = classifyErrors(stderr, { toc })
    expect(errors.map(e => [e.entry, e.expected])).toEqual([
      ['SCHEMA auth', 'ownership by a platform role'],
      ['POLICY public.todos own rows', undefined],
      ['TABLE DATA realtime.subscription', undefined],
      ['EXTENSION pg_graphql', 'platform extension the target lacks'],
      ['EVENT TRIGGER issue_pg_cron_access', 'platform event trigger'],
      ['ACL TABLE auth.users', 'privileges on a platform object'],
      ['FUNCTION public.handle_new_user()', undefined],
      ['CONSTRAINT realtime.messages_2026_11_29 messages_2026_11_29_pkey', undefined],
      [undefined, undefined]
    ])
    expect(errors[2].message).toBe('role "authenticated" does not exist')
    expect(errors.every(e => !e.message.includes('Command was'))).toBe(true)
    // The same drop during --clean goes with its table.
    const clean = classifyErrors(stderr, { toc, clean: true })
    expect(clean[7].expected).toBe('clean: dropped with its table')
  })
})

describe('tools and CLI', () => {
  test('client versions parse', () => {
    expect(parseToolVersion('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)')).toEqual({ major: 15, version: '15.18' })
    expect(parseToolVersion('pg_dump (PostgreSQL) 17beta1')).toEqual({ major: 17, version: '17' })
  })

  test('CLI flags map to inputs', () => {
    const flags = parseArgs(['drill', '--path', '/b', '--jobs=4', '--dry-run', '--name', 'shop'])
    expect(Object.fromEntries(flags)).toEqual({ command: 'drill', path: '/b', jobs: '4', 'dry-run': 'true', name: 'shop' })
    expect(() => parseArgs(['backup', 'oops'])).toThrow(/unexpected argument "oops"/)
  })
})
