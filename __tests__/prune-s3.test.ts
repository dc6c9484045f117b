/** prune against a real S3 server (s3rver): exact survivors, manifests deleted first, Content-MD5 on DeleteObjects. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { createHash } from 'node:crypto'
import { newBackupId } from '../src/catalog/manifest.js'
import { prune } from '../src/commands/prune.js'
import type { BackupKind } from '../src/model/vocabulary.js'
import { S3Storage } from '../src/storage/s3.js'
import { testContext } from './helpers/action.js'
import { startS3, type TestS3 } from './helpers/s3.js'

const DAY = 86_400_000
const NOW = new Date('2025-12-31T03:00:00Z')
const PREFIX = 'backups/prod'
const id = (iso: string, kind: BackupKind = 'scheduled') => newBackupId(new Date(iso), kind, () => 0xbeef / 0x10000)
const daily = (date: string) => id(`${date}T02:00:00Z`)

// Hand-derived (see prune.test.ts): the last 7 days, the newest of the last 4 ISO weeks, the last day
// of each month, plus the pinned 03-15.
const SURVIVORS = [
  ...['12-31', '12-30', '12-29', '12-28', '12-27', '12-26', '12-25', '12-21', '12-14'],
  ...['11-30', '10-31', '09-30', '08-31', '07-31', '06-30', '05-31', '04-30', '03-31', '03-15', '02-28', '01-31']
].map(d => daily(`2025-${d}`))
const OLD = id('2025-01-01T02:00:00Z')
const OLD_UNFINISHED = id('2025-12-20T03:00:00Z')
const FRESH_UNFINISHED = id('2025-12-31T02:30:00Z')
const FOREIGN = [
  `${PREFIX}/app/notes.txt`,
  `${PREFIX}/app/sub/${OLD}.manifest.json`,
  `${PREFIX}/other/${OLD}.dump.zst`,
  `${PREFIX}/other/${OLD}.manifest.json`,
  `${PREFIX}2/app/${OLD}.manifest.json`,
  `app/${OLD}.dump.zst`,
  `app/${OLD}.manifest.json`
]

/** A backup per day at 02:00 and a pre-deploy snapshot every 5 days through 2025, plus leftovers and foreign keys. */
function year(): string[] {
  const keys: string[] = []
  const backup = (backupId: string, extra: string[] = []) => {
    for (const suffix of ['.dump.zst', '.sha256', ...extra, '.manifest.json']) keys.push(`${PREFIX}/app/${backupId}${suffix}`)
  }
  for (let t = Date.UTC(2025, 0, 1, 2); t <= Date.UTC(2025, 11, 31, 2); t += DAY) {
    const date = new Date(t).toISOString().slice(0, 10)
    backup(daily(date), [...(new Date(t).getUTCDay() === 0 ? ['.drill.json'] : []), ...(date === '2025-03-15' ? ['.pinned'] : [])])
  }
  for (let t = Date.UTC(2025, 0, 3, 14, 30); t < Date.UTC(2026, 0, 1); t += 5 * DAY) backup(id(new Date(t).toISOString(), 'pre-deploy'))
  keys.push(`${PREFIX}/app/${OLD_UNFINISHED}.dump.zst`, `${PREFIX}/app/${FRESH_UNFINISHED}.dump.zst`, ...FOREIGN)
  return keys
}

let s3: TestS3
const savedEnv = { ...process.env }

beforeAll(async () => {
  s3 = await startS3()
  // S3Storage takes credentials from the default AWS chain, i.e. the environment.
  Object.assign(process.env, s3.env)
  const keys = year()
  const queue = [...keys]
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let key = queue.shift(); key; key = queue.shift()) {
        await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: `body of ${key}` }))
      }
    })
  )
  expect(await s3.listKeys()).toHaveLength(keys.length)
})

afterAll(async () => {
  await s3?.stop()
  process.env = savedEnv
})

function context(inputs: Record<string, string>) {
  const { ctx } = testContext(inputs, { now: () => NOW })
  return { ctx, storage: ctx.storages[0] as S3Storage }
}

interface SentDelete {
  headers: Record<string, string>
  body: string
}

/** Records every DeleteObjects request as it leaves the client (after signing). */
function recordDeletes(storage: S3Storage): SentDelete[] {
  const sent: SentDelete[] = []
  storage.client.middlewareStack.add(
    (next, context) => async args => {
      if (context.commandName === 'DeleteObjectsCommand') {
        const request = args.request as { headers: Record<string, string>; body: string }
        sent.push({ headers: { ...request.headers }, body: String(request.body) })
      }
      return next(args)
    },
    { step: 'finalizeRequest', priority: 'low', name: 'testRecordDeletes' }
  )
  return sent
}

describe('prune on S3', () => {
  test('a year of daily backups keeps exactly the hand-derived ids; other sets and foreign keys stay', async () => {
    const before = await s3.listKeys()
    const inputs = {
      command: 'prune',
      storage: 's3',
      's3-bucket': s3.bucket,
      's3-endpoint': s3.endpoint,
      's3-prefix': PREFIX,
      name: 'app',
      kind: 'scheduled',
      'keep-daily': '7',
      'keep-weekly': '4',
      'keep-monthly': '12'
    }
    const { ctx, storage } = context(inputs)
    const sent = recordDeletes(storage)
    const result = await prune(ctx)

    expect(result.kept).toEqual(SURVIVORS)
    expect(result.deleted).toHaveLength(365 - SURVIVORS.length)
    expect(result.unfinished).toEqual([OLD_UNFINISHED])

    // Listed from the server itself: exactly the pruned ids' keys are gone.
    const gone = [...result.deleted, OLD_UNFINISHED].map(g => `${PREFIX}/app/${g}.`)
    const after = await s3.listKeys()
    expect(after.sort()).toEqual(before.filter(k => !gone.some(g => k.startsWith(g))).sort())
    const manifests = after.filter(k => k.startsWith(`${PREFIX}/app/`) && k.endsWith('.manifest.json') && k.includes('-scheduled-') && !k.includes('/sub/'))
    expect(
      manifests
        .map(k => k.slice(`${PREFIX}/app/`.length, -'.manifest.json'.length))
        .sort()
        .reverse()
    ).toEqual(SURVIVORS)
    expect(after.filter(k => k.includes('-pre-deploy-') && k.endsWith('.manifest.json'))).toHaveLength(73)
    for (const key of [...FOREIGN, `${PREFIX}/app/${FRESH_UNFINISHED}.dump.zst`]) expect(after).toContain(key)

    // Manifests went in the first request(s), before every other file; each request carried a
    // Content-MD5 of its body and no CRC32 checksum header.
    const hasManifest = sent.map(r => r.body.includes('.manifest.json</Key>'))
    expect(hasManifest[0]).toBe(true)
    expect(hasManifest.indexOf(false)).toBeGreaterThan(0)
    expect(hasManifest.slice(hasManifest.indexOf(false)).some(Boolean)).toBe(false)
    for (const request of sent) {
      expect(request.headers['content-md5']).toBe(createHash('md5').update(request.body).digest('base64'))
      expect(Object.keys(request.headers).filter(h => /checksum/i.test(h))).toEqual([])
    }

    // A second prune finds nothing to do.
    const again = await prune(context(inputs).ctx)
    expect(again.deleted).toEqual([])
    expect((await s3.listKeys()).sort()).toEqual(after.sort())
  })

  test('delete removes more than 1000 keys in batches', async () => {
    const keys = Array.from({ length: 1200 }, (_, i) => `batch/${String(i).padStart(4, '0')}`)
    const queue = [...keys]
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let key = queue.shift(); key; key = queue.shift()) await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'x' }))
      })
    )
    const { storage } = context({ command: 'verify', storage: 's3', 's3-bucket': s3.bucket, 's3-endpoint': s3.endpoint })
    const sent = recordDeletes(storage)
    await storage.delete(keys.slice(0, 1100))
    expect(sent).toHaveLength(2)
    expect(await s3.listKeys('batch/')).toEqual(keys.slice(1100))
  })
})
