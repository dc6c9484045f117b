import { describe, expect, test } from '@jest/globals'
import { sizeCheck, tocChecks } from '../../src/catalog/checks.js'
import { backupTime, checksumFile, kindOf, layout, newBackupId } from '../../src/catalog/manifest.js'
import { type Manifest } from '../../src/model/manifest.js'
import { parseArgs } from '../../src/cli-args.js'
import { parseConnection, sameDatabase } from '../../src/postgres/connection.js'
import { selectsTable } from '../../src/postgres/patterns.js'
import { classifyErrors } from '../../src/postgres/restore.js'
import { parseToc } from '../../src/postgres/toc.js'
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
  test('platform roles and extensions are expected, the rest is not', () => {
    const stderr = [
      'pg_restore: error: could not execute query: ERROR:  role "anon" does not exist',
      'Command was: ALTER TABLE public.notes OWNER TO anon;',
      'pg_restore: error: could not execute query: ERROR:  extension "pg_graphql" is not available',
      'pg_restore: error: could not execute query: ERROR:  relation "public.x" does not exist',
      'pg_restore: warning: errors ignored on restore: 3'
    ].join('\n')
    const errors = classifyErrors(stderr)
    expect(errors.map(e => Boolean(e.expected))).toEqual([true, true, false])
    expect(errors[2].message).toBe('relation "public.x" does not exist')
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
