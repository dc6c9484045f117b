/**
 * A Supabase-shaped project (see helpers/supabase-fixture.ts), backed up as `postgres`, then
 * drilled and restored into plain Postgres and into a new project, each result compared with the source.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAction } from './helpers/action.js'
import { startCluster, type TestCluster } from './helpers/postgres.js'
import { databaseFingerprint } from './helpers/sample.js'
import { startSupabase, SUPABASE_ROLES, type SupabaseCluster } from './helpers/supabase-fixture.js'

let sb: SupabaseCluster
let plain: TestCluster
let dir: string
let id: string

const common = () => ({ storage: 'local', path: dir, name: 'app' })

/** What the app depends on besides rows: privileges of the API roles, triggers, functions, publication members. */
async function appState(cluster: TestCluster, database: string) {
  const q = (sql: string) => cluster.query(database, sql)
  return {
    grants: await q(
      `SELECT table_schema, table_name, grantee, string_agg(privilege_type, ',' ORDER BY privilege_type) AS privileges
       FROM information_schema.role_table_grants WHERE grantee IN ('anon', 'authenticated', 'service_role') AND table_schema IN ('public', 'storage', 'auth')
       GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`
    ),
    triggers: await q('SELECT tgrelid::regclass::text AS rel, tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2'),
    functions: await q(
      "SELECT p.oid::regprocedure::text AS fn, md5(prosrc) AS body, prosecdef, proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('public', 'auth', 'storage') ORDER BY 1"
    ),
    publication: await q("SELECT pubname, schemaname, tablename FROM pg_publication_tables WHERE pubname = 'supabase_realtime' ORDER BY 2, 3"),
    largeObjects: await q('SELECT count(*)::int AS n FROM pg_largeobject_metadata')
  }
}

beforeAll(async () => {
  ;[sb, plain] = await Promise.all([startSupabase(), startCluster()])
  await sb.project('app')
  dir = mkdtempSync(join(tmpdir(), 'pgb-supabase-'))
}, 120_000)

afterAll(async () => {
  await Promise.all([sb?.cluster.stop(), plain?.stop()])
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('a Supabase project', () => {
  test('backs up as postgres (NOSUPERUSER), recording every policy, grant and trigger, with a roles file safe on any server', async () => {
    const run = await runAction({ ...common(), 'database-url': sb.urlAsPostgres('app'), roles: 'true', compression: 'none' })
    expect(run.failure).toBeUndefined()
    id = run.outputs['backup-id']
    expect(run.summary).toMatch(/\| Database \| app \(PostgreSQL 15\.\d+, a Supabase project\) \|/)
    expect(run.summary).toMatch(/\| Schema facts \| 9 policies, /)
    const manifest = JSON.parse(readFileSync(join(dir, 'app', `${id}.manifest.json`), 'utf8'))
    const facts = manifest.schemaFacts.catalog
    expect(facts.policies.map((p: { name: string }) => p.name)).toHaveLength(9)
    expect(facts.policies.find((p: { name: string }) => p.name === 'public.todos.Individuals can view their own todos.')).toMatchObject({
      roles: ['authenticated'],
      using: '(( SELECT auth.uid() AS uid) = user_id)'
    })
    // The owner's own privileges are implied; the API roles' were revoked.
    expect(facts.grants.filter((g: { object: string }) => g.object === 'table public.internal_notes').map((g: { role: string }) => g.role)).toEqual([
      'service_role'
    ])
    expect(facts.triggers.map((t: { name: string }) => t.name)).toContain('auth.users.on_auth_user_created')
    expect(facts.publications).toEqual([{ name: 'supabase_realtime', allTables: false, tables: ['public.todos'] }])
    expect(facts.largeObjects).toBe(1)

    const roles = readFileSync(join(dir, 'app', readdirSync(join(dir, 'app')).find(f => f.endsWith('.roles.sql')) as string), 'utf8')
    expect(roles).not.toMatch(/^ALTER ROLE (postgres|anon|supabase_admin)\b/m)
    expect(roles).not.toMatch(/^CREATE ROLE/m)
    // Run by hand on a plain server, as the README says: its superuser stays a superuser.
    const file = join(dir, 'roles.sql')
    writeFileSync(file, roles)
    execFileSync('/usr/lib/postgresql/15/bin/psql', ['--no-psqlrc', '--quiet', '--set=ON_ERROR_STOP=0', `--file=${file}`, plain.url('postgres')], {
      stdio: 'pipe'
    })
    expect(await plain.query('postgres', "SELECT rolsuper FROM pg_roles WHERE rolname = 'postgres'")).toEqual([{ rolsuper: true }])
    expect(
      await plain.query('postgres', "SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'supabase%' OR rolname IN ('anon', 'authenticated')")
    ).toEqual([{ n: 0 }])
  })

  test('drills into plain Postgres with stand-in roles: every policy and grant restored and checked', async () => {
    await plain.createDatabase('drill')
    const run = await runAction({ ...common(), command: 'drill', 'target-database-url': plain.url('drill') })
    expect(run.failure).toBeUndefined()
    const report = JSON.parse(run.outputs.report)
    expect(report).toMatchObject({ passed: true, platform: 'postgres', mismatches: [], unexpectedErrors: [] })
    expect(report.standInRoles).toEqual(expect.arrayContaining(['anon', 'authenticated', 'service_role', 'supabase_admin', 'supabase_auth_admin']))
    expect(report.facts.failures).toEqual([])
    expect(report.facts.checked).toBeGreaterThan(100)
    expect(run.summary).toMatch(/Schema facts checked \| \d+, 0 missing or different/)
    const [source, target] = await Promise.all([databaseFingerprint(sb.cluster, 'app'), databaseFingerprint(plain, 'drill')])
    expect(target).toEqual(source)
    expect(await appState(plain, 'drill')).toEqual(await appState(sb.cluster, 'app'))
    // Roles that exist were left alone.
    expect(await plain.query('postgres', "SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = 'postgres'")).toEqual([
      { rolsuper: true, rolcanlogin: true }
    ])
  })

  test('a drill fails, naming the policy, when a policy role is left out of the stand-ins', async () => {
    // A server of its own: the first drill's stand-ins are cluster-wide.
    const other = await startCluster()
    const manifestFile = join(dir, 'app', `${id}.manifest.json`)
    const original = readFileSync(manifestFile, 'utf8')
    const manifest = JSON.parse(original)
    // Drop anon from the roles the manifest names, so no stand-in is made for it.
    const facts = manifest.schemaFacts.catalog
    facts.grants = facts.grants.filter((g: { role: string }) => g.role !== 'anon')
    for (const p of facts.policies) p.roles = p.roles.filter((r: string) => r !== 'anon')
    writeFileSync(manifestFile, JSON.stringify(manifest))
    try {
      const run = await runAction({ ...common(), command: 'drill', 'target-database-url': other.url('postgres') })
      expect(run.failure).toMatch(/Drill of backup .* failed: .*policy public\.profiles\.Public profiles are viewable by everyone\. is missing/)
      expect(run.failure).toMatch(/restore error in POLICY public\.profiles Public profiles are viewable by everyone\.: role "anon" does not exist/)
      const report = JSON.parse(readFileSync(join(dir, 'app', `${id}.drill.json`), 'utf8'))
      expect(report.passed).toBe(false)
      expect(report.standInRoles).not.toContain('anon')
    } finally {
      writeFileSync(manifestFile, original)
      await other.stop()
    }
  })

  test('restores into plain Postgres: rows, policies, grants, triggers and functions as in the source', async () => {
    await plain.createDatabase('restored')
    const run = await runAction({ ...common(), command: 'restore', 'target-database-url': plain.url('restored'), confirm: 'restored' })
    expect(run.failure).toBeUndefined()
    expect(run.summary).toMatch(/Schema facts checked \| \d+, 0 missing or different/)
    expect(await databaseFingerprint(plain, 'restored')).toEqual(await databaseFingerprint(sb.cluster, 'app'))
    expect(await appState(plain, 'restored')).toEqual(await appState(sb.cluster, 'app'))
  })

  test('restores into a new project as postgres: platform left as it is, app and data restored, triggers off, privileges as in the source', async () => {
    await sb.newProject('fresh')
    const run = await runAction({ ...common(), command: 'restore', 'target-database-url': sb.urlAsPostgres('fresh'), confirm: 'fresh' })
    expect(run.failure).toBeUndefined()
    expect(run.summary).toMatch(/Supabase project: its platform left as it was/)
    expect(run.summary).toMatch(/Errors \| 0 unexpected/)
    expect(run.summary).toMatch(/Revoked \(the target's default privileges\) \| .*anon/)
    // Triggers were off while rows loaded: no profile or audit row twice, and the migration history is the target's own.
    const appTables = async (database: string) => {
      const fingerprint = await databaseFingerprint(sb.cluster, database)
      return { ...fingerprint, tables: fingerprint.tables.filter(t => !/migrations$/.test(t.table)) }
    }
    expect(await appTables('fresh')).toEqual(await appTables('app'))
    expect(await sb.cluster.query('fresh', 'SELECT count(*)::int AS n FROM auth.schema_migrations')).toEqual([{ n: 3 }])
    expect(await appState(sb.cluster, 'fresh')).toEqual(await appState(sb.cluster, 'app'))
    expect(await sb.cluster.query('fresh', "SELECT has_table_privilege('anon', 'public.internal_notes', 'SELECT') AS anon")).toEqual([{ anon: false }])
  })

  test('a tables restore keeps user triggers from firing and checks the rows it restored', async () => {
    await plain.query('restored', "DELETE FROM public.todos WHERE id > 40; UPDATE public.todos SET task = 'changed after the backup'")
    const auditBefore = await plain.query('restored', 'SELECT count(*)::int AS n FROM public.todo_audit')
    const run = await runAction({
      ...common(),
      command: 'restore',
      'target-database-url': plain.url('restored'),
      confirm: 'restored',
      tables: 'public.todos',
      'safety-snapshot': 'false'
    })
    expect(run.failure).toBeUndefined()
    expect(run.summary).toMatch(/Row count mismatches \| 0/)
    expect(await plain.query('restored', 'SELECT count(*)::int AS n FROM public.todo_audit')).toEqual(auditBefore)
    const [source, target] = await Promise.all([databaseFingerprint(sb.cluster, 'app'), databaseFingerprint(plain, 'restored')])
    expect(target.tables.find(t => t.table === 'todos')).toEqual(source.tables.find(t => t.table === 'todos'))
    // The trigger is back as it was.
    expect(await plain.query('restored', "SELECT tgenabled FROM pg_trigger WHERE tgname = 'todos_audit'")).toEqual([{ tgenabled: 'O' }])
  })

  test('a clean restore works on partitioned tables and leaves privileges as in the source', async () => {
    await plain.query(
      'restored',
      "GRANT ALL ON public.internal_notes TO anon; INSERT INTO realtime.messages (topic, extension, inserted_at) VALUES ('x', 'y', '2026-11-30 12:00')"
    )
    const run = await runAction({
      ...common(),
      command: 'restore',
      'target-database-url': plain.url('restored'),
      confirm: 'restored',
      clean: 'true',
      'safety-snapshot': 'false'
    })
    expect(run.failure).toBeUndefined()
    expect(await databaseFingerprint(plain, 'restored')).toEqual(await databaseFingerprint(sb.cluster, 'app'))
    expect(await appState(plain, 'restored')).toEqual(await appState(sb.cluster, 'app'))
  })

  test("a clean restore into the project as postgres replaces the app and the platform tables' rows, leaving the platform itself", async () => {
    await sb.cluster.query(
      'fresh',
      `GRANT SELECT ON public.internal_notes TO anon;
       DROP POLICY "Avatar images are publicly accessible." ON storage.objects;
       CREATE POLICY "Avatar images are publicly accessible." ON storage.objects FOR SELECT TO anon USING (true);
       INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-000000000999', 'late@example.com');
       INSERT INTO public.todos (user_id, task) VALUES ('00000000-0000-0000-0000-000000000999', 'made after the backup')`
    )
    const run = await runAction({
      ...common(),
      command: 'restore',
      'target-database-url': sb.urlAsPostgres('fresh'),
      confirm: 'fresh',
      clean: 'true',
      'safety-snapshot': 'false'
    })
    expect(run.failure).toBeUndefined()
    const appTables = async (database: string) => {
      const fingerprint = await databaseFingerprint(sb.cluster, database)
      return { ...fingerprint, tables: fingerprint.tables.filter(t => !/migrations$/.test(t.table)) }
    }
    expect(await appTables('fresh')).toEqual(await appTables('app'))
    expect(await appState(sb.cluster, 'fresh')).toEqual(await appState(sb.cluster, 'app'))
  })

  test("drills into a Supabase project (Supabase's own image as the service container)", async () => {
    await sb.newProject('drill_project')
    const run = await runAction({ ...common(), command: 'drill', 'target-database-url': sb.urlAsPostgres('drill_project') })
    expect(run.failure).toBeUndefined()
    const report = JSON.parse(run.outputs.report)
    expect(report).toMatchObject({ passed: true, platform: 'supabase', standInRoles: [], unexpectedErrors: [], mismatches: [] })
    expect(report.facts.failures).toEqual([])
    expect(run.summary).toMatch(/Supabase project: its platform left as it was/)
  })

  test('the platform roles are never created or altered on a Supabase target', async () => {
    const roles = await sb.cluster.query('postgres', `SELECT rolname FROM pg_roles WHERE rolname = ANY ($1) ORDER BY 1`, [SUPABASE_ROLES])
    expect(roles.map(r => r.rolname)).toEqual([...SUPABASE_ROLES].sort())
    expect(await sb.cluster.query('postgres', "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'postgres'")).toEqual([
      { rolsuper: false, rolbypassrls: true }
    ])
  })
})
