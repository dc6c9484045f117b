/**
 * Cancellation as GitHub does it: SIGINT to the running action (dist/index.js). Within a
 * few seconds, well before the SIGTERM that follows 7.5 s later, every child process is
 * gone, the S3 multipart upload is aborted, RUNNER_TEMP is empty (no decrypted dump), no
 * server session is left, and the run failed as "cancelled".
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand, S3Client } from '@aws-sdk/client-s3'
import pg from 'pg'
import { expectNoSecrets, startDist } from './helpers/action.js'
import { PG15_BIN_DIR, startCluster, type TestCluster } from './helpers/postgres.js'

const PASSPHRASE = 'cancel-test-passphrase'
let cluster: TestCluster
let moto: ChildProcess
let s3: S3Client
let endpoint: string
const S3_ENV = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' }

beforeAll(async () => {
  moto = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`moto did not start:\n${out}`)), 30_000)
    const seen = (d: Buffer) => {
      out += d
      const match = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (match) resolve(Number(match[1]))
      if (match) clearTimeout(timer)
    }
    moto.stdout!.on('data', seen)
    moto.stderr!.on('data', seen)
  })
  endpoint = `http://127.0.0.1:${port}`
  s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } })
  await s3.send(new CreateBucketCommand({ Bucket: 'cancel' }))
  cluster = await startCluster()
})

afterAll(async () => {
  moto?.kill('SIGKILL')
  await cluster?.stop()
})

/** Every descendant of a process (pid → command line). */
function descendants(root: number): Map<number, string> {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .split('\n')
    .map(line => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
  const found = new Map<number, string>()
  const walk = (pid: number) => {
    for (const [, child, parent, args] of rows) {
      if (Number(parent) !== pid || found.has(Number(child))) continue
      found.set(Number(child), args)
      walk(Number(child))
    }
  }
  walk(root)
  return found
}

/** After a failed test: stop what the action left (each child leads its own process group). */
function stopAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL')
      } catch {
        // gone
      }
    }
  }
}

/** The processes still running (a zombie has ended: it only waits to be reaped, here by an init that may never do it). */
function alive(processes: Map<number, string>): string[] {
  return [...processes]
    .filter(([pid]) => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
      } catch {
        return false
      }
    })
    .map(([pid, args]) => `${pid} ${args}`)
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

const sessions = async (database: string, application: string) =>
  cluster.query<{ pid: number; wait: string | null }>(
    'postgres',
    `SELECT pid, wait_event_type AS wait FROM pg_stat_activity WHERE datname = '${database}' AND application_name = '${application}'`
  )

describe('a cancelled run leaves nothing behind', () => {
  test('SIGINT mid-upload: programs stopped, multipart upload aborted, no temp files, no sessions', async () => {
    await cluster.createDatabase('big')
    // ~48 MB that zstd cannot shrink: several 8 MiB parts (zstd itself holds a few MB).
    await cluster.query(
      'big',
      `CREATE TABLE public.blobs AS SELECT i, (SELECT decode(string_agg(md5(random()::text || i || j), ''), 'hex') FROM generate_series(1, 512) j) AS b FROM generate_series(1, 6000) i`
    )
    // pg_dump passes 40 MB through, then stalls (blocked on a full pipe, like one waiting on a lock).
    const bin = mkdtempSync(join(tmpdir(), 'pgb-cancel-bin-'))
    writeFileSync(
      join(bin, 'pg_dump'),
      `#!/bin/sh\nif [ "$1" = "--version" ]; then exec ${PG15_BIN_DIR}/pg_dump --version; fi\n${PG15_BIN_DIR}/pg_dump "$@" | { head -c 40000000; sleep 3141; cat; }\n`
    )
    chmodSync(join(bin, 'pg_dump'), 0o755)
    const { child, runnerTemp, done } = startDist(
      {
        'database-url': cluster.url('big'),
        storage: 's3',
        's3-bucket': 'cancel',
        's3-endpoint': endpoint,
        name: 'big',
        'pg-bin-dir': bin,
        'encryption-passphrase': PASSPHRASE
      },
      S3_ENV
    )
    let children = new Map<number, string>()
    try {
      const upload = await until('a multipart upload with a stored part', async () => {
        const { Uploads } = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'cancel' }), { abortSignal: AbortSignal.timeout(5000) })
        const first = Uploads?.[0]
        if (!first) return undefined
        const { Parts } = await s3.send(new ListPartsCommand({ Bucket: 'cancel', Key: first.Key, UploadId: first.UploadId }), {
          abortSignal: AbortSignal.timeout(5000)
        })
        return Parts && Parts.length > 0 ? first : undefined
      })
      expect(upload.Key).toMatch(/^big\/\S+\.dump\.zst\.gpg$/)
      children = descendants(child.pid!)
      expect([...children.values()].join('\n')).toMatch(/pg_dump[\s\S]*zstd[\s\S]*gpg/)
      expect((await sessions('big', 'pg_dump')).length).toBe(1)

      const signalled = Date.now()
      child.kill('SIGINT')
      const run = await done
      expect(Date.now() - signalled).toBeLessThan(7000)
      expect(run.code).not.toBe(0)
      expect(run.stdout).toMatch(/::error::Cancelled by SIGINT: every program was stopped/)
      expect(alive(children)).toEqual([])
      expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: 'cancel' }))).Uploads ?? []).toEqual([])
      expect((await s3.send(new ListObjectsV2Command({ Bucket: 'cancel' }))).Contents ?? []).toEqual([])
      expect(readdirSync(runnerTemp)).toEqual([])
      expect(await sessions('big', 'pg_dump')).toEqual([])
      expect(await sessions('big', 'pg-backup-action')).toEqual([])
      // ::add-mask:: lines are how the runner learns what to hide; everything else must not hold a secret.
      expectNoSecrets([run.stdout.replace(/^::add-mask::.*$/gm, ''), run.stderr], [PASSPHRASE, cluster.password])
    } finally {
      stopAll([child.pid!, ...children.keys()])
    }
  })

  test('SIGINT mid-restore (clean: true): pg_restore stopped, the target no longer changes, the decrypted dump removed', async () => {
    await cluster.createDatabase('source')
    await cluster.query('source', 'CREATE TABLE public.t AS SELECT generate_series(1, 1000) AS x; CREATE TABLE public.u AS SELECT 1 AS y')
    const path = mkdtempSync(join(tmpdir(), 'pgb-cancel-store-'))
    const common = { storage: 'local', path, name: 'source', 'encryption-passphrase': PASSPHRASE }
    const made = await startDist({ ...common, 'database-url': cluster.url('source') }).done
    expect(made.code).toBe(0)

    await cluster.createDatabase('target')
    await cluster.query('target', 'CREATE TABLE public.t AS SELECT -1 AS x FROM generate_series(1, 5)')
    const state = async () =>
      cluster.query('target', "SELECT (SELECT count(*)::int FROM public.t WHERE x = -1) AS old_rows, to_regclass('public.u') IS NOT NULL AS u")
    // A reader holds public.t: pg_restore --clean waits on its DROP TABLE.
    const reader = new pg.Client({ connectionString: cluster.url('target') })
    await reader.connect()
    try {
      await reader.query('BEGIN; LOCK TABLE public.t IN ACCESS SHARE MODE')
      const { child, runnerTemp, done } = startDist({
        ...common,
        command: 'restore',
        'target-database-url': cluster.url('target'),
        confirm: 'target',
        clean: 'true'
      })
      child.on('spawn', () => undefined)
      await until('pg_restore waiting on the lock', async () =>
        (await sessions('target', 'pg_restore')).some(s => s.wait === 'Lock') ? true : undefined
      ).catch(error => {
        stopAll([child.pid!, ...descendants(child.pid!).keys()])
        throw error
      })
      const children = descendants(child.pid!)
      expect([...children.values()].join('\n')).toMatch(/pg_restore/)
      expect(readdirSync(runnerTemp).some(f => f.startsWith('pgb-restore-'))).toBe(true)

      const signalled = Date.now()
      child.kill('SIGINT')
      const run = await done
      expect(Date.now() - signalled).toBeLessThan(7000)
      expect(run.code).not.toBe(0)
      expect(run.stdout).toMatch(/::error::Cancelled by SIGINT/)
      expect(alive(children)).toEqual([])
      expect(readdirSync(runnerTemp)).toEqual([])
      expect(await sessions('target', 'pg_restore')).toEqual([])
    } finally {
      await reader.query('COMMIT')
      await reader.end()
    }
    // Nothing is waiting to go on once the lock is gone: the target stays as it was.
    await new Promise(resolve => setTimeout(resolve, 1500))
    expect(await state()).toEqual([{ old_rows: 5, u: false }])
  })
})
