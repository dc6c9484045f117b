/**
 * Storage files beside the database backup, on real servers: an s3rver standing in for Supabase
 * Storage (behind a front that counts and can fail requests), moto as the backup destination and
 * as a restore target, and a local folder as a second destination and a restore target.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client
} from '@aws-sdk/client-s3'
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '../src/pipeline/age.js'
import { expectNoSecrets, runAction } from './helpers/action.js'
import { startFront, startMotoServer, type Front } from './helpers/front.js'
import type { TestCluster } from './helpers/postgres.js'
import type { TestS3 } from './helpers/s3.js'
import { startShopAndS3 } from './helpers/sample.js'

const PASSPHRASE = 'files passphrase ✓'
const SOURCE_SECRET = 'S3RVER'
const MiB = 1024 * 1024

let pg: TestCluster
let source: TestS3
let front: Front
let moto: { endpoint: string; stop(): Promise<void> }
let dest: S3Client
const dirs: string[] = []
const tempDir = (label: string) => {
  const dir = mkdtempSync(join(tmpdir(), `pgb-files-${label}-`))
  dirs.push(dir)
  return dir
}
let localDest: string

/** The source files: bucket → key → bytes. */
const files: Record<string, Record<string, Buffer>> = {
  avatars: {
    'empty.png': Buffer.alloc(0),
    'user 1/ünïcødé photo.jpg': randomBytes(3000),
    'a/b/c/deep.txt': Buffer.from('version one\n'),
    '.emptyFolderPlaceholder': Buffer.alloc(0)
  },
  documents: {
    'big.bin': randomBytes(9 * MiB + 123), // more than one 8 MiB multipart part
    'reports/2026 Q1.pdf': randomBytes(70_000),
    'same-as-photo.jpg': Buffer.alloc(0) // set below: the same bytes as another file, stored once
  }
}
files.documents['same-as-photo.jpg'] = files.avatars['user 1/ünïcødé photo.jpg']
const CONTENT_TYPES: Record<string, string> = { 'user 1/ünïcødé photo.jpg': 'image/jpeg', 'reports/2026 Q1.pdf': 'application/pdf' }

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

beforeAll(async () => {
  ;({ pg, s3: source } = await startShopAndS3())
  front = await startFront(Number(new URL(source.endpoint).port))
  moto = await startMotoServer()
  dest = new S3Client({
    endpoint: moto.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED'
  })
  await dest.send(new CreateBucketCommand({ Bucket: 'backups' }))
  for (const [bucket, objects] of Object.entries(files)) {
    await source.createBucket(bucket)
    for (const [key, body] of Object.entries(objects)) {
      await source.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: CONTENT_TYPES[key] }))
    }
  }
  // storage.objects as Supabase keeps it: one row per file, plus a row whose file is gone.
  await pg.query('shop', 'CREATE SCHEMA storage; CREATE TABLE storage.objects (id serial PRIMARY KEY, bucket_id text, name text)')
  for (const [bucket, objects] of Object.entries(files)) {
    for (const key of Object.keys(objects)) await pg.query('shop', 'INSERT INTO storage.objects (bucket_id, name) VALUES ($1, $2)', [bucket, key])
  }
  await pg.query('shop', "INSERT INTO storage.objects (bucket_id, name) VALUES ('avatars', 'lost/file.png')")
  localDest = tempDir('local')
}, 180_000)

afterAll(async () => {
  dest?.destroy()
  await Promise.all([pg?.stop(), source?.stop(), front?.stop(), moto?.stop()])
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const inputs = (extra: Record<string, string> = {}): Record<string, string> => ({
  'database-url': pg.url('shop'),
  storage: 's3,local',
  path: localDest,
  's3-bucket': 'backups',
  's3-prefix': 'prod',
  's3-endpoint': moto.endpoint,
  'encryption-passphrase': PASSPHRASE,
  buckets: 'avatars, documents',
  'buckets-s3-endpoint': front.endpoint,
  'buckets-s3-region': 'us-east-1',
  'buckets-access-key-id': 'S3RVER',
  'buckets-secret-access-key': SOURCE_SECRET,
  ...extra
})

async function destKeys(prefix: string): Promise<Array<{ key: string; size: number }>> {
  const out: Array<{ key: string; size: number }> = []
  let token: string | undefined
  do {
    const page = await dest.send(new ListObjectsV2Command({ Bucket: 'backups', Prefix: prefix, ContinuationToken: token }))
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0 })
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token)
  return out
}
async function destGet(key: string, bucket = 'backups'): Promise<Buffer> {
  const res = await dest.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return Buffer.from(await res.Body!.transformToByteArray())
}
const manifestOf = async (id: string) => JSON.parse((await destGet(`prod/shop/${id}.files.json`)).toString())
const gets = () => front.requests.filter(r => r.startsWith('GET ') && !/[?&](list-type|prefix)=/.test(r) && !/^GET \/[^/?]*\/?(\?|$)/.test(r))
const secrets = () => [pg.password, PASSPHRASE, SOURCE_SECRET === 'S3RVER' ? 'never-matches-a-real-secret' : SOURCE_SECRET]

/** Every source file (optionally: as the given map) is in `dir/<bucket>/<key>` byte for byte. */
function expectFolderHolds(dir: string, expected: Record<string, Record<string, Buffer>>) {
  for (const [bucket, objects] of Object.entries(expected)) {
    for (const [key, body] of Object.entries(objects)) expect(sha256(readFileSync(join(dir, bucket, key)))).toBe(sha256(body))
  }
}

const ids: string[] = []
/** Ids start with their second: backups of one second would be ordered by write time, which S3 keeps only to the second. */
const nextSecond = () => new Promise(resolve => setTimeout(resolve, 1010 - (Date.now() % 1000)))

describe('Storage buckets beside the database backup', () => {
  test('a full backup stores every file once, encrypted so that gpg opens it, and lists it in the files manifest', async () => {
    const run = await runAction(inputs())
    expect(run.failure).toBeUndefined()
    expectNoSecrets([run.log, JSON.stringify(run.outputs)], secrets())
    expect(run.masked).toEqual(expect.arrayContaining([SOURCE_SECRET]))
    const id = run.outputs['backup-id']
    ids.push(id)
    // Two pairs of files share their bytes (the empty ones, the photo and its copy): stored once each.
    expect(run.outputs).toMatchObject({ 'files-count': '7', 'files-new': '5', 'files-reused': '2', verified: 'true' })
    expect(run.summary).toMatch(/Files snapshot/)

    const manifest = await manifestOf(id)
    expect(manifest.encryption).toMatchObject({ algorithm: 'openpgp-aes256', hash: 'hmac-sha256' })
    const listed = manifest.files.map((f: { bucket: string; key: string }) => `${f.bucket}/${f.key}`)
    expect(listed).toEqual([
      'avatars/.emptyFolderPlaceholder',
      'avatars/a/b/c/deep.txt',
      'avatars/empty.png',
      'avatars/user 1/ünïcødé photo.jpg',
      'documents/big.bin',
      'documents/reports/2026 Q1.pdf',
      'documents/same-as-photo.jpg'
    ])
    const photo = manifest.files.find((f: { key: string }) => f.key === 'user 1/ünïcødé photo.jpg')
    expect(photo).toMatchObject({ size: 3000, contentType: 'image/jpeg' })
    expect(photo.etag).toBeTruthy()
    expect(new Date(photo.lastModified).getTime()).toBeGreaterThan(0)
    // Keyed names: the stored name is not the sha256 of the plaintext.
    expect(photo.hash).not.toBe(sha256(files.avatars['user 1/ünïcødé photo.jpg']))

    // Each content once (the photo and its copy share one; the two empty files share one): 5 contents.
    const contents = await destKeys('prod/shop/files/')
    expect(contents).toHaveLength(5)
    expect(readdirSync(join(localDest, 'shop', 'files'), { recursive: true }).filter(f => String(f).endsWith('.gpg'))).toHaveLength(5)
    // A plain gpg --decrypt opens a stored content.
    const big = manifest.files.find((f: { key: string }) => f.key === 'big.bin')
    const stored = join(tempDir('gpg'), 'big.gpg')
    writeFileSync(stored, await destGet(`prod/shop/files/${big.hash.slice(0, 2)}/${big.hash}.gpg`))
    const home = tempDir('gpghome')
    const plain = execFileSync(
      'gpg',
      ['--homedir', home, '--batch', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', PASSPHRASE, '--decrypt', stored],
      { maxBuffer: 64 * MiB }
    )
    execFileSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'])
    expect(sha256(plain)).toBe(sha256(files.documents['big.bin']))

    // The database manifest knows about its files; the snapshot was verified with it.
    const db = JSON.parse((await destGet(`prod/shop/${id}.manifest.json`)).toString())
    expect(db.files).toEqual({
      files: 7,
      bytes: Object.values(files)
        .flatMap(o => Object.values(o))
        .reduce((s, b) => s + b.length, 0)
    })
  })

  test('restore puts back every file byte for byte, into a folder and into buckets on another S3 endpoint, guarded', async () => {
    const folder = tempDir('restore')
    const refused = await runAction(inputs({ command: 'restore', 'buckets-restore-to': folder, confirm: 'yes' }))
    expect(refused.failure).toMatch(/confirm.*must equal buckets-restore-to/)
    expect(readdirSync(folder)).toHaveLength(0)

    const dry = await runAction(inputs({ command: 'restore', 'buckets-restore-to': folder, confirm: folder, 'dry-run': 'true' }))
    expect(dry.failure).toBeUndefined()
    expect(dry.log).toContain(`would write ${join(folder, 'documents', 'big.bin')}`)
    expect(readdirSync(folder)).toHaveLength(0)

    const run = await runAction(inputs({ command: 'restore', 'buckets-restore-to': folder, confirm: folder }))
    expect(run.failure).toBeUndefined()
    expect(run.outputs['files-count']).toBe('7')
    expectFolderHolds(folder, files)

    // Into the same bucket names on another endpoint (moto), leaving an extra object alone.
    for (const bucket of ['avatars', 'documents']) await dest.send(new CreateBucketCommand({ Bucket: bucket }))
    await dest.send(new PutObjectCommand({ Bucket: 'avatars', Key: 'extra.txt', Body: 'keep me' }))
    const target = {
      'buckets-restore-to': 's3://',
      confirm: 's3://',
      'buckets-restore-s3-endpoint': moto.endpoint,
      'buckets-restore-access-key-id': 'x',
      'buckets-restore-secret-access-key': 'target-secret'
    }
    const s3run = await runAction(inputs({ command: 'restore', ...target }))
    expect(s3run.failure).toBeUndefined()
    expectNoSecrets([s3run.log], ['target-secret'])
    for (const [bucket, objects] of Object.entries(files)) {
      for (const [key, body] of Object.entries(objects)) expect(sha256(await destGet(key, bucket))).toBe(sha256(body))
    }
    const head = await dest.send(new HeadObjectCommand({ Bucket: 'avatars', Key: 'user 1/ünïcødé photo.jpg' }))
    expect(head.ContentType).toBe('image/jpeg')
    expect((await destGet('extra.txt', 'avatars')).toString()).toBe('keep me')
    // Asked to, it deletes what the snapshot lacks (only in the restored bucket).
    const pruned = await runAction(inputs({ command: 'restore', ...target, buckets: 'avatars', 'buckets-restore-delete-extra': 'true' }))
    expect(pruned.failure).toBeUndefined()
    await expect(destGet('extra.txt', 'avatars')).rejects.toThrow()
    expect(sha256(await destGet('a/b/c/deep.txt', 'avatars'))).toBe(sha256(files.avatars['a/b/c/deep.txt']))
  })

  test('a second backup of unchanged buckets downloads no file and stores only a new manifest', async () => {
    const before = await destKeys('prod/shop/files/')
    const getsBefore = gets().length
    await nextSecond()
    const run = await runAction(inputs())
    expect(run.failure).toBeUndefined()
    ids.push(run.outputs['backup-id'])
    expect(run.outputs).toMatchObject({ 'files-count': '7', 'files-new': '0', 'files-reused': '7' })
    expect(gets().length).toBe(getsBefore)
    expect(await destKeys('prod/shop/files/')).toEqual(before)
  })

  test('a changed and a deleted file: each backup restores its own version', async () => {
    await source.client.send(new PutObjectCommand({ Bucket: 'avatars', Key: 'a/b/c/deep.txt', Body: 'version two\n' }))
    await source.client.send(new DeleteObjectCommand({ Bucket: 'documents', Key: 'reports/2026 Q1.pdf' }))
    // A files-only backup this time.
    await nextSecond()
    const run = await runAction(inputs({ 'database-url': '', name: 'shop', 'buckets-only': 'true' }))
    expect(run.failure).toBeUndefined()
    expect(run.outputs).toMatchObject({ 'files-count': '6', 'files-new': '1', 'files-reused': '5' })
    ids.push(run.outputs['backup-id'])
    expect(await destKeys(`prod/shop/${ids[2]}.manifest.json`)).toHaveLength(0)

    const older = tempDir('older')
    expect((await runAction(inputs({ command: 'restore', backup: ids[1], 'buckets-restore-to': older, confirm: older }))).failure).toBeUndefined()
    expect(readFileSync(join(older, 'avatars/a/b/c/deep.txt'), 'utf8')).toBe('version one\n')
    expect(sha256(readFileSync(join(older, 'documents/reports/2026 Q1.pdf')))).toBe(sha256(files.documents['reports/2026 Q1.pdf']))

    const newer = tempDir('newer')
    const latest = await runAction(
      inputs({ command: 'restore', 'buckets-restore-to': newer, confirm: newer, buckets: 'avatars', 'buckets-restore-prefix': 'a/' })
    )
    expect(latest.failure).toBeUndefined()
    expect(latest.outputs['backup-id']).toBe(ids[2])
    expect(readFileSync(join(newer, 'avatars/a/b/c/deep.txt'), 'utf8')).toBe('version two\n')
    expect(
      readdirSync(newer, { recursive: true })
        .map(String)
        .filter(p => !p.endsWith('b') && !p.endsWith('c') && p !== 'avatars' && p !== 'avatars/a')
    ).toEqual(['avatars/a/b/c/deep.txt'])
    expect(existsSync(join(newer, 'documents'))).toBe(false)

    // Database commands pass the files-only backup by: latest for a database restore is the newest dump.
    const verify = await runAction(inputs({ command: 'verify', backup: ids[2] }))
    expect(verify.failure).toBeUndefined()
    expect(verify.summary).toMatch(/files only.*passed/)
  })

  test('drill checks every file and cross-checks storage.objects of the restored database', async () => {
    await pg.createDatabase('drill_files')
    const run = await runAction(inputs({ command: 'drill', backup: ids[0], 'target-database-url': pg.url('drill_files') }))
    expect(run.failure).toBeUndefined()
    const report = JSON.parse(run.outputs.report)
    expect(report.files).toMatchObject({ total: 7, checked: 7, sample: false, failures: [], passed: true })
    expect(report.files.crossCheck).toMatchObject({ notInSnapshot: 1, notInDatabase: 0 })
    expect(report.files.crossCheck.examples).toContain('database only: avatars/lost/file.png')
    expect(run.log).toMatch(/warning: storage.objects and the files snapshot/)
  })

  test('prune keeps every content a kept backup needs and removes the rest', async () => {
    const later = () => new Date(Date.now() + 3 * 24 * 3_600_000)
    const before = await destKeys('prod/shop/files/')
    expect(before).toHaveLength(6) // five, plus "version two"
    const run = await runAction(inputs({ command: 'prune', kind: 'manual', 'keep-last': '1' }), {}, later)
    expect(run.failure).toBeUndefined()
    expect(JSON.parse(run.outputs.deleted)).toEqual([ids[1], ids[0]])
    const after = await destKeys('prod/shop/files/')
    // Gone: "version one" and the deleted report; every content backup 3 references stays.
    expect(after).toHaveLength(4)
    const kept = await manifestOf(ids[2])
    const keys = new Set(after.map(o => o.key))
    for (const f of kept.files) expect(keys.has(`prod/shop/files/${f.hash.slice(0, 2)}/${f.hash}.gpg`)).toBe(true)
    const restored = tempDir('after-prune')
    expect((await runAction(inputs({ command: 'restore', 'buckets-restore-to': restored, confirm: restored }))).failure).toBeUndefined()
    expect(readFileSync(join(restored, 'avatars/a/b/c/deep.txt'), 'utf8')).toBe('version two\n')
    expect(sha256(readFileSync(join(restored, 'documents/big.bin')))).toBe(sha256(files.documents['big.bin']))
  })

  test('a corrupted stored content fails verify and drill, naming the file', async () => {
    const manifest = await manifestOf(ids[2])
    const photo = manifest.files.find((f: { key: string }) => f.key === 'user 1/ünïcødé photo.jpg')
    const key = `prod/shop/files/${photo.hash.slice(0, 2)}/${photo.hash}.gpg`
    const good = await destGet(key)
    // Same size, one byte flipped: only a download finds it.
    const flipped = Buffer.from(good)
    flipped[flipped.length - 30] ^= 1
    await dest.send(new PutObjectCommand({ Bucket: 'backups', Key: key, Body: flipped }))
    const drill = await runAction(inputs({ command: 'drill' }))
    expect(drill.failure).toMatch(/Drill of backup .* failed: 2 file\(s\) failed their check: avatars\/user 1\/ünïcødé photo.jpg: .*integrity/)
    expect(drill.failure).toContain('documents/same-as-photo.jpg')
    // Truncated: a listing finds it.
    await dest.send(new PutObjectCommand({ Bucket: 'backups', Key: key, Body: good.subarray(0, 100) }))
    const verify = await runAction(inputs({ command: 'verify' }))
    expect(verify.failure).toMatch(
      /Verify failed for backup .*: files: 2 file\(s\) have no stored content of the right size: avatars\/user 1\/ünïcødé photo.jpg, documents\/same-as-photo.jpg/
    )
    await dest.send(new PutObjectCommand({ Bucket: 'backups', Key: key, Body: good }))
    truncateSync(join(localDest, 'shop', 'files', photo.hash.slice(0, 2), `${photo.hash}.gpg`), 10)
    const sample = await runAction(inputs({ command: 'drill', storage: 'local', 'buckets-drill-sample': '2' }))
    expect(sample.summary).toMatch(/2 of 6 \(a random sample/)
  })

  test('wrong source keys fail clearly and publish nothing', async () => {
    const before = (await destKeys('prod/shop/')).map(o => o.key)
    const run = await runAction(inputs({ 'buckets-access-key-id': 'WRONGKEYID', 'buckets-secret-access-key': 'wrong-secret-key' }))
    expect(run.failure).toMatch(/Listing bucket "avatars" of http:\/\/127\.0\.0\.1:\d+ failed: .*check buckets-access-key-id and buckets-secret-access-key/)
    expectNoSecrets([run.log], ['wrong-secret-key', PASSPHRASE, pg.password])
    expect((await destKeys('prod/shop/')).map(o => o.key)).toEqual(before)
  })

  test('a source listing that fails mid-way publishes nothing', async () => {
    const before = (await destKeys('prod/shop/')).map(o => o.key)
    front.fail = req => req.method === 'GET' && (req.url ?? '').startsWith('/documents')
    try {
      const run = await runAction(inputs())
      expect(run.failure).toMatch(/Listing bucket "documents" .* failed: .*nothing was published/)
    } finally {
      front.fail = undefined
    }
    expect((await destKeys('prod/shop/')).map(o => o.key)).toEqual(before)
  })
})

describe('Storage buckets encrypted to age public keys', () => {
  type Keys = Awaited<ReturnType<typeof generateKeyPair>>
  let ops: Keys, laptop: Keys, stranger: Keys
  /** The backup store behind a front, to see whether a command downloaded any content. */
  let store: Front
  let ageLocal: string
  /** What the source buckets hold now (earlier tests changed them). */
  const current: Record<string, Record<string, Buffer>> = {}
  const ageIds: string[] = []
  const ageInputs = (extra: Record<string, string> = {}) =>
    inputs({
      'encryption-passphrase': '',
      'encryption-public-keys': `${ops.recipient}\n${laptop.recipient}`,
      's3-prefix': 'age',
      's3-endpoint': store.endpoint,
      path: ageLocal,
      ...extra
    })
  const contentGets = () => store.requests.filter(r => r.startsWith('GET /backups/age/shop/files/'))
  const identities = () => [ops.identity, laptop.identity, stranger.identity]
  const ageManifest = async (id: string) => JSON.parse((await destGet(`age/shop/${id}.files.json`)).toString())
  /** The stock age CLI decrypting a stored content with the key file of `keys`. */
  const ageDecrypt = (stored: Buffer, keys: Keys): Buffer => {
    const dir = tempDir('age-cli')
    writeFileSync(join(dir, 'key.txt'), keys.file, { mode: 0o600 })
    writeFileSync(join(dir, 'content.age'), stored)
    return execFileSync('age', ['-d', '-i', join(dir, 'key.txt'), join(dir, 'content.age')], { maxBuffer: 64 * MiB })
  }

  beforeAll(async () => {
    ;[ops, laptop, stranger] = await Promise.all([1, 2, 3].map(() => generateKeyPair(new Date())))
    store = await startFront(Number(new URL(moto.endpoint).port))
    ageLocal = tempDir('age-local')
    for (const bucket of Object.keys(files)) {
      current[bucket] = {}
      const listed = await source.client.send(new ListObjectsV2Command({ Bucket: bucket }))
      for (const { Key } of listed.Contents ?? []) {
        const res = await source.client.send(new GetObjectCommand({ Bucket: bucket, Key }))
        current[bucket][Key!] = Buffer.from(await res.Body!.transformToByteArray())
      }
    }
  }, 60_000)
  afterAll(async () => store?.stop())

  test('a backup with public keys stores every content as an age file that `age -d -i` opens, with no private key on the runner', async () => {
    const run = await runAction(ageInputs())
    expect(run.failure).toBeUndefined()
    // The backup's inputs and environment hold no private key, and nothing it wrote shows one.
    expect(JSON.stringify(process.env)).not.toMatch(/AGE-SECRET-KEY-1/)
    expect(run.masked.join('\n')).not.toMatch(/AGE-SECRET-KEY-1/)
    expectNoSecrets([run.log, JSON.stringify(run.outputs)], [...identities(), PASSPHRASE])
    expect(run.outputs).toMatchObject({ 'files-count': '6', 'files-new': '4', verified: 'true' })
    ageIds.push(run.outputs['backup-id'])

    const manifest = await ageManifest(ageIds[0])
    expect(manifest.encryption).toEqual({
      algorithm: 'age-x25519',
      hash: 'hmac-sha256-recipients',
      recipients: [ops.recipient, laptop.recipient],
      keyCheck: expect.stringMatching(/^[0-9a-f]{16}$/)
    })
    const contents = await destKeys('age/shop/files/')
    expect(contents).toHaveLength(4)
    expect(contents.every(o => o.key.endsWith('.age'))).toBe(true)
    expect(readdirSync(join(ageLocal, 'shop', 'files'), { recursive: true }).filter(f => String(f).endsWith('.age'))).toHaveLength(4)
    expect(manifest.files).toHaveLength(6)
    for (const f of manifest.files) {
      const plain = ageDecrypt(await destGet(`age/shop/files/${f.hash.slice(0, 2)}/${f.hash}.age`), laptop)
      expect(sha256(plain)).toBe(sha256(current[f.bucket][f.key]))
      // Names are keyed, not the bare sha256 of the bytes.
      expect(f.hash).not.toBe(sha256(plain))
    }
  })

  test('verify needs no private key; drill and restore without the right key fail before downloading, naming the keys', async () => {
    const only = await runAction(ageInputs({ 'database-url': '', name: 'shop', 'buckets-only': 'true' }))
    expect(only.failure).toBeUndefined()
    // The same public keys name contents the same way: nothing is copied again.
    expect(only.outputs).toMatchObject({ 'files-count': '6', 'files-new': '0', 'files-reused': '6' })
    ageIds.push(only.outputs['backup-id'])

    const verify = await runAction(ageInputs({ command: 'verify' }))
    expect(verify.failure).toBeUndefined()
    expect(verify.summary).toMatch(/files only.*passed/)
    const verifyDb = await runAction(ageInputs({ command: 'verify', backup: ageIds[0] }))
    expect(verifyDb.failure).toBeUndefined()
    expect(verifyDb.summary).toMatch(/\| files \| ✅ pass \| 6 file\(s\).*every content stored with its size/)

    const before = contentGets().length
    const none = await runAction(ageInputs({ command: 'drill' }))
    expect(none.failure).toBe(
      `Input "encryption-private-key": the files snapshot of backup ${ageIds[1]} is encrypted to the age public key(s) ${ops.recipient}, ${laptop.recipient}; set encryption-private-key to the private key of one of them`
    )
    const wrong = await runAction(ageInputs({ command: 'drill', 'encryption-private-key': stranger.file }))
    expect(wrong.failure).toMatch(new RegExp(`the private key\\(s\\) given are for ${stranger.recipient}$`))
    const folder = tempDir('age-refused')
    const restore = await runAction(ageInputs({ command: 'restore', 'buckets-restore-to': folder, confirm: folder }))
    expect(restore.failure).toMatch(/^Input "encryption-private-key": the files snapshot of backup \S+ is encrypted to the age public key/)
    expect(readdirSync(folder)).toHaveLength(0)
    expect(contentGets()).toHaveLength(before)
    expectNoSecrets([none.log, wrong.log, restore.log], identities())
  })

  test('drill and restore with a private key read every file back byte for byte', async () => {
    await pg.createDatabase('drill_age')
    const drill = await runAction(
      ageInputs({ command: 'drill', backup: ageIds[0], 'target-database-url': pg.url('drill_age'), 'encryption-private-key': laptop.file })
    )
    expect(drill.failure).toBeUndefined()
    expect(JSON.parse(drill.outputs.report).files).toMatchObject({ total: 6, checked: 6, failures: [], passed: true })

    const folder = tempDir('age-restore')
    const run = await runAction(ageInputs({ command: 'restore', 'buckets-restore-to': folder, confirm: folder, 'encryption-private-key': ops.identity }))
    expect(run.failure).toBeUndefined()
    expect(run.outputs['files-count']).toBe('6')
    expectFolderHolds(folder, current)
    expectNoSecrets([drill.log, drill.outputs.report, run.log], identities())

    // A modified content fails the drill, naming the file.
    const manifest = await ageManifest(ageIds[1])
    const photo = manifest.files.find((f: { key: string }) => f.key === 'user 1/ünïcødé photo.jpg')
    const path = join(ageLocal, 'shop', 'files', photo.hash.slice(0, 2), `${photo.hash}.age`)
    const good = readFileSync(path)
    const flipped = Buffer.from(good)
    flipped[flipped.length - 30] ^= 1
    writeFileSync(path, flipped)
    try {
      const tampered = await runAction(ageInputs({ command: 'drill', storage: 'local', 'encryption-private-key': ops.identity }))
      expect(tampered.failure).toMatch(/failed: 2 file\(s\) failed their check: avatars\/user 1\/ünïcødé photo.jpg: .*failed authentication/)
    } finally {
      writeFileSync(path, good)
    }
  })

  test('a backup to other public keys reuses nothing and stores every content again, for those keys', async () => {
    const before = await destKeys('age/shop/files/')
    const run = await runAction(ageInputs({ 'database-url': '', name: 'shop', 'buckets-only': 'true', 'encryption-public-keys': stranger.recipient }))
    expect(run.failure).toBeUndefined()
    expect(run.log).toMatch(/stored with another encryption setting; copying every file again/)
    expect(run.outputs).toMatchObject({ 'files-count': '6', 'files-new': '4' })
    const manifest = await ageManifest(run.outputs['backup-id'])
    const old = new Set(before.map(o => o.key))
    for (const f of manifest.files) {
      const key = `age/shop/files/${f.hash.slice(0, 2)}/${f.hash}.age`
      expect(old.has(key)).toBe(false)
      expect(sha256(ageDecrypt(await destGet(key), stranger))).toBe(sha256(current[f.bucket][f.key]))
    }
    expect(await destKeys('age/shop/files/')).toHaveLength(8)
  })
})
