/**
 * The built action on a runner without a usable PostgreSQL client: it installs one itself and backs
 * up and drills with it; and where it cannot, it fails before any upload naming versions and fix.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseManifest } from '../src/model/manifest.js'
import { expectNoSecrets, runAction, runDist } from './helpers/action.js'
import { PG17_BIN_DIR, startCluster, type TestCluster } from './helpers/postgres.js'
import { databaseFingerprint, startShop } from './helpers/sample.js'

let pg: TestCluster
const dirs: string[] = []
const temp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}

beforeAll(async () => {
  pg = await startShop()
})
afterAll(async () => {
  await pg?.stop()
  dirs.forEach(d => rmSync(d, { recursive: true, force: true }))
})

/**
 * Runs the action in a mount namespace where /usr/lib/postgresql is an empty tmpfs: the system's
 * client (and the pg_wrapper scripts on PATH that lead to it) is gone for the action and its children
 * only. Needs root, so outside root it goes through sudo and drops back to this user.
 */
function withoutSystemClient(): string[] {
  // Absolute paths: the action's PATH is part of what the tests vary.
  const bin = (name: string) => execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim()
  const hide = [
    bin('unshare'),
    '--mount',
    '--propagation',
    'private',
    '--',
    process.execPath,
    join(dirname(fileURLToPath(import.meta.url)), 'helpers/hide-client.mjs'),
    bin('mount')
  ]
  if (process.getuid?.() === 0) return hide
  return [bin('sudo'), '-n', '--preserve-env', ...hide, bin('setpriv'), `--reuid=${process.getuid?.()}`, `--regid=${process.getgid?.()}`, '--init-groups', '--']
}

test('no client on the runner: the action installs postgresql-client-15 into its tool directory and backs up and drills with it', async () => {
  const dir = temp('pgb-client-store-')
  const toolCache = temp('pgb-client-tools-')
  const systemClients = readdirSync('/usr/lib/postgresql')
  const common = { 'database-url': pg.url('shop'), storage: 'local', path: dir, name: 'shop' }
  const env = { RUNNER_TOOL_CACHE: toolCache }

  // Proof that the wrapper hides the system's client: without an install it would fail (postgres-version 15, no apt on PATH).
  const hidden = await runDist({ ...common, 'postgres-version': '15' }, { ...env, PATH: '/nonexistent' }, withoutSystemClient())
  expect(hidden.code).toBe(1)
  expect(hidden.stdout).toMatch(/pg_dump 15 \(postgres-version\) is needed for the server \(PostgreSQL 15\), but no pg_dump was found/)

  const backup = await runDist(common, env, withoutSystemClient())
  expect({ code: backup.code, stderr: backup.stderr }).toEqual({ code: 0, stderr: '' })
  expect(backup.stdout).toMatch(/Downloading postgresql-client-15, libpq5 from this machine's apt sources/)
  const manifest = parseManifest(readFileSync(join(dir, 'shop', `${backup.outputs['backup-id']}.manifest.json`), 'utf8'), 'manifest')
  const installed = new RegExp(`^${toolCache}/postgresql-client/15\\.\\d+\\.0/x64/usr/lib/postgresql/15/bin$`)
  expect(manifest.tools.client).toEqual({ source: 'installed', dir: expect.stringMatching(installed) })
  expect(backup.summary).toMatch(/\| Client \| pg_dump 15\.\d+, installed by this run \(`[^`]+`\) \|/)
  expect(existsSync(`${join(manifest.tools.client!.dir, '../../../../..')}.complete`)).toBe(true)

  // The drill finds the client the backup installed: pg_restore from the same tool directory.
  await pg.createDatabase('drill_installed')
  const drill = await runDist({ ...common, command: 'drill', 'target-database-url': pg.url('drill_installed') }, env, withoutSystemClient())
  expect({ code: drill.code, stderr: drill.stderr }).toEqual({ code: 0, stderr: '' })
  const report = JSON.parse(readFileSync(join(dir, 'shop', `${backup.outputs['backup-id']}.drill.json`), 'utf8'))
  expect(report).toMatchObject({ passed: true, client: { tool: 'pg_restore', source: 'cached', dir: manifest.tools.client!.dir } })
  expect(drill.summary).toMatch(/pg_restore 15\.\d+, cached by an earlier run/)
  expect(await databaseFingerprint(pg, 'drill_installed')).toEqual(await databaseFingerprint(pg, 'shop'))

  // Nothing system-wide changed.
  expect(readdirSync('/usr/lib/postgresql')).toEqual(systemClients)
  expectNoSecrets([backup.stdout, backup.summary, drill.stdout, drill.summary], [pg.password])
}, 180_000)

test('a server newer than every client, and no way to install one: fails before any upload, naming both versions and the fix', async () => {
  const pg17 = await startCluster({ binDir: PG17_BIN_DIR })
  const dir = temp('pgb-client-17-')
  try {
    // No apt-get on the action's PATH: only the PostgreSQL 15 client in /usr/lib/postgresql is there.
    const run = await runAction({ 'database-url': pg17.url('postgres'), storage: 'local', path: dir, name: 'pg17' }, { PATH: '' })
    expect(run.failure).toMatch(
      /^pg_dump 17 or newer is needed for the server \(PostgreSQL 17\), but the newest pg_dump found is 15\.\d+ \(\/usr\/lib\/postgresql\/15\/bin\)\. The action installs postgresql-client-17 itself only on Debian or Ubuntu \(apt\); apt-get or dpkg-deb is not on PATH\. Install it yourself \(.*sudo apt-get install postgresql-client-17\) or set pg-bin-dir to a directory holding pg_dump 17\.$/
    )
    expect(readdirSync(dir)).toEqual([])
    expectNoSecrets([run.log], [pg17.password])
  } finally {
    await pg17.stop()
  }
})

test('postgres-version older than the server fails before any upload, naming both and the fix', async () => {
  const dir = temp('pgb-client-old-')
  const run = await runAction({ 'database-url': pg.url('shop'), storage: 'local', path: dir, name: 'shop', 'postgres-version': '14' })
  expect(run.failure).toBe('postgres-version is 14, but pg_dump 15 or newer is needed for the server (PostgreSQL 15). Set postgres-version to 15 (or auto).')
  expect(readdirSync(dir)).toEqual([])
})
