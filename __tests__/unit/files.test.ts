import { describe, expect, test } from '@jest/globals'
import { contentCipher, sameNaming } from '../../src/files/cipher.js'
import { limiter, planSnapshot } from '../../src/files/plan.js'
import { testContext } from '../helpers/action.js'
import { parseFilesManifest } from '../../src/model/files-manifest.js'
import type { SnapshotFile } from '../../src/model/files-manifest.js'

const entry = (key: string, extra: Partial<SnapshotFile> = {}): SnapshotFile => ({
  bucket: 'b',
  key,
  size: 10,
  etag: '"e"',
  lastModified: '2026-01-01T00:00:00.000Z',
  hash: 'a'.repeat(64),
  storedSize: 10,
  ...extra
})

describe('planning a snapshot', () => {
  test('an entry with the same size, ETag and last-modified is reused, anything else fetched', () => {
    const previous = [entry('same'), entry('etag'), entry('time'), entry('size'), entry('gone')]
    const listing = [
      { bucket: 'b', key: 'same', size: 10, etag: '"e"', lastModified: '2026-01-01T00:00:00.000Z' },
      { bucket: 'b', key: 'etag', size: 10, etag: '"f"', lastModified: '2026-01-01T00:00:00.000Z' },
      { bucket: 'b', key: 'time', size: 10, etag: '"e"', lastModified: '2026-01-02T00:00:00.000Z' },
      { bucket: 'b', key: 'size', size: 11, etag: '"e"', lastModified: '2026-01-01T00:00:00.000Z' },
      { bucket: 'c', key: 'same', size: 10, etag: '"e"', lastModified: '2026-01-01T00:00:00.000Z' },
      { bucket: 'b', key: 'new', size: 1, etag: '"n"', lastModified: '2026-01-01T00:00:00.000Z' }
    ]
    const plan = planSnapshot(listing, previous, () => true)
    expect(plan.reuse.map(f => f.key)).toEqual(['same'])
    expect(plan.fetch.map(f => `${f.bucket}/${f.key}`)).toEqual(['b/etag', 'b/time', 'b/size', 'c/same', 'b/new'])
    // A content missing from some storage is fetched again.
    expect(planSnapshot(listing.slice(0, 1), previous, () => false).fetch).toHaveLength(1)
  })
})

describe('content naming', () => {
  test('a keyed hash under a passphrase, the plain sha256 without; the key check tells passphrases apart', async () => {
    const plain = contentCipher(undefined)
    expect(plain.hasher().update('x').digest('hex')).toBe('2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881')
    const one = contentCipher('one')
    const again = contentCipher('one')
    const two = contentCipher('two')
    expect(one.hasher().update('x').digest('hex')).toBe(again.hasher().update('x').digest('hex'))
    expect(one.hasher().update('x').digest('hex')).not.toBe(two.hasher().update('x').digest('hex'))
    expect(sameNaming(one.encryption, again.encryption)).toBe(true)
    expect(sameNaming(one.encryption, two.encryption)).toBe(false)
    expect(sameNaming(one.encryption, null)).toBe(false)
    expect(sameNaming(null, null)).toBe(true)
  })
})

describe('files manifest', () => {
  const manifest = {
    filesManifestVersion: 1,
    id: 'x',
    name: 'shop',
    startedAt: '',
    finishedAt: '',
    source: { buckets: ['b'] },
    encryption: null,
    buckets: [],
    files: [entry('k')]
  }
  test('is validated when read', () => {
    expect(parseFilesManifest(JSON.stringify(manifest), 'm').files).toHaveLength(1)
    expect(() => parseFilesManifest(JSON.stringify({ ...manifest, files: [{ ...entry('k'), size: '10' }] }), 'm')).toThrow(
      /m: files\[0\]\.size should be a number/
    )
    expect(() => parseFilesManifest(JSON.stringify({ ...manifest, files: [entry('../k', { hash: '../../x' })] }), 'm')).toThrow(/malformed hash/)
    expect(() => parseFilesManifest(JSON.stringify({ ...manifest, filesManifestVersion: 2 }), 'm')).toThrow(/upgrade the action/)
  })
})

describe('bucket inputs', () => {
  const fails = (inputs: Record<string, string>) => () => testContext({ 'database-url': 'postgres://u@h/db', ...inputs })
  test('fail naming the input', () => {
    expect(fails({ buckets: 'a/b' })).toThrow(/Input "buckets": "a\/b" is not a bucket name/)
    expect(fails({ buckets: '*, a' })).toThrow(/Input "buckets": "\*" is not a bucket name/)
    expect(fails({ buckets: 'a', 'buckets-access-key-id': 'k' })).toThrow(/Input "buckets-secret-access-key": is required with buckets-access-key-id/)
    expect(fails({ buckets: 'a', 'buckets-s3-endpoint': 'supabase.co' })).toThrow(/Input "buckets-s3-endpoint": "supabase.co" is not a URL/)
    expect(fails({ 'buckets-only': 'true' })).toThrow(/Input "buckets-only": needs buckets/)
    expect(fails({ buckets: 'a', 'buckets-only': 'true' })).toThrow(/Input "name": is required with buckets-only/)
    expect(fails({ buckets: 'a', storage: 'artifact' })).toThrow(/Input "buckets": needs s3 or local storage/)
    expect(fails({ 'buckets-restore-to': 's3:/x' })).toThrow(/Input "buckets-restore-to"/)
    expect(fails({ 'buckets-jobs': '0' })).toThrow(/Input "buckets-jobs"/)
  })
  test('defaults: path-style with an endpoint, 8 jobs, both keys or the AWS chain', () => {
    const { ctx } = testContext({
      buckets: 'a,b',
      'buckets-s3-endpoint': 'https://x.supabase.co/storage/v1/s3',
      'buckets-access-key-id': 'k',
      'buckets-secret-access-key': 's'
    })
    expect(ctx.settings.files).toMatchObject({
      buckets: ['a', 'b'],
      only: false,
      jobs: 8,
      source: { forcePathStyle: true, credentials: { accessKeyId: 'k', secretAccessKey: 's' } }
    })
  })
})

describe('limiter', () => {
  test('runs at most n at once, and every call', async () => {
    const limit = limiter(2)
    let active = 0
    let peak = 0
    const done: number[] = []
    await Promise.all(
      Array.from({ length: 7 }, (_, i) =>
        limit(async () => {
          active++
          peak = Math.max(peak, active)
          await new Promise(resolve => setTimeout(resolve, 5 + (i % 3)))
          active--
          done.push(i)
        })
      )
    )
    expect(peak).toBe(2)
    expect(done.sort()).toEqual([0, 1, 2, 3, 4, 5, 6])
  })
})
