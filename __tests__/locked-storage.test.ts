/**
 * Locked storage and a write-only key, against moto's S3 server (versioning, Object Lock,
 * conditional writes). The shop's dump is far below the multipart threshold: moto does not
 * lock multipart uploads.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { DeleteObjectCommand, HeadObjectCommand, PutObjectRetentionCommand } from '@aws-sdk/client-s3'
import { S3Storage } from '../src/storage/s3.js'
import { expectNoSecrets, runAction as runWith } from './helpers/action.js'
import { startMoto, type TestMoto } from './helpers/moto.js'
import type { TestCluster } from './helpers/postgres.js'
import { startS3 } from './helpers/s3.js'
import { databaseFingerprint, startShop } from './helpers/sample.js'

let pg: TestCluster
let moto: TestMoto
const savedEnv = { ...process.env }

/** Runs the action with these S3 credentials in the process environment, where the AWS chain reads them. */
async function runAction(inputs: Record<string, string>, env: Record<string, string>) {
  Object.assign(process.env, env)
  try {
    return await runWith(inputs, env)
  } finally {
    process.env = { ...savedEnv }
  }
}

const s3 = (bucket: string, endpoint = moto.endpoint) => ({ storage: 's3', 's3-bucket': bucket, 's3-endpoint': endpoint, name: 'shop' })
const locked = (bucket: string) => ({ ...s3(bucket), 's3-object-lock-mode': 'governance', 's3-object-lock-days': '1' })
const backupNow = async (inputs: Record<string, string>, env = moto.env) => {
  const run = await runAction({ ...inputs, 'database-url': pg.url('shop') }, env)
  expect(run.failure).toBeUndefined()
  return run
}
const keysOf = async (bucket: string) => (await moto.versions(bucket, 'shop/')).filter(v => !v.marker).map(v => v.key)

beforeAll(async () => {
  ;[pg, moto] = await Promise.all([startShop(), startMoto()])
})

afterAll(async () => {
  await Promise.all([pg?.stop(), moto?.stop()])
})

describe('Object Lock', () => {
  test('every object a backup writes carries the retention, and verify passes', async () => {
    await moto.createBucket('locked', { lock: true })
    const run = await backupNow(locked('locked'))
    expect(run.outputs.verified).toBe('true')
    const keys = await keysOf('locked')
    expect(keys.length).toBe(3)
    for (const key of keys) {
      const head = await moto.client.send(new HeadObjectCommand({ Bucket: 'locked', Key: key }))
      expect(head.ObjectLockMode).toBe('GOVERNANCE')
      expect(head.ObjectLockRetainUntilDate!.getTime()).toBeGreaterThan(Date.now() + 23 * 3_600_000)
    }
  })

  test('a bucket default retention locks objects when the inputs are empty', async () => {
    await moto.createBucket('default-lock', { lock: true, defaultRetentionDays: 1 })
    await backupNow(s3('default-lock'))
    for (const key of await keysOf('default-lock')) {
      expect((await moto.client.send(new HeadObjectCommand({ Bucket: 'default-lock', Key: key }))).ObjectLockMode).toBe('GOVERNANCE')
    }
  })

  test('a store that accepts the headers but does not lock (s3rver) fails the backup, and nothing is published', async () => {
    const ignoring = await startS3()
    try {
      const run = await runAction({ ...locked(ignoring.bucket), 's3-endpoint': ignoring.endpoint, 'database-url': pg.url('shop') }, ignoring.env)
      expect(run.failure).toMatch(
        /was stored without Object Lock retention although s3-object-lock-mode asked for governance: this store does not apply Object Lock/
      )
      expect((await ignoring.listKeys('shop/')).filter(k => k.endsWith('.manifest.json'))).toEqual([])
    } finally {
      await ignoring.stop()
    }
  })

  test('prune never fights a lock: nothing deleted, each reported as retained until its date; deleted once the lock ends', async () => {
    await moto.createBucket('prune-locked', { lock: true })
    const ids: string[] = []
    // A minute apart: backups of the same second are ordered by write time, which this store keeps to the second.
    for (let i = 0; i < 3; i++) {
      const run = await runAction({ ...locked('prune-locked'), 'database-url': pg.url('shop') }, moto.env, () => new Date(Date.now() - (3 - i) * 60_000))
      expect(run.failure).toBeUndefined()
      ids.push(run.outputs['backup-id'])
    }
    const before = await moto.versions('prune-locked', 'shop/')
    const run = await runAction({ ...s3('prune-locked'), command: 'prune', kind: 'manual', 'keep-last': '1' }, moto.env)
    expect(run.failure).toBeUndefined()
    expect(JSON.parse(run.outputs.deleted)).toEqual([])
    const retained = JSON.parse(run.outputs.retained)
    expect(retained.map((r: { id: string }) => r.id)).toEqual([ids[1], ids[0]])
    expect(new Date(retained[0].until).getTime()).toBeGreaterThan(Date.now())
    expect(run.summary).toMatch(new RegExp(`${ids[0]} \\| retained until \\d{4}-\\d{2}-\\d{2} \\(Object Lock\\)`))
    expect(await moto.versions('prune-locked', 'shop/')).toEqual(before)

    // The locks of the two older backups end in a moment (shortening governance needs the bypass, which only the test uses).
    const soon = new Date(Date.now() + 2000)
    for (const v of before.filter(v => !v.key.includes(ids[2]))) {
      await moto.client.send(
        new PutObjectRetentionCommand({
          Bucket: 'prune-locked',
          Key: v.key,
          BypassGovernanceRetention: true,
          Retention: { Mode: 'GOVERNANCE', RetainUntilDate: soon }
        })
      )
    }
    await new Promise(resolve => setTimeout(resolve, 2500))
    const later = await runAction({ ...s3('prune-locked'), command: 'prune', kind: 'manual', 'keep-last': '1' }, moto.env)
    expect(later.failure).toBeUndefined()
    expect(JSON.parse(later.outputs.deleted)).toEqual([ids[1], ids[0]])
    // Every version is gone (space freed), no delete marker was left, the newest backup is whole.
    const after = await moto.versions('prune-locked', 'shop/')
    expect(after.every(v => !v.marker && v.key.includes(ids[2]))).toBe(true)
    expect(after.length).toBe(3)
  })

  test('in a versioned bucket prune deletes the versions, not just hides them', async () => {
    await moto.createBucket('versioned', { versioned: true })
    await backupNow(s3('versioned'))
    const newest = (await backupNow(s3('versioned'))).outputs['backup-id']
    const run = await runAction({ ...s3('versioned'), command: 'prune', kind: 'manual', 'keep-last': '1' }, moto.env)
    expect(run.failure).toBeUndefined()
    const left = await moto.versions('versioned', 'shop/')
    expect(left.length).toBe(3)
    expect(left.every(v => !v.marker && v.key.includes(newest))).toBe(true)
  })

  test('a backup hidden by a plain DELETE is reported by monitor and brought back by a drill with its id', async () => {
    await moto.createBucket('tampered', { lock: true })
    const hidden = (await backupNow(locked('tampered'))).outputs['backup-id']
    await backupNow(locked('tampered'))
    // An attacker's delete of a locked object: S3 only adds a delete marker.
    for (const key of (await keysOf('tampered')).filter(k => k.includes(hidden)))
      await moto.client.send(new DeleteObjectCommand({ Bucket: 'tampered', Key: key }))

    const monitor = await runAction({ ...s3('tampered'), command: 'monitor' }, moto.env)
    expect(monitor.failure).toMatch(new RegExp(`hidden backups: 1 backup\\(s\\) hidden by delete markers, a sign of tampering .*: ${hidden}`))

    await pg.createDatabase('from_hidden')
    const drill = await runAction({ ...s3('tampered'), command: 'drill', backup: hidden, 'target-database-url': pg.url('from_hidden') }, moto.env)
    expect(drill.failure).toBeUndefined()
    expect(drill.log).toMatch(new RegExp(`warning: backup ${hidden} is hidden by a delete marker`))
    expect(JSON.parse(drill.outputs.report)).toMatchObject({ backupId: hidden, passed: true })
    expect(await databaseFingerprint(pg, 'from_hidden')).toEqual(await databaseFingerprint(pg, 'shop'))
    expectNoSecrets([monitor.log, drill.log], [pg.password])
  })
})

describe('a write-only backup key', () => {
  test('backs up; with prune: true the backup succeeds and warns that pruning was left to a job with delete rights', async () => {
    await moto.createBucket('write-only', { versioned: true })
    const first = await backupNow(s3('write-only', moto.frontEndpoint), moto.writeOnlyEnv)
    const before = await moto.versions('write-only', 'shop/')
    const run = await backupNow({ ...s3('write-only', moto.frontEndpoint), prune: 'true', 'keep-last': '1' }, moto.writeOnlyEnv)
    expect(run.outputs['backup-id']).toBeDefined()
    expect(run.log).toMatch(/warning: the backup succeeded; pruning was left to a job with delete rights: the S3 credentials may not/)
    const after = await moto.versions('write-only', 'shop/')
    expect(after.filter(v => v.key.includes(first.outputs['backup-id']))).toEqual(before)
    expect(after.some(v => v.marker)).toBe(false)

    // The same key cannot delete through prune either; the error says why.
    const prune = await runAction({ ...s3('write-only', moto.frontEndpoint), command: 'prune', kind: 'manual', 'keep-last': '1' }, moto.writeOnlyEnv)
    expect(prune.failure).toMatch(/the S3 credentials may not/)
    expect(await moto.versions('write-only', 'shop/')).toEqual(after)
    // Nor list versions: monitor says it could not look for hidden backups, and checks the rest.
    const monitor = await runAction({ ...s3('write-only', moto.frontEndpoint), command: 'monitor' }, moto.writeOnlyEnv)
    expect(monitor.failure).toBeUndefined()
    expect(monitor.log).toMatch(/warning: could not look for backups hidden by delete markers: the S3 credentials may not list object versions/)
  })

  test('writes never replace an object that exists (If-None-Match: *)', async () => {
    await moto.createBucket('conditional')
    Object.assign(process.env, moto.env)
    try {
      const storage = new S3Storage({ bucket: 'conditional', prefix: '', endpoint: moto.endpoint, forcePathStyle: true }, moto.env)
      await storage.put('shop/x.manifest.json', '{"first":true}', 'application/json', { createOnly: true })
      await expect(storage.put('shop/x.manifest.json', '{"second":true}', 'application/json', { createOnly: true })).rejects.toThrow(
        /pre-conditions you specified did not hold/
      )
      expect(JSON.parse((await (await storage.get('shop/x.manifest.json')).toArray()).join(''))).toEqual({ first: true })
      // A drill report is rewritten by every drill of the backup: plain puts replace.
      await storage.put('shop/x.drill.json', '{"n":1}')
      await storage.put('shop/x.drill.json', '{"n":2}')
      expect(JSON.parse((await (await storage.get('shop/x.drill.json')).toArray()).join(''))).toEqual({ n: 2 })
    } finally {
      process.env = { ...savedEnv }
    }
  })
})
