import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { COMMAND_RUNNERS } from '../src/commands/index.js'
import type { Settings } from '../src/inputs.js'
import { ArtifactStorage } from '../src/storage/artifact.js'
import { LocalStorage } from '../src/storage/local.js'
import { expectNoSecrets, runAction, runDist, testContext } from './helpers/action.js'
import type { TestCluster } from './helpers/postgres.js'
import { decode, restoreInto } from './helpers/restore-by-hand.js'
import type { TestS3 } from './helpers/s3.js'
import { databaseFingerprint, startShopAndS3 } from './helpers/sample.js'

const PASSPHRASE = 'correct horse battery staple'
let pg: TestCluster
let s3: TestS3

beforeAll(async () => {
  ;({ pg, s3 } = await startShopAndS3())
})

afterAll(async () => {
  await Promise.all([pg?.stop(), s3?.stop()])
})

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')
const secrets = () => [pg.password, encodeURIComponent(pg.password), PASSPHRASE]

describe('backup', () => {
  test('encrypted zstd custom dump to S3 and a folder restores to the same data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgb-local-'))
    const run = await runAction(
      {
        'database-url': pg.url('shop'),
        storage: 's3,local',
        path: dir,
        's3-bucket': s3.bucket,
        's3-prefix': 'prod/db',
        's3-endpoint': s3.endpoint,
        'encryption-passphrase': PASSPHRASE,
        roles: 'true'
      },
      s3.env
    )
    expect(run.failure).toBeUndefined()
    expectNoSecrets([run.log, JSON.stringify(run.outputs)], secrets())
    expect(run.masked).toEqual(expect.arrayContaining([pg.password, encodeURIComponent(pg.password), pg.url('shop'), PASSPHRASE]))

    const id = run.outputs['backup-id']
    expect(id).toMatch(/^\d{8}T\d{6}Z-manual-[0-9a-f]{4}$/)
    expect(run.outputs.location).toBe(`s3://${s3.bucket}/prod/db/shop/${id}.dump.zst.gpg`)
    expect(run.outputs.verified).toBe('true')

    // The stored bytes are exactly what the outputs and the checksum file describe.
    const stored = await s3.getObject(`prod/db/shop/${id}.dump.zst.gpg`)
    expect(stored.length).toBe(Number(run.outputs['size-bytes']))
    expect(sha256(stored)).toBe(run.outputs.sha256)
    const setDir = join(dir, 'shop')
    execFileSync('sha256sum', ['-c', `${id}.sha256`], { cwd: setDir })
    expect(readFileSync(join(setDir, `${id}.dump.zst.gpg`)).equals(stored)).toBe(true)

    const manifest = JSON.parse((await s3.getObject(`prod/db/shop/${id}.manifest.json`)).toString())
    expect(manifest).toMatchObject({ id, name: 'shop', kind: 'manual', format: 'custom', encryption: { algorithm: 'openpgp-aes256' } })
    expect(manifest.objects.map((o: { role: string }) => o.role)).toEqual(['data', 'roles'])
    const source = await databaseFingerprint(pg, 'shop')
    // Row counts taken in the dump's snapshot cover every table, exactly.
    expect(manifest.tables).toEqual(source.tables.map(t => ({ schema: t.schema, table: t.table, rows: t.rows })))

    const dump = decode(join(setDir, `${id}.dump.zst.gpg`), 'zstd', PASSPHRASE)
    await restoreInto(pg, 'restored_custom', dump, 'custom')
    expect(await databaseFingerprint(pg, 'restored_custom')).toEqual(source)

    const roles = decode(join(setDir, `${id}.roles.sql.zst.gpg`), 'zstd', PASSPHRASE).toString()
    expect(roles).toContain('CREATE ROLE postgres')
    expect(roles).not.toMatch(/SCRAM-SHA-256\$/)
  })

  test('plain gzip dump restores with psql', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgb-local-'))
    const run = await runAction({ 'database-url': pg.url('shop'), storage: 'local', path: dir, format: 'plain', compression: 'gzip', 'compression-level': '9' })
    expect(run.failure).toBeUndefined()
    const file = run.outputs.location
    expect(file).toMatch(/\.sql\.gz$/)
    await restoreInto(pg, 'restored_plain', decode(file, 'gzip'), 'plain')
    expect(await databaseFingerprint(pg, 'restored_plain')).toEqual(await databaseFingerprint(pg, 'shop'))
  })

  test('dist/index.js runs as the runner runs it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgb-dist-'))
    const run = await runDist(
      {
        command: 'backup',
        'database-url': pg.url('shop'),
        storage: 's3',
        's3-bucket': s3.bucket,
        's3-endpoint': s3.endpoint,
        'encryption-passphrase': PASSPHRASE,
        kind: '',
        verify: 'true',
        path: dir
      },
      { ...s3.env, GITHUB_EVENT_NAME: 'schedule', GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '42' }
    )
    expect(run.stdout).not.toContain('::error')
    expect(run.code).toBe(0)
    const id = run.outputs['backup-id']
    expect(id).toMatch(/^\d{8}T\d{6}Z-scheduled-[0-9a-f]{4}$/)
    expect(run.outputs).toMatchObject({ location: `s3://${s3.bucket}/shop/${id}.dump.zst.gpg`, verified: 'true' })
    expect(Number(run.outputs['size-bytes'])).toBeGreaterThan(1000)
    expect(run.outputs.sha256).toBe(sha256(await s3.getObject(`shop/${id}.dump.zst.gpg`)))
    expect(Number(run.outputs['duration-seconds'])).toBeGreaterThan(0)
    expect(run.summary).toContain(`## Backup ${id}`)
    expect(run.summary).toContain('public.orders')
    expect(run.summary).toContain('## Verify')
    const manifest = JSON.parse((await s3.getObject(`shop/${id}.manifest.json`)).toString())
    expect(manifest.github).toMatchObject({ repository: 'acme/shop', runId: '42', event: 'schedule' })
    // The runner masks what ::add-mask:: names; nothing else may carry a secret.
    const masked = run.stdout
      .split('\n')
      .filter(l => l.startsWith('::add-mask::'))
      .map(l => l.slice(12).replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%'))
    expect(masked).toEqual(expect.arrayContaining([pg.password, PASSPHRASE]))
    const rest = run.stdout
      .split('\n')
      .filter(l => !l.startsWith('::add-mask::'))
      .join('\n')
    expectNoSecrets([rest, run.summary, JSON.stringify(run.outputs)], secrets())
  })
})

describe('artifact copy', () => {
  // GitHub's artifact service cannot run here: a fake uploader records what would be sent.
  test('a complete backup is uploaded as one artifact; a failed one is not', async () => {
    const uploads: Array<{ name: string; files: string[]; root: string; retentionDays?: number }> = []
    const uploader = async () => ({
      uploadArtifact: async (name: string, files: string[], root: string, options?: { retentionDays?: number }) => {
        uploads.push({ name, files: files.map(f => f.slice(root.length + 1)).sort(), root, retentionDays: options?.retentionDays })
        return { id: 1 }
      }
    })
    const dir = mkdtempSync(join(tmpdir(), 'pgb-art-'))
    const storages = (settings: Settings) => [new LocalStorage(settings.path), new ArtifactStorage(settings.artifactRetentionDays, uploader)]
    const { ctx } = testContext({ 'database-url': pg.url('shop'), storage: 'local,artifact', path: dir, 'artifact-retention-days': '7' }, { storages })
    const outputs = await COMMAND_RUNNERS.backup(ctx)
    const id = outputs['backup-id']
    expect(outputs.verified).toBe(true)
    expect(uploads).toEqual([
      { name: `shop-${id}`, files: [`shop/${id}.dump.zst`, `shop/${id}.manifest.json`, `shop/${id}.sha256`], root: expect.any(String), retentionDays: 7 }
    ])
    expect(existsSync(uploads[0].root)).toBe(false)

    const bad = testContext({ 'database-url': pg.url('shop').replace('/shop', '/missing_db'), storage: 'local,artifact', path: dir }, { storages })
    await expect(COMMAND_RUNNERS.backup(bad.ctx)).rejects.toThrow(/database "missing_db" does not exist/)
    expect(uploads).toHaveLength(1)
  })
})

describe('backup failures publish nothing and leak nothing', () => {
  const files = (dir: string) => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : [])

  test('wrong password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgb-fail-'))
    const url = pg.url('shop').replace(encodeURIComponent(pg.password), 'not-the-password%40x')
    const run = await runAction({ 'database-url': url, storage: 'local', path: dir })
    expect(run.failure).toMatch(/password authentication failed for user "postgres"/)
    expect(files(dir)).toEqual([])
    expectNoSecrets([run.log], ['not-the-password@x', 'not-the-password%40x', pg.password])
  })

  test('unreachable host', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgb-fail-'))
    const run = await runAction({ 'database-url': `postgresql://postgres:${encodeURIComponent(pg.password)}@127.0.0.1:1/shop`, storage: 'local', path: dir })
    expect(run.failure).toMatch(/Could not connect to postgres@127\.0\.0\.1:1\/shop: .*ECONNREFUSED/)
    expect(files(dir)).toEqual([])
    expectNoSecrets([run.log], secrets())
  })
})
