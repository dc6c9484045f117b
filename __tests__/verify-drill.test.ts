import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expectNoSecrets, runAction } from './helpers/action.js'
import { startCluster, type TestCluster } from './helpers/postgres.js'
import { databaseFingerprint, startShop } from './helpers/sample.js'

const PASSPHRASE = 'drill passphrase 42'
let pg: TestCluster
let dir: string
let id: string

const manifestPath = (backupId = id) => join(dir, 'shop', `${backupId}.manifest.json`)
const dataPath = (backupId = id) => join(dir, 'shop', `${backupId}.dump.zst.gpg`)
const common = () => ({ storage: 'local', path: dir, name: 'shop', 'encryption-passphrase': PASSPHRASE })

/** Runs `change` on a copy of the manifest for the duration of `work`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test code pokes at arbitrary manifest fields
async function withManifest<T>(change: (m: Record<string, any>) => void, work: () => Promise<T>): Promise<T> {
  const original = readFileSync(manifestPath(), 'utf8')
  const manifest = JSON.parse(original)
  change(manifest)
  writeFileSync(manifestPath(), JSON.stringify(manifest))
  try {
    return await work()
  } finally {
    writeFileSync(manifestPath(), original)
  }
}

beforeAll(async () => {
  pg = await startShop()
  dir = mkdtempSync(join(tmpdir(), 'pgb-drill-'))
  const run = await runAction({ ...common(), 'database-url': pg.url('shop'), verify: 'false' })
  expect(run.failure).toBeUndefined()
  id = run.outputs['backup-id']
})

afterAll(async () => {
  await pg?.stop()
})

describe('verify', () => {
  test('a good encrypted backup verifies, every check listed', async () => {
    const run = await runAction({ ...common(), command: 'verify', 'critical-tables': 'public.orders, customers' })
    expect(run.failure).toBeUndefined()
    expect(run.outputs).toEqual({ 'backup-id': id, verified: 'true' })
    for (const check of ['checksum', 'archive readable', 'tables', 'critical tables', 'row level security', 'indexes and constraints', 'size']) {
      expect(run.summary).toMatch(new RegExp(`\\| ${check} \\| ✅ pass`))
    }
    expect(run.summary).toMatch(/1 table\(s\) with RLS, 2 of 2 policies/)
  })

  test('one flipped byte fails with a checksum message', async () => {
    const original = readFileSync(dataPath())
    const flipped = Buffer.from(original)
    flipped[Math.floor(flipped.length / 2)] ^= 0x01
    writeFileSync(dataPath(), flipped)
    try {
      const run = await runAction({ ...common(), command: 'verify', backup: id })
      expect(run.failure).toMatch(
        /^Verify failed for backup \S+: checksum: Checksum mismatch for .*\.dump\.zst\.gpg: the manifest says \d+ bytes with sha256 [0-9a-f]{64}, the stored object has/
      )
      expect(run.summary).toMatch(/\| checksum \| ❌ fail/)
    } finally {
      writeFileSync(dataPath(), original)
    }
  })

  test('an archive missing a table its manifest lists fails', async () => {
    const run = await withManifest(
      m => m.tables.push({ schema: 'public', table: 'ghost', rows: 5 }),
      () => runAction({ ...common(), command: 'verify' })
    )
    expect(run.failure).toMatch(/tables: missing from the archive: public\.ghost/)
  })

  test('a critical table without rows fails', async () => {
    const run = await runAction({ ...common(), command: 'verify', 'critical-tables': 'public.empty_things' })
    expect(run.failure).toMatch(/critical tables: public\.empty_things had no rows/)
  })

  test("a size far from the set's median is flagged", async () => {
    const run = await withManifest(
      () => undefined,
      async () => {
        await pg.query('shop', 'CREATE TABLE public.bulk AS SELECT i, md5(random()::text) || md5(random()::text) AS t FROM generate_series(1, 100000) i')
        try {
          return await runAction({ ...common(), 'database-url': pg.url('shop'), 'max-size-change': '50' })
        } finally {
          await pg.query('shop', 'DROP TABLE public.bulk')
        }
      }
    )
    expect(run.failure).toMatch(
      /Backup \S+ was published, but verify flagged it: size: \d+ bytes, \+\d+\.\d% against the median of 1 earlier backup\(s\) \(limit ±50%\)/
    )
    expect(run.outputs['backup-id']).toBeUndefined()
  })

  test('encrypted backups need the passphrase, and say so', async () => {
    const none = await runAction({ ...common(), command: 'verify', 'encryption-passphrase': '', backup: id })
    expect(none.failure).toMatch(/Input "encryption-passphrase": backup \S+ is encrypted; set encryption-passphrase/)
    const wrong = await runAction({ ...common(), command: 'verify', 'encryption-passphrase': 'not it', backup: id })
    expect(wrong.failure).toMatch(/gpg could not decrypt the backup: the encryption-passphrase is wrong/)
    expectNoSecrets([none.log, wrong.log], [PASSPHRASE, 'not it'])
  })
})

describe('drill', () => {
  test('restores the backup and proves every table and row came back', async () => {
    await pg.createDatabase('drill_ok')
    const run = await runAction({
      ...common(),
      command: 'drill',
      backup: id,
      'target-database-url': pg.url('drill_ok'),
      jobs: '2',
      'check-sql': 'SELECT id FROM public.orders WHERE customer_id NOT IN (SELECT id FROM public.customers)'
    })
    expect(run.failure).toBeUndefined()
    const report = JSON.parse(run.outputs.report)
    expect(report).toMatchObject({ backupId: id, passed: true, mismatches: [], unexpectedErrors: [], checkSql: { ok: true, rows: 0 } })
    expect(report.tables).toBeGreaterThanOrEqual(4)
    expect(Number(run.outputs['restore-seconds'])).toBeGreaterThan(0)
    expect(JSON.parse(readFileSync(join(dir, 'shop', `${id}.drill.json`), 'utf8'))).toEqual(report)
    expect(run.summary).toMatch(/Restore drill passed/)
    expect(await databaseFingerprint(pg, 'drill_ok')).toEqual(await databaseFingerprint(pg, 'shop'))
    expectNoSecrets([run.log, run.outputs.report], [pg.password, PASSPHRASE])
  })

  test('a restored table with fewer rows than dumped fails the drill', async () => {
    await pg.createDatabase('drill_short')
    const run = await withManifest(
      m => (m.tables.find((t: { table: string }) => t.table === 'orders').rows += 1),
      () => runAction({ ...common(), command: 'drill', backup: id, 'target-database-url': pg.url('drill_short') })
    )
    expect(run.failure).toMatch(/Drill of backup \S+ failed: public\.orders has 3000 rows, the backup had 3001/)
    expect(JSON.parse(readFileSync(join(dir, 'shop', `${id}.drill.json`), 'utf8')).passed).toBe(false)
  })

  test('check-sql that finds rows fails the drill', async () => {
    await pg.createDatabase('drill_check')
    const run = await runAction({ ...common(), command: 'drill', 'target-database-url': pg.url('drill_check'), 'check-sql': 'SELECT 1' })
    expect(run.failure).toMatch(/check-sql returned 1 row\(s\)/)
  })

  test('a drill aimed at the source database is refused before touching it', async () => {
    const before = await databaseFingerprint(pg, 'shop')
    const run = await runAction({ ...common(), command: 'drill', 'database-url': pg.url('shop'), 'target-database-url': pg.url('shop') })
    expect(run.failure).toMatch(/Input "target-database-url": points at the database the backup came from/)
    const viaManifest = await runAction({ ...common(), command: 'drill', 'target-database-url': pg.url('shop').replace('127.0.0.1', 'localhost') })
    expect(viaManifest.failure).toMatch(/Input "target-database-url": points at the database the backup came from/)
    expect(await databaseFingerprint(pg, 'shop')).toEqual(before)
  })

  test('a non-empty target is refused', async () => {
    await pg.createDatabase('drill_busy')
    await pg.query('drill_busy', 'CREATE TABLE keep_me (x int)')
    const run = await runAction({ ...common(), command: 'drill', 'target-database-url': pg.url('drill_busy') })
    expect(run.failure).toMatch(/already holds 1 table\(s\); a drill restores into an empty scratch database/)
  })

  test('a plain-format backup verifies and drills through psql', async () => {
    const backup = await runAction({ storage: 'local', path: dir, name: 'plain', format: 'plain', compression: 'gzip', 'database-url': pg.url('shop') })
    expect(backup.failure).toBeUndefined()
    expect(backup.outputs.verified).toBe('true')
    await pg.createDatabase('plain_drill')
    const drill = await runAction({ storage: 'local', path: dir, name: 'plain', command: 'drill', 'target-database-url': pg.url('plain_drill') })
    expect(drill.failure).toBeUndefined()
    expect(await databaseFingerprint(pg, 'plain_drill')).toEqual(await databaseFingerprint(pg, 'shop'))
  })

  test('partitioned tables, materialized views and inherited foreign keys verify and drill', async () => {
    await pg.createDatabase('events')
    await pg.query(
      'events',
      `CREATE TABLE accounts (id int PRIMARY KEY);
       INSERT INTO accounts SELECT generate_series(1, 10);
       CREATE TABLE ev (id int, at date, account int REFERENCES accounts, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
       CREATE TABLE ev_2025 PARTITION OF ev FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
       CREATE TABLE ev_2026 PARTITION OF ev FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
       CREATE INDEX ev_note ON ev (note);
       ALTER TABLE ev ENABLE ROW LEVEL SECURITY;
       CREATE POLICY ev_read ON ev USING (true);
       INSERT INTO ev SELECT g, date '2025-06-01' + g, 1 + g % 10, 'n' || g FROM generate_series(1, 400) g;
       CREATE MATERIALIZED VIEW ev_daily AS SELECT at, count(*) FROM ev GROUP BY at;
       CREATE INDEX ev_daily_at ON ev_daily (at)`
    )
    const backup = await runAction({ storage: 'local', path: dir, name: 'events', 'database-url': pg.url('events') })
    expect(backup.failure).toBeUndefined()
    expect(backup.summary).toMatch(/indexes and constraints \| ✅ pass \| 4 of 4 indexes, 5 of 5 constraints/)
    await pg.createDatabase('events_drill')
    const drill = await runAction({ storage: 'local', path: dir, name: 'events', command: 'drill', 'target-database-url': pg.url('events_drill') })
    expect(drill.failure).toBeUndefined()
    expect(JSON.parse(drill.outputs.report)).toMatchObject({ passed: true, tables: 3, rows: 410 })
  })

  test('roles the target lacks get NOLOGIN stand-ins, so owners and grants restore and are checked', async () => {
    const target = await startCluster()
    try {
      await pg.createDatabase('platform')
      await pg.query(
        'platform',
        "CREATE ROLE anon NOLOGIN; CREATE ROLE authenticated NOLOGIN; CREATE TABLE public.notes (id int primary key, body text); INSERT INTO public.notes SELECT g, 'n' || g FROM generate_series(1, 50) g; ALTER TABLE public.notes OWNER TO anon; GRANT SELECT ON public.notes TO authenticated"
      )
      const backup = await runAction({ storage: 'local', path: dir, name: 'platform', 'database-url': pg.url('platform') })
      expect(backup.failure).toBeUndefined()
      const run = await runAction({ storage: 'local', path: dir, name: 'platform', command: 'drill', 'target-database-url': target.url('postgres') })
      expect(run.failure).toBeUndefined()
      const report = JSON.parse(run.outputs.report)
      expect(report.passed).toBe(true)
      expect(report.standInRoles).toEqual(['anon', 'authenticated'])
      expect(report.expectedErrors).toEqual([])
      expect(report.facts.failures).toEqual([])
      expect(await target.query('postgres', "SELECT tableowner FROM pg_tables WHERE tablename = 'notes'")).toEqual([{ tableowner: 'anon' }])
      expect(await target.query('postgres', "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'authenticated'")).toEqual([{ rolcanlogin: false }])
      expect(run.summary).toMatch(/Stand-in roles made \(NOLOGIN\) \| anon, authenticated/)
    } finally {
      await target.stop()
    }
  })
})
