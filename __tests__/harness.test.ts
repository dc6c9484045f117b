/** Proves the integration-test harness itself: PG15 + PG17 clusters, sample data + fingerprint, S3. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import pg from 'pg'
import { PG15_BIN_DIR, PG17_BIN_DIR, startCluster, type TestCluster } from './helpers/postgres.js'
import { databaseFingerprint, SAMPLE_SQL } from './helpers/sample.js'
import { startS3, type TestS3 } from './helpers/s3.js'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** pg_dump src | psql dst with the PG15 client tools; the password goes through the environment only. */
function dumpAndRestore(c: TestCluster, src: string, dst: string): Promise<void> {
  const env = { ...process.env, PGPASSWORD: c.password }
  const conn = ['-h', c.host, '-p', String(c.port), '-U', c.user]
  const dump = spawn(`${PG15_BIN_DIR}/pg_dump`, [...conn, '-d', src], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const psql = spawn(`${PG15_BIN_DIR}/psql`, [...conn, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', dst], {
    env,
    stdio: [dump.stdout, 'pipe', 'pipe']
  })
  dump.stdout.destroy() // psql has its own copy of the pipe; ours would keep pg_dump's 'close' from firing
  const finished = (p: ReturnType<typeof spawn>, name: string) =>
    new Promise<void>((res, rej) => {
      let err = ''
      p.stderr!.on('data', (d: Buffer) => (err += d))
      p.on('error', rej)
      p.on('close', code => (code === 0 ? res() : rej(new Error(`${name} exited with ${code}: ${err}`))))
    })
  return Promise.all([finished(dump, 'pg_dump'), finished(psql, 'psql')]).then(() => undefined)
}

describe('PostgreSQL 15 cluster', () => {
  let pg15: TestCluster
  beforeAll(async () => {
    pg15 = await startCluster()
  })
  afterAll(async () => {
    await pg15?.stop()
  })

  test('sample survives pg_dump | psql with an equal fingerprint', async () => {
    expect(pg15.major).toBe(15)
    await pg15.createDatabase('sample')
    await pg15.query('sample', SAMPLE_SQL)

    const original = await databaseFingerprint(pg15, 'sample')
    expect(original.tables.map(t => [`${t.schema}.${t.table}`, t.rows, t.rowSecurity])).toEqual([
      ['app.audit_log', 500, false],
      ['public.customers', 1000, false],
      ['public.empty_things', 0, false],
      ['public.orders', 3000, true]
    ])
    expect(original.policies.map(p => p.name)).toEqual(['orders_insert_positive', 'orders_read_open'])
    expect(original.enums).toEqual([{ schema: 'public', name: 'order_status', labels: ['new', 'paid', 'shipped', 'cancelled', `it's "odd"`] }])
    expect(original.indexes.length).toBeGreaterThanOrEqual(9)
    expect(original.views).toEqual(['public.customer_totals'])

    await pg15.createDatabase('restored')
    await dumpAndRestore(pg15, 'sample', 'restored')
    expect(await databaseFingerprint(pg15, 'restored')).toEqual(original)

    // ...and the fingerprint notices a one-character change.
    await pg15.query('restored', `UPDATE app.audit_log SET actor = actor || 'x' WHERE id = 1`)
    expect(await databaseFingerprint(pg15, 'restored')).not.toEqual(original)
  })

  test('password auth: URL-encoded password works, a wrong one is refused', async () => {
    expect(pg15.password).toMatch(/[@:/#%?&]/)
    expect(decodeURIComponent(new URL(pg15.url('sample')).password)).toBe(pg15.password)

    const ok = new pg.Client({ connectionString: pg15.url() })
    await ok.connect()
    expect((await ok.query('SELECT current_user AS u')).rows).toEqual([{ u: 'postgres' }])
    await ok.end()

    const bad = new pg.Client({ host: pg15.host, port: pg15.port, user: 'postgres', password: 'wrong', database: 'postgres' })
    await expect(bad.connect()).rejects.toMatchObject({ code: '28P01' }) // invalid_password
    await bad.end().catch(() => {})
  })
})

test('PostgreSQL 17 cluster starts from the embedded binaries', async () => {
  const pg17 = await startCluster({ binDir: PG17_BIN_DIR })
  try {
    expect(pg17.major).toBe(17)
    const [row] = await pg17.query<{ server_version_num: string }>('postgres', 'SHOW server_version_num')
    expect(Number(row.server_version_num)).toBeGreaterThanOrEqual(170000)
  } finally {
    await pg17.stop()
  }
})

describe('S3 (s3rver)', () => {
  let s3: TestS3
  beforeAll(async () => {
    s3 = await startS3()
  })
  afterAll(async () => {
    await s3?.stop()
  })

  test('a streamed 12 MB multipart upload is stored byte for byte', async () => {
    const data = randomBytes(12 * 1024 * 1024)
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let i = 0; i < data.length; i += 64 * 1024) yield data.subarray(i, i + 64 * 1024)
    }
    const before = s3.requestCount()
    await new Upload({ client: s3.client, params: { Bucket: s3.bucket, Key: 'big/file.bin', Body: Readable.from(chunks()) } }).done()
    // CreateMultipartUpload + 3 x UploadPart (5 MiB parts) + CompleteMultipartUpload
    expect(s3.requestCount() - before).toBe(5)
    expect(sha256(await s3.getObject('big/file.bin'))).toBe(sha256(data))
  })

  test('listings paginate (needs s3rver under --openssl-legacy-provider)', async () => {
    await s3.createBucket('other')
    for (let i = 0; i < 5; i++) await s3.client.send(new PutObjectCommand({ Bucket: 'other', Key: `p/${i}`, Body: 'x' }))
    const page = await s3.client.send(new ListObjectsV2Command({ Bucket: 'other', MaxKeys: 2 }))
    const next = await s3.client.send(new ListObjectsV2Command({ Bucket: 'other', MaxKeys: 2, ContinuationToken: page.NextContinuationToken }))
    expect(next.Contents?.map(o => o.Key)).toEqual(['p/2', 'p/3'])
    expect(await s3.listKeys('p/', 'other')).toEqual(['p/0', 'p/1', 'p/2', 'p/3', 'p/4'])
  })
})
