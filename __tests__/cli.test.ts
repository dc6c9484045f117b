import { afterAll, beforeAll, expect, test } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expectNoSecrets } from './helpers/action.js'
import type { TestCluster } from './helpers/postgres.js'
import { startShop } from './helpers/sample.js'

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/cli/index.js')
let pg: TestCluster

beforeAll(async () => {
  pg = await startShop()
})

afterAll(async () => {
  await pg?.stop()
})

function cli(args: string[], env: Record<string, string>) {
  const childEnv = { ...process.env, ...env }
  delete childEnv.NODE_OPTIONS
  return spawnSync(process.execPath, [CLI, ...args], { env: childEnv, encoding: 'utf8' })
}

test('the CLI backs up and verifies with secrets from the environment, printing none of them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgb-cli-'))
  const env = { PG_BACKUP_DATABASE_URL: pg.url('shop'), PG_BACKUP_ENCRYPTION_PASSPHRASE: 'cli passphrase' }
  const backup = cli(['backup', '--storage', 'local', '--path', dir], env)
  expect(backup.status).toBe(0)
  const outputs = Object.fromEntries(
    backup.stdout
      .trim()
      .split('\n')
      .map(line => line.split('=', 2))
  )
  expect(outputs['backup-id']).toMatch(/-manual-/)
  expect(outputs.verified).toBe('true')
  expect(backup.stderr).toContain(`## Backup ${outputs['backup-id']}`)

  const failed = cli(['drill', '--path', dir, '--name', 'shop'], { ...env, PG_BACKUP_TARGET_DATABASE_URL: pg.url('shop') })
  expect(failed.status).toBe(1)
  expect(failed.stderr).toMatch(/error: Input "target-database-url": points at the database the backup came from/)
  expectNoSecrets([backup.stdout, backup.stderr, failed.stdout, failed.stderr], [pg.password, encodeURIComponent(pg.password), 'cli passphrase'])
})

test('an unknown argument is a usage error', () => {
  const run = cli(['backup', 'stray'], {})
  expect(run.status).toBe(2)
  expect(run.stderr).toMatch(/unexpected argument "stray"[\s\S]*Usage: pg-backup/)
})
