import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '../src/pipeline/age.js'
import { expectNoSecrets, runAction } from './helpers/action.js'
import { restoreInto } from './helpers/restore-by-hand.js'
import type { TestCluster } from './helpers/postgres.js'
import { databaseFingerprint, startShop } from './helpers/sample.js'

/** Backups encrypted to age public keys: made without any secret key, read only with the private key. */
let pg: TestCluster
let dir: string
let id: string
let ops: Awaited<ReturnType<typeof generateKeyPair>>
let laptop: Awaited<ReturnType<typeof generateKeyPair>>
let stranger: Awaited<ReturnType<typeof generateKeyPair>>

const common = () => ({ storage: 'local', path: dir, name: 'shop' })
const dataPath = () => join(dir, 'shop', `${id}.dump.zst.age`)
const manifestPath = () => join(dir, 'shop', `${id}.manifest.json`)
const secretsOf = () => [ops.identity, laptop.identity, stranger.identity, pg.password]

/** Replaces the stored data file for `work`, fixing the manifest's checksum so that only decryption can notice. */
async function withData<T>(bytes: Buffer, work: () => Promise<T>): Promise<T> {
  const [data, manifest] = [readFileSync(dataPath()), readFileSync(manifestPath(), 'utf8')]
  const m = JSON.parse(manifest)
  Object.assign(m.objects[0], { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') })
  writeFileSync(dataPath(), bytes)
  writeFileSync(manifestPath(), JSON.stringify(m))
  try {
    return await work()
  } finally {
    writeFileSync(dataPath(), data)
    writeFileSync(manifestPath(), manifest)
  }
}

/** Where the payload starts: after the header's MAC line and the 16-byte nonce. */
function payloadStart(data: Buffer): number {
  const mac = data.indexOf('\n--- ')
  return data.indexOf('\n', mac + 1) + 1 + 16
}

beforeAll(async () => {
  pg = await startShop()
  dir = mkdtempSync(join(tmpdir(), 'pgb-age-'))
  ;[ops, laptop, stranger] = await Promise.all([generateKeyPair(new Date()), generateKeyPair(new Date()), generateKeyPair(new Date())])
  // No private key anywhere in the backup's inputs or environment.
  const run = await runAction({
    ...common(),
    'database-url': pg.url('shop'),
    roles: 'true',
    'encryption-public-keys': `# ops\n${ops.recipient}\n${laptop.recipient} # laptop`
  })
  expect(run.failure).toBeUndefined()
  expect(JSON.stringify(process.env)).not.toMatch(/AGE-SECRET-KEY-1/)
  id = run.outputs['backup-id']
  expect(run.outputs.verified).toBe('true')
  // Its own verify read the archive on its way in: contents were checked, not skipped.
  expect(run.summary).toMatch(/\| tables \| ✅ pass/)
  expect(run.summary).toMatch(/\| checksum \| ✅ pass \| .*age header for 2 public key/)
  expect(run.summary).not.toMatch(/SKIPPED/)
})

afterAll(async () => {
  await pg?.stop()
  rmSync(dir, { recursive: true, force: true })
})

test('the manifest records the public keys, and `age -d` with either private key opens the dump and the roles', async () => {
  const manifest = JSON.parse(readFileSync(manifestPath(), 'utf8'))
  expect(manifest.encryption).toEqual({ algorithm: 'age-x25519', recipients: [ops.recipient, laptop.recipient] })
  expect(manifest.objects.map((o: { file: string }) => o.file)).toEqual([`${id}.dump.zst.age`, `${id}.roles.sql.zst.age`])
  const key = join(dir, 'laptop.txt')
  writeFileSync(key, laptop.file, { mode: 0o600 })
  const dump = execFileSync('sh', ['-c', `age -d -i "${key}" "${dataPath()}" | zstd -d -c`], { maxBuffer: 1 << 30 })
  await restoreInto(pg, 'by_hand', dump, 'custom')
  expect(await databaseFingerprint(pg, 'by_hand')).toEqual(await databaseFingerprint(pg, 'shop'))
  const roles = execFileSync('sh', ['-c', `age -d -i "${key}" "${join(dir, 'shop', `${id}.roles.sql.zst.age`)}" | zstd -d -c`]).toString()
  expect(roles).toMatch(/CREATE ROLE/)
})

describe('verify', () => {
  test('without the private key checks what it can and says plainly that contents were skipped', async () => {
    const run = await runAction({ ...common(), command: 'verify' })
    expect(run.failure).toBeUndefined()
    expect(run.summary).toMatch(/\| checksum \| ✅ pass \| .*age header for 2 public key\(s\), payload length consistent/)
    expect(run.summary).toMatch(/\| contents \| ✅ pass \| SKIPPED: no encryption-private-key/)
    expect(run.summary).not.toMatch(/\| tables \|/)
    expect(run.log).toMatch(/warning: verify of \S+: content checks .* were skipped/)
  })

  test('without the key still catches a cut file and a wrong header', async () => {
    const data = readFileSync(dataPath())
    const cut = await withData(data.subarray(0, payloadStart(data) + 10), () => runAction({ ...common(), command: 'verify' }))
    expect(cut.failure).toMatch(/Verify failed for backup \S+: checksum: .*its payload is 10 bytes, shorter than one sealed chunk/)
    const fewer = await withData(Buffer.from(data.toString('latin1').replace(/-> X25519 [^\n]*\n[^\n]*\n/, ''), 'latin1'), () =>
      runAction({ ...common(), command: 'verify' })
    )
    expect(fewer.failure).toMatch(/its age header has 1 recipient stanza\(s\), the manifest lists 2 public key\(s\)/)
  })

  test('with the private key checks the contents in full', async () => {
    const run = await runAction({ ...common(), command: 'verify', 'encryption-private-key': ops.file })
    expect(run.failure).toBeUndefined()
    for (const check of ['checksum', 'archive readable', 'tables', 'roles object']) expect(run.summary).toMatch(new RegExp(`\\| ${check} \\| ✅ pass`))
    expectNoSecrets([run.log, ...run.masked.filter(m => !m.includes('AGE-SECRET-KEY'))], secretsOf())
    expect(run.masked).toContain(ops.identity)
  })

  test('a tampered or truncated file fails, even with a matching checksum', async () => {
    const data = readFileSync(dataPath())
    const flipped = Buffer.from(data)
    flipped[data.length - 300] ^= 1
    const tampered = await withData(flipped, () => runAction({ ...common(), command: 'verify', 'encryption-private-key': ops.identity }))
    expect(tampered.failure).toMatch(/archive readable: Could not decrypt .*failed authentication: the file is truncated or was modified/)
    // Cut at a chunk boundary: every chunk left authenticates, but the last one is missing.
    const cut = await withData(data.subarray(0, payloadStart(data) + 65536 + 16), () =>
      runAction({ ...common(), command: 'verify', 'encryption-private-key': ops.identity })
    )
    expect(cut.failure).toMatch(/archive readable: Could not decrypt/)
  })
})

describe('drill and restore', () => {
  test('without the right key fail before downloading, naming the keys needed', async () => {
    await pg.createDatabase('age_none')
    const none = await runAction({ ...common(), command: 'drill', 'target-database-url': pg.url('age_none') })
    expect(none.failure).toBe(
      `Input "encryption-private-key": backup ${id} is encrypted to the age public key(s) ${ops.recipient}, ${laptop.recipient}; set encryption-private-key to the private key of one of them`
    )
    const wrong = await runAction({
      ...common(),
      command: 'restore',
      'target-database-url': pg.url('age_none'),
      confirm: 'age_none',
      'encryption-private-key': stranger.identity
    })
    expect(wrong.failure).toMatch(new RegExp(`the private key\\(s\\) given are for ${stranger.recipient}$`))
    // Nothing was restored, and no safety snapshot was taken.
    expect(await pg.query('age_none', "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'")).toEqual([{ n: 0 }])
    expect(readFileSync(manifestPath(), 'utf8')).toMatch(/age-x25519/)
    expectNoSecrets([none.log, wrong.log], secretsOf())
  })

  test('with one of the private keys (a whole identity file) the drill proves every row', async () => {
    await pg.createDatabase('age_drill')
    const run = await runAction({
      ...common(),
      command: 'drill',
      'target-database-url': pg.url('age_drill'),
      'encryption-private-key': `${stranger.file}${laptop.file}`
    })
    expect(run.failure).toBeUndefined()
    expect(JSON.parse(run.outputs.report)).toMatchObject({ backupId: id, passed: true, mismatches: [] })
    expect(await databaseFingerprint(pg, 'age_drill')).toEqual(await databaseFingerprint(pg, 'shop'))
    expectNoSecrets([run.log, run.outputs.report], secretsOf())
  })

  test('a drill of a tampered file fails and says so', async () => {
    await pg.createDatabase('age_tampered')
    const data = readFileSync(dataPath())
    const flipped = Buffer.from(data)
    flipped[Math.floor(data.length / 2)] ^= 1
    const run = await withData(flipped, () =>
      runAction({ ...common(), command: 'drill', 'target-database-url': pg.url('age_tampered'), 'encryption-private-key': ops.identity })
    )
    expect(run.failure).toMatch(/Could not decrypt .*failed authentication/)
  })
})

test('a passphrase and public keys together are refused before any work', async () => {
  const run = await runAction({ ...common(), 'database-url': pg.url('shop'), 'encryption-passphrase': 'pw for both', 'encryption-public-keys': ops.recipient })
  expect(run.failure).toMatch(/^Input "encryption-public-keys": cannot be combined with encryption-passphrase/)
  const bad = await runAction({ ...common(), command: 'verify', 'encryption-private-key': `${ops.identity.slice(0, 30)}` })
  expect(bad.failure).toMatch(/^Input "encryption-private-key": entry 1 is not an age X25519 private key/)
  expectNoSecrets([bad.log], [ops.identity.slice(16, 30)])
})
