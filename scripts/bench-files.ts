/**
 * `npm run bench:files` (after `npm run build`): Storage buckets backup on two S3 servers (s3rver):
 * 10,000 files of ~20 KB plus 20 files of ~20 MB. Measures, in one run:
 *   - a plain parallel copy of the same files between the servers with the AWS SDK (the baseline),
 *   - the first files-only backup (wall, peak RSS),
 *   - a second backup of the unchanged buckets (wall, requests to each server),
 *   - a restore of every file into another bucket (wall, peak RSS).
 * Wall times only compare within one run (the machine is shared): read the ratios.
 *
 *   BENCH_SMALL=10000 BENCH_LARGE=20 npm run bench:files
 */
import { GetObjectCommand, paginateListObjectsV2, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import type { Readable } from 'node:stream'
import { startS3, type TestS3 } from '../__tests__/helpers/s3.js'
import { killRunning, measure, type Measurement } from './bench/procs.js'

const SMALL = Number(process.env.BENCH_SMALL ?? 10_000)
const LARGE = Number(process.env.BENCH_LARGE ?? 20)
const JOBS = 8
const CLI = resolve(process.env.BENCH_CLI ?? 'dist/cli/index.js')
const MiB = 1024 * 1024

const s3client = (endpoint: string) =>
  new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED'
  })

async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++])
    })
  )
}

/** The baseline: list, then GET → PUT every object, JOBS at a time, streamed (lib-storage for the large ones). */
async function plainCopy(from: string, to: string, buckets: string[], target: string): Promise<void> {
  const source = s3client(from)
  const dest = s3client(to)
  for (const bucket of buckets) {
    const keys: string[] = []
    for await (const page of paginateListObjectsV2({ client: source }, { Bucket: bucket })) for (const o of page.Contents ?? []) keys.push(o.Key!)
    await inParallel(keys, JOBS, async key => {
      const got = await source.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      await new Upload({
        client: dest,
        params: { Bucket: target, Key: `${bucket}/${key}`, Body: got.Body as Readable },
        partSize: 8 * MiB,
        queueSize: 2
      }).done()
    })
  }
}

async function populate(s3: TestS3): Promise<void> {
  await s3.createBucket('photos')
  await s3.createBucket('videos')
  const small = Array.from({ length: SMALL }, (_, i) => i)
  await inParallel(small, 16, async i => {
    const key = `user-${i % 100}/photo ${i}.jpg`
    await s3.client.send(new PutObjectCommand({ Bucket: 'photos', Key: key, Body: randomBytes(18_000 + (i % 4000)), ContentType: 'image/jpeg' }))
  })
  const large = Array.from({ length: LARGE }, (_, i) => i)
  await inParallel(large, 4, async i => {
    await s3.client.send(new PutObjectCommand({ Bucket: 'videos', Key: `clip-${i}.mp4`, Body: randomBytes(20 * MiB + i), ContentType: 'video/mp4' }))
  })
}

interface Row {
  label: string
  m: Measurement
  note?: string
}

async function main(): Promise<void> {
  if (process.argv[2] === 'baseline') {
    await plainCopy(process.argv[3], process.argv[4], ['photos', 'videos'], 'baseline')
    return
  }
  const [source, dest] = await Promise.all([startS3(), startS3()])
  const stop = async () => {
    killRunning()
    await Promise.all([source.stop(), dest.stop()])
  }
  process.on('SIGINT', () => void stop().then(() => process.exit(130)))
  try {
    console.error(`populating ${SMALL} × ~20 KB + ${LARGE} × 20 MB…`)
    await populate(source)
    await dest.createBucket('baseline')
    await dest.createBucket('restored')
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      PG_BACKUP_NAME: 'bench',
      PG_BACKUP_STORAGE: 's3',
      PG_BACKUP_S3_BUCKET: dest.bucket,
      PG_BACKUP_S3_ENDPOINT: dest.endpoint,
      PG_BACKUP_BUCKETS: 'photos,videos',
      PG_BACKUP_BUCKETS_ONLY: 'true',
      PG_BACKUP_BUCKETS_S3_ENDPOINT: source.endpoint,
      PG_BACKUP_BUCKETS_ACCESS_KEY_ID: 'S3RVER',
      PG_BACKUP_BUCKETS_SECRET_ACCESS_KEY: 'S3RVER',
      PG_BACKUP_BUCKETS_JOBS: String(JOBS)
    }
    const rows: Row[] = []
    const run = async (label: string, args: string[], extraEnv: Record<string, string> = {}, note?: () => string) => {
      const before = [source.requestCount(), dest.requestCount()]
      const m = await measure(process.execPath, args, { env: { ...env, ...extraEnv } })
      if (m.code !== 0) throw new Error(`${label} failed (${m.code}):\n${m.stderr}`)
      const requests = `${source.requestCount() - before[0]} requests to the source, ${dest.requestCount() - before[1]} to the destination`
      rows.push({ label, m, note: [note?.(), requests].filter(Boolean).join('; ') })
      console.error(`${label}: ${m.seconds.toFixed(1)} s`)
    }
    const self = process.argv[1]
    await run('plain parallel AWS SDK copy (baseline)', [self, 'baseline', source.endpoint, dest.endpoint])
    await run('first backup', [CLI, 'backup'])
    await run('second backup, unchanged', [CLI, 'backup'])
    await run('restore every file', [CLI, 'restore'], {
      PG_BACKUP_BUCKETS_RESTORE_TO: 's3://restored/all',
      PG_BACKUP_CONFIRM: 's3://restored/all',
      PG_BACKUP_BUCKETS_RESTORE_S3_ENDPOINT: dest.endpoint,
      PG_BACKUP_BUCKETS_ONLY: ''
    })

    const base = rows[0].m.seconds
    const rss = (m: Measurement) => (m.largest ? `${Math.round(m.largest.kb / 1024)} MB (${m.largest.name})` : '?')
    console.log(`${SMALL} files of ~20 KB + ${LARGE} files of 20 MB, buckets-jobs ${JOBS}, two s3rver instances on 127.0.0.1\n`)
    console.log('| case | wall | vs baseline | peak RSS | requests |')
    console.log('|---|---:|---:|---:|---|')
    for (const r of rows) console.log(`| ${r.label} | ${r.m.seconds.toFixed(1)} s | ${(r.m.seconds / base).toFixed(2)}× | ${rss(r.m)} | ${r.note ?? ''} |`)
    const first = rows[1].m.seconds
    const second = rows[2].m.seconds
    console.log(
      `\nfirst / second backup: ${(first / second).toFixed(1)}× (target ≥ 20×); first backup / baseline: ${(first / base).toFixed(2)}× (target ≤ 1.5×)`
    )
  } finally {
    await stop()
  }
}

main().catch(error => {
  console.error(error)
  process.exitCode = 1
})
