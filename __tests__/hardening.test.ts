/**
 * Issue 10's defects, each on a real PostgreSQL 15: odd names, search_path, large objects,
 * exact restore names, lock waits and keepalives, URLs with unencoded passwords, drills on
 * scratch databases with timeouts, and two backups of one set at once.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { execFile, execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { backup } from '../src/commands/backup.js'
import { tocChecks } from '../src/catalog/checks.js'
import type { Manifest } from '../src/model/manifest.js'
import { parseTableName } from '../src/postgres/names.js'
import { parseToc, tableData } from '../src/postgres/toc.js'
import { redactUrls } from '../src/secrets.js'
import { LocalStorage } from '../src/storage/local.js'
import { expectNoSecrets, runAction, testContext } from './helpers/action.js'
import { PG15_BIN_DIR, startCluster, type TestCluster } from './helpers/postgres.js'

let cluster: TestCluster
let dir: string

beforeAll(async () => {
  cluster = await startCluster()
  dir = mkdtempSync(join(tmpdir(), 'pgb-hardening-'))
})

afterAll(async () => {
  await cluster?.stop()
})

const manifestOf = (name: string, id: string): Manifest => JSON.parse(readFileSync(join(dir, name, `${id}.manifest.json`), 'utf8'))
const local = (name: string) => ({ storage: 'local', path: dir, name })

describe('names with spaces, quotes, dots, upper case and unicode', () => {
  const ODD = String.raw`
    CREATE ROLE "app owner x";
    CREATE SCHEMA "sales eu" AUTHORIZATION "app owner x";
    CREATE TABLE "sales eu"."Q1 orders" (id int PRIMARY KEY, total numeric);
    ALTER TABLE "sales eu"."Q1 orders" OWNER TO "app owner x";
    ALTER TABLE "sales eu"."Q1 orders" ENABLE ROW LEVEL SECURITY;
    CREATE POLICY "read all" ON "sales eu"."Q1 orders" USING (true);
    INSERT INTO "sales eu"."Q1 orders" SELECT i, i * 1.5 FROM generate_series(1, 40) i;
    CREATE TABLE "sales eu"."Q1" (x int);
    INSERT INTO "sales eu"."Q1" VALUES (1);
    CREATE TABLE public."Order" (id int PRIMARY KEY, note text);
    INSERT INTO public."Order" SELECT i, 'order ' || i FROM generate_series(1, 30) i;
    CREATE TABLE public."a+b" (x int);
    INSERT INTO public."a+b" SELECT generate_series(1, 20);
    CREATE TABLE public."my.table" (x int);
    INSERT INTO public."my.table" SELECT generate_series(1, 10);
    CREATE TABLE public."it's ""quoted""" (x int);
    INSERT INTO public."it's ""quoted""" VALUES (1), (2);
    CREATE SCHEMA "Ünïcödé";
    CREATE TABLE "Ünïcödé"."tëst täble" (x int);
    INSERT INTO "Ünïcödé"."tëst täble" VALUES (7);`
  let id: string

  beforeAll(async () => {
    await cluster.createDatabase('odd')
    await cluster.query('odd', ODD)
  })

  test('a backup verifies and is published, and the TOC names every table exactly', async () => {
    const run = await runAction({ ...local('odd'), 'database-url': cluster.url('odd'), compression: 'none' })
    expect(run.failure).toBeUndefined()
    id = run.outputs['backup-id']
    expect(run.outputs.verified).toBe('true')
    const manifest = manifestOf('odd', id)
    expect(manifest.tables).toHaveLength(7)
    expect(manifest.schemaFacts?.rlsTables).toEqual(['sales eu.Q1 orders'])
    // Real pg_restore --list output of the same archive.
    const listing = execFileSync(join(PG15_BIN_DIR, 'pg_restore'), ['--list', join(dir, 'odd', manifest.objects[0].file)], { encoding: 'utf8' })
    const toc = parseToc(listing)
    const entries = manifest.tables.map(t => tableData(toc, t, manifest.tables))
    expect(entries.every(e => e?.desc === 'TABLE DATA')).toBe(true)
    expect(new Set(entries).size).toBe(7)
    expect(tocChecks(manifest, toc, ['"sales eu"."Q1 orders"']).filter(c => !c.ok && c.name !== 'critical tables')).toEqual([])
  })

  test('a drill of that backup passes', async () => {
    await cluster.createDatabase('odd_drill')
    const run = await runAction({ ...local('odd'), command: 'drill', backup: id, 'target-database-url': cluster.url('odd_drill') })
    expect(run.failure).toBeUndefined()
    expect(JSON.parse(run.outputs.report)).toMatchObject({ passed: true, mismatches: [], tables: 7 })
  })

  test('restore with tables takes exact, SQL-quoted names, for the safety snapshot and the restore', async () => {
    await cluster.createDatabase('odd_target')
    await cluster.query('odd_target', ODD.replace(/CREATE ROLE[^;]*;/, ''))
    await cluster.query(
      'odd_target',
      `DELETE FROM public."Order"; DELETE FROM public."a+b" WHERE x > 5; UPDATE public."my.table" SET x = -x; DELETE FROM public."it's ""quoted"""`
    )
    const untouched = await cluster.query('odd_target', 'SELECT count(*)::int AS n FROM "sales eu"."Q1 orders"')
    await cluster.query('odd_target', 'DELETE FROM "sales eu"."Q1 orders" WHERE id > 10')
    const run = await runAction({
      ...local('odd'),
      command: 'restore',
      backup: id,
      'target-database-url': cluster.url('odd_target'),
      confirm: 'odd_target',
      tables: `public."Order", public."a+b", public."my.table", "public"."it's ""quoted"""`
    })
    expect(run.failure).toBeUndefined()
    const count = async (table: string) => (await cluster.query<{ n: number }>('odd_target', `SELECT count(*)::int AS n FROM ${table}`))[0].n
    expect(await count('public."Order"')).toBe(30)
    expect(await count('public."a+b"')).toBe(20)
    expect(await cluster.query('odd_target', 'SELECT sum(x)::int AS s FROM public."my.table"')).toEqual([{ s: 55 }])
    expect(await count(`public."it's ""quoted"""`)).toBe(2)
    // Not named: left as it was.
    expect(untouched[0].n).toBe(40)
    expect(await count('"sales eu"."Q1 orders"')).toBe(10)
    // The safety snapshot holds exactly the named tables, as they were before.
    const safety = manifestOf('odd', run.outputs['safety-backup-id'])
    expect(safety.tables.map(t => `${t.schema}.${t.table}:${t.rows}`).sort()).toEqual([
      'public.Order:0',
      'public.a+b:5',
      'public.it\'s "quoted":0',
      'public.my.table:10'
    ])
  })

  test('exact names: quoting, folding, and what is refused', () => {
    expect(parseTableName('orders')).toEqual({ schema: 'public', table: 'orders' })
    expect(parseTableName('Sales.Orders')).toEqual({ schema: 'sales', table: 'orders' })
    expect(parseTableName('public."my.table"')).toEqual({ schema: 'public', table: 'my.table' })
    expect(parseTableName('"sales eu"."it""s"')).toEqual({ schema: 'sales eu', table: 'it"s' })
    expect(() => parseTableName('public.a+b')).toThrow(/"a\+b" is not a plain name; put names with other characters in double quotes/)
    expect(() => parseTableName('a.b.c')).toThrow(/give schema.table/)
    expect(() => parseTableName('public."open')).toThrow(/unterminated quote/)
  })
})

describe('unqualified tables resolve on the database search_path, as pg_dump does', () => {
  test('the table pg_dump dumps is the one counted and verified', async () => {
    await cluster.createDatabase('sp')
    await cluster.query(
      'sp',
      `CREATE SCHEMA app;
       CREATE TABLE app.only_app AS SELECT generate_series(1, 7) AS x;
       CREATE TABLE app.both AS SELECT generate_series(1, 3) AS x;
       CREATE TABLE public.both AS SELECT generate_series(1, 100) AS x;
       ALTER DATABASE sp SET search_path = app, public`
    )
    const run = await runAction({ ...local('sp'), 'database-url': cluster.url('sp'), tables: 'both, only_app' })
    expect(run.failure).toBeUndefined()
    expect(run.summary).toMatch(/all 2 tables have data entries/)
    expect(manifestOf('sp', run.outputs['backup-id']).tables).toEqual([
      { schema: 'app', table: 'both', rows: 3 },
      { schema: 'app', table: 'only_app', rows: 7 }
    ])
  })
})

describe('large objects', () => {
  test('a backup with tables: keeps them, counts them, and a drill proves them', async () => {
    await cluster.createDatabase('lo')
    await cluster.query(
      'lo',
      `CREATE SCHEMA other; CREATE TABLE other.t (x int);
       CREATE TABLE public.docs (id int PRIMARY KEY, body oid);
       INSERT INTO public.docs VALUES (1, lo_from_bytea(0, 'first document')), (2, lo_from_bytea(0, convert_to(repeat('x', 100000), 'UTF8')))`
    )
    const run = await runAction({ ...local('lo'), 'database-url': cluster.url('lo'), tables: 'public.docs' })
    expect(run.failure).toBeUndefined()
    const id = run.outputs['backup-id']
    expect(manifestOf('lo', id).largeObjects).toBe(2)
    expect(run.summary).toMatch(/large objects \| ✅ pass \| 2 of 2 large objects with their data in the archive/)

    await cluster.createDatabase('lo_drill')
    const drill = await runAction({ ...local('lo'), command: 'drill', backup: id, 'target-database-url': cluster.url('lo_drill') })
    expect(drill.failure).toBeUndefined()
    const content = 'SELECT d.id, md5(lo_get(d.body)) AS body FROM public.docs d ORDER BY 1'
    expect(await cluster.query('lo_drill', content)).toEqual(await cluster.query('lo', content))

    // A drill counts them: one the manifest counted but the restore did not bring back fails it.
    const path = join(dir, 'lo', `${id}.manifest.json`)
    writeFileSync(path, JSON.stringify({ ...manifestOf('lo', id), largeObjects: 3 }))
    await cluster.createDatabase('lo_drill2')
    const short = await runAction({ ...local('lo'), command: 'drill', backup: id, 'target-database-url': cluster.url('lo_drill2') })
    expect(short.failure).toMatch(/^Drill of backup \S+ failed: pg_largeobject_metadata has 2 rows, the backup had 3/)
  })

  test('verify fails an archive without the large objects its manifest counted', () => {
    const listing = '3344; 0 16385 TABLE DATA public docs postgres\n'
    const manifest = { scope: 'full', tables: [], largeObjects: 2 } as unknown as Manifest
    expect(tocChecks(manifest, parseToc(listing), []).find(c => c.name === 'large objects')).toEqual({
      name: 'large objects',
      ok: false,
      detail: '0 of 2 large objects in the archive'
    })
  })

  test('large-objects: false leaves them out, and says none were dumped', async () => {
    const run = await runAction({ ...local('lo'), 'database-url': cluster.url('lo'), 'large-objects': 'false' })
    expect(run.failure).toBeUndefined()
    expect(manifestOf('lo', run.outputs['backup-id']).largeObjects).toBeUndefined()
  })
})

describe('lock waits and keepalives', () => {
  test('a table locked by another session fails the backup after lock-timeout, naming the table and the session', async () => {
    await cluster.createDatabase('locked')
    await cluster.query('locked', 'CREATE TABLE public.free AS SELECT 1 AS x; CREATE TABLE public.busy AS SELECT generate_series(1, 5) AS x')
    const holder = new pg.Client({ connectionString: cluster.url('locked'), application_name: 'nightly-migration' })
    await holder.connect()
    try {
      await holder.query('BEGIN')
      await holder.query('LOCK TABLE public.busy IN ACCESS EXCLUSIVE MODE')
      await holder.query('SELECT 42 AS migrating')
      const { ctx } = testContext({ ...local('locked'), 'database-url': cluster.url('locked') })
      ctx.settings.lockTimeoutMs = 4000
      const started = Date.now()
      const running = backup(ctx, { verify: true })
      running.catch(() => undefined)
      // While pg_dump waits for its lock, its connection has TCP keepalives on.
      await new Promise(resolve => setTimeout(resolve, 1500))
      const sockets = execFileSync('ss', ['-tnpo', 'state', 'established', `dport = :${cluster.port}`], { encoding: 'utf8' })
      expect(sockets.split('\n').filter(l => l.includes('"pg_dump"'))).toEqual([expect.stringMatching(/timer:\(keepalive,/)])
      await expect(running).rejects.toThrow(
        /^Gave up waiting for a table lock after lock-timeout \(4 s\) on public\.busy: public\.busy is locked by session \d+ \(application "nightly-migration", query: SELECT 42 AS migrating\)/
      )
      expect(Date.now() - started).toBeLessThan(30_000)
      expect(existsSync(join(dir, 'locked')) ? readdirSync(join(dir, 'locked')) : []).toEqual([])
    } finally {
      await holder.end()
    }
  })

  test('lock-timeout is an input with a default', () => {
    expect(testContext({}).ctx.settings.lockTimeoutMs).toBe(5 * 60 * 1000)
    expect(testContext({ 'lock-timeout': '2min' }).ctx.settings.lockTimeoutMs).toBe(2 * 60 * 1000)
    expect(() => testContext({ 'lock-timeout': 'soon' })).toThrow(/Input "lock-timeout": "soon"/)
  })
})

describe('a URL whose password was not percent-encoded', () => {
  const PASSWORD = '4/Qx9+Lm2vT0ab'
  test('is refused before connecting, without echoing it', async () => {
    const run = await runAction({ ...local('x'), 'database-url': `postgresql://postgres:${PASSWORD}@127.0.0.1:${cluster.port}/postgres` })
    expect(run.failure).toMatch(/^Input "database-url": does not parse as one user:password@host: .*percent-encode it \(e\.g\. \/ as %2F/)
    expectNoSecrets([run.log], [PASSWORD, 'Qx9', 'Lm2vT0ab'])
    const hash = await runAction({ ...local('x'), 'database-url': `postgresql://postgres:12#cd@127.0.0.1:${cluster.port}/postgres` })
    expect(hash.failure).toMatch(/^Input "database-url": does not parse/)
    expectNoSecrets([hash.log], ['12#cd', '#cd'])
  })

  test('the redactor masks URL-like passwords it never parsed, and leaves the help text alone', async () => {
    expect(redactUrls(`Could not connect to postgres:${PASSWORD}@host:5432/db`)).toBe('Could not connect to postgres:***@host:5432/db')
    expect(redactUrls(`postgresql://postgres:${PASSWORD}@host:5432/db`)).toBe('postgresql://postgres:***@host:5432/db')
    const json = JSON.stringify({ drilledAt: '2026-12-01T21:33:27.089Z', from: 'https://h:443/x', target: 'postgres@127.0.0.1:5432/db' })
    expect(redactUrls(json)).toBe(json)
    const help = await runAction({ ...local('x'), 'database-url': 'mysql://root@db/x' })
    expect(help.failure).toBe('Input "database-url": must be a URL of the form postgresql://user:password@host:5432/database')
  })
})

describe('drill on a scratch database with timeouts', () => {
  test('its own sessions run without them, and a failing check-sql is stored in the report', async () => {
    await cluster.createDatabase('counted')
    await cluster.query('counted', 'CREATE TABLE public.big AS SELECT generate_series(1, 300000) AS x')
    const run = await runAction({ ...local('counted'), 'database-url': cluster.url('counted') })
    expect(run.failure).toBeUndefined()
    const id = run.outputs['backup-id']
    // Counting 300,000 rows takes longer than 5 ms; pg_restore resets the timeout for itself.
    await cluster.createDatabase('strict')
    await cluster.query('postgres', "ALTER DATABASE strict SET statement_timeout = '5ms'")
    const passing = await runAction({ ...local('counted'), command: 'drill', backup: id, 'target-database-url': cluster.url('strict') })
    expect(passing.failure).toBeUndefined()
    expect(JSON.parse(passing.outputs.report)).toMatchObject({ passed: true, tables: 1, rows: 300000 })

    await cluster.createDatabase('strict2')
    await cluster.query('postgres', "ALTER DATABASE strict2 SET statement_timeout = '5ms'")
    const failing = await runAction({
      ...local('counted'),
      command: 'drill',
      backup: id,
      'target-database-url': cluster.url('strict2'),
      'check-sql': 'SELECT 1 / 0'
    })
    expect(failing.failure).toMatch(/^Drill of backup \S+ failed: check-sql failed: division by zero/)
    const stored = JSON.parse(readFileSync(join(dir, 'counted', `${id}.drill.json`), 'utf8'))
    expect(stored).toMatchObject({ passed: false, mismatches: [], checkSql: { ok: false, error: 'division by zero' } })
  })
})

describe('two backups of one local set at once', () => {
  test('listing tolerates files that vanish while it runs', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pgb-vanish-'))
    const set = join(root, 'set')
    execFileSync('mkdir', ['-p', set])
    for (let i = 0; i < 3000; i++) writeFileSync(join(set, `f${i}.partial-1`), '')
    const storage = new LocalStorage(root)
    const listing = storage.list('set/')
    // Rename every file (as a finishing upload does) while the listing runs.
    const renaming = (async () => {
      for (let i = 0; i < 3000; i++) {
        renameSync(join(set, `f${i}.partial-1`), join(set, `f${i}`))
        if (i % 50 === 0) await new Promise(resolve => setImmediate(resolve))
      }
    })()
    const [listed] = await Promise.all([listing, renaming])
    expect(listed.length).toBeLessThanOrEqual(3000)
    await promisify(execFile)('rm', ['-rf', root])
  })

  test('both publish', async () => {
    await cluster.createDatabase('twice')
    await cluster.query('twice', 'CREATE TABLE public.t AS SELECT generate_series(1, 200000) AS x')
    const runs = await Promise.all([1, 2].map(() => runAction({ ...local('twice'), 'database-url': cluster.url('twice') })))
    expect(runs.map(r => r.failure)).toEqual([undefined, undefined])
    const manifests = readdirSync(join(dir, 'twice')).filter(f => f.endsWith('.manifest.json'))
    expect(manifests.sort()).toEqual(runs.map(r => `${r.outputs['backup-id']}.manifest.json`).sort())
    expect(readdirSync(join(dir, 'twice')).filter(f => f.includes('.partial-'))).toEqual([])
  })
})
