import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expectNoSecrets, runAction } from './helpers/action.js'
import { PG15_BIN_DIR, PG17_BIN_DIR, startCluster, type TestCluster } from './helpers/postgres.js'
import { startS3 } from './helpers/s3.js'
import { startShop } from './helpers/sample.js'

const PASSPHRASE = 'fault-test-passphrase'
let pg: TestCluster
let dir: string
let goodBackup: Map<string, string>

/** Every file under a folder with its content, to prove a failed run changed nothing. */
function snapshot(root: string): Map<string, string> {
  const files = readdirSync(root, { recursive: true, withFileTypes: true }).filter(e => e.isFile())
  return new Map(files.map(e => [join(e.parentPath, e.name), readFileSync(join(e.parentPath, e.name), 'base64')]))
}

beforeAll(async () => {
  pg = await startShop()
  // ~24 MB that zstd cannot shrink, so an upload spans several multipart parts.
  await pg.query(
    'shop',
    `CREATE TABLE public.blobs AS SELECT i, (SELECT decode(string_agg(md5(random()::text || i || j), ''), 'hex') FROM generate_series(1, 512) j) AS b FROM generate_series(1, 3000) i`
  )
  dir = mkdtempSync(join(tmpdir(), 'pgb-faults-'))
  const first = await runAction({ 'database-url': pg.url('shop'), storage: 'local', path: dir, name: 'shop' })
  expect(first.failure).toBeUndefined()
  goodBackup = snapshot(dir)
})

afterAll(async () => {
  await pg?.stop()
})

function expectUntouched(): void {
  expect(snapshot(dir)).toEqual(goodBackup)
}

describe('a failing backup fails clearly, publishes nothing and keeps earlier backups', () => {
  test('pg_dump killed mid-dump', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'pgb-bin-'))
    // Passes 64 KB of a real dump through, then dies by SIGKILL like an OOM-killed pg_dump.
    writeFileSync(
      join(bin, 'pg_dump'),
      `#!/bin/sh\nif [ "$1" = "--version" ]; then exec ${PG15_BIN_DIR}/pg_dump --version; fi\n${PG15_BIN_DIR}/pg_dump "$@" | head -c 65536\nkill -9 $$\n`
    )
    chmodSync(join(bin, 'pg_dump'), 0o755)
    const run = await runAction({
      'database-url': pg.url('shop'),
      storage: 'local',
      path: dir,
      name: 'shop',
      'pg-bin-dir': bin,
      'encryption-passphrase': PASSPHRASE
    })
    expect(run.failure).toMatch(/^pg_dump failed: it was killed by SIGKILL/)
    expect(run.outputs).toEqual({})
    expectUntouched()
    expectNoSecrets([run.log], [pg.password, PASSPHRASE])
  })

  test('the S3 server dies mid-upload', async () => {
    const s3 = await startS3()
    Object.assign(process.env, s3.env)
    const before = s3.requestCount()
    const running = runAction({
      'database-url': pg.url('shop'),
      storage: 'local,s3',
      path: dir,
      name: 'shop',
      's3-bucket': s3.bucket,
      's3-endpoint': s3.endpoint
    })
    // Stop the server once the multipart upload has started and a part is on its way.
    while (s3.requestCount() < before + 2) await new Promise(r => setTimeout(r, 10))
    await s3.stop()
    const run = await running
    expect(run.failure).toMatch(/^Upload to s3:\/\/test-bucket\/shop\/\S+\.dump\.zst failed: .*(ECONNREFUSED|socket hang up|ECONNRESET)/)
    expect(run.outputs).toEqual({})
    expectUntouched()
    expectNoSecrets([run.log], [pg.password])
  })

  test('a server newer than every pg_dump', async () => {
    const pg17 = await startCluster({ binDir: PG17_BIN_DIR })
    try {
      const run = await runAction({ 'database-url': pg17.url('postgres'), storage: 'local', path: dir, name: 'shop' })
      expect(run.failure).toMatch(/pg_dump 17 or newer is needed for the server \(PostgreSQL 17\), but the newest pg_dump found is 15\.\d+/)
      expect(run.failure).toMatch(/postgresql-client-17/)
      expect(run.failure).toMatch(/pg-bin-dir/)
      expectUntouched()
      expectNoSecrets([run.log], [pg17.password])
    } finally {
      await pg17.stop()
    }
  })
})
