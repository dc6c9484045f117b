import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expectNoSecrets, fastSleep, runAction, type ActionRun } from './helpers/action.js'
import type { TestCluster } from './helpers/postgres.js'
import { startShop } from './helpers/sample.js'
import { startFakeManagementApi, type FakeManagementApi } from './helpers/supabase-api.js'

const REF = 'abcdefghijklmnopqrst'
const HOUR = 3600_000
const unix = (ms: number) => Math.floor(ms / 1000)
let pg: TestCluster
let dir: string
let api: FakeManagementApi
let ownBackup: string
const target = new Date(Date.now() - HOUR)

const files = () => readdirSync(join(dir, 'shop'))
const preRestoreManifests = () => files().filter(f => /-pre-restore-.*\.manifest\.json$/.test(f))
const posts = () => api.requests.filter(r => r.method === 'POST')

/** The set and the Management API stand-in, as every command here reaches them. */
const setAndApi = () => ({
  storage: 'local',
  path: dir,
  name: 'shop',
  'supabase-access-token': api.token,
  'supabase-project-ref': REF,
  'supabase-api-url': api.url
})

function pitrInputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    command: 'pitr-restore',
    'database-url': pg.url('shop'),
    ...setAndApi(),
    'restore-time': target.toISOString(),
    confirm: REF,
    ...extra
  }
}

const run = (inputs: Record<string, string>, now?: () => Date): Promise<ActionRun> => runAction(inputs, {}, now, fastSleep)

beforeAll(async () => {
  pg = await startShop()
  dir = mkdtempSync(join(tmpdir(), 'pgb-pitr-'))
  api = await startFakeManagementApi({ ref: REF, pitrEnabled: true, backups: [], afterRestore: [] })
  // The team's own nightly backup, two hours before the target time's hour.
  const first = await runAction(
    { storage: 'local', path: dir, name: 'shop', 'database-url': pg.url('shop'), kind: 'scheduled' },
    {},
    () => new Date(Date.now() - 2 * HOUR)
  )
  expect(first.failure).toBeUndefined()
  ownBackup = first.outputs['backup-id']
})

// Each test starts from a healthy project with PITR and a week-long window.
const reset = () => {
  Object.assign(api.project, {
    pitrEnabled: true,
    earliest: unix(Date.now() - 7 * 24 * HOUR),
    latest: unix(Date.now() - 60_000),
    backups: [{ status: 'COMPLETED', inserted_at: new Date(Date.now() - 5 * HOUR).toISOString() }],
    afterRestore: ['RESTORING', 'RESTORING', 'ACTIVE_HEALTHY'],
    onRestore: undefined
  })
  api.requests.length = 0
}

beforeEach(reset)

afterAll(async () => {
  await api?.stop()
  await pg?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('pitr-restore refuses before anything changes', () => {
  test('without confirm equal to the project ref', async () => {
    const result = await run(pitrInputs({ confirm: 'shop' }))
    expect(result.failure).toMatch(`Input "confirm": must equal the project ref "${REF}" to restore it (got "shop"); nothing was changed`)
    expect(api.requests).toEqual([])
    expect(preRestoreManifests()).toEqual([])
  })

  test('a time outside the recovery window, naming the window', async () => {
    const early = new Date(Date.now() - 30 * 24 * HOUR)
    const result = await run(pitrInputs({ 'restore-time': String(unix(early.getTime())) }))
    expect(result.failure).toMatch(
      new RegExp(`Input "restore-time": ${early.toISOString().slice(0, 16)}.* is outside the recovery window of ${REF} \\(\\d{4}-.*Z to .*Z\\)`)
    )
    expect(posts()).toEqual([])
    expect(preRestoreManifests()).toEqual([])
  })

  test('a project without PITR', async () => {
    api.project.pitrEnabled = false
    const result = await run(pitrInputs())
    expect(result.failure).toBe(`Point-in-time recovery is not enabled for project ${REF}; nothing was changed`)
    expect(posts()).toEqual([])
  })

  test('a token the API refuses', async () => {
    const result = await run(pitrInputs({ 'supabase-access-token': 'sbp_wrong_token_value_000' }))
    expect(result.failure).toMatch(/Supabase Management API GET \/v1\/projects\/abcdefghijklmnopqrst\/database\/backups answered 401: Unauthorized/)
    expectNoSecrets([result.log], ['sbp_wrong_token_value_000'])
  })

  test('a time that is not one', async () => {
    const result = await run(pitrInputs({ 'restore-time': 'yesterday' }))
    expect(result.failure).toMatch(/Input "restore-time": "yesterday" is not a time; use ISO 8601 with a zone/)
    expect(api.requests).toEqual([])
  })
})

describe('pitr-restore', () => {
  test('takes a safety backup first, starts the restore, waits through RESTORING, reports rows against the own backup', async () => {
    await pg.query('shop', "INSERT INTO public.customers (email, name, created_at) VALUES ('late@example.com', 'Late', now())")
    let safetyAtRestore: string[] = []
    api.project.onRestore = () => (safetyAtRestore = preRestoreManifests())
    const result = await run(pitrInputs())
    expect(result.failure).toBeUndefined()

    const safety = result.outputs['safety-backup-id']
    expect(safetyAtRestore).toEqual([`${safety}.manifest.json`])
    const [post] = posts()
    expect(post.path).toBe(`/v1/projects/${REF}/database/backups/restore-pitr`)
    expect(JSON.parse(post.body)).toEqual({ recovery_time_target_unix: unix(target.getTime()) })
    const statusReads = api.requests.filter(r => r.method === 'GET' && r.path === `/v1/projects/${REF}`)
    expect(statusReads.length).toBeGreaterThanOrEqual(3)
    expect(api.requests.some(r => r.path === `/v1/projects/${REF}/health?services=db`)).toBe(true)
    expect(Number(result.outputs['restore-seconds'])).toBeGreaterThanOrEqual(0)
    expect(result.log).toMatch(`Project ${REF}: RESTORING`)
    expect(result.summary).toContain(`### Rows now against backup ${ownBackup} (before the target time)`)
    expect(result.summary).toMatch(/\| public\.customers \| (\d+) \| (\d+) \| \+1 \|/)
    expect(result.masked).toContain(api.token)
    expectNoSecrets([result.log, result.summary, JSON.stringify(result.outputs)], [api.token])
    for (const request of api.requests) expect(request.authorization).toBe(`Bearer ${api.token}`)
  })

  test('RESTORE_FAILED fails the run with what to do next', async () => {
    api.project.afterRestore = ['RESTORING', 'RESTORE_FAILED']
    const result = await run(pitrInputs({ 'safety-snapshot': 'false' }))
    expect(result.failure).toMatch(/The PITR restore of abcdefghijklmnopqrst failed \(RESTORE_FAILED\).*contact Supabase support/)
  })

  test('a restore that outlasts restore-timeout fails, saying it goes on', async () => {
    api.project.afterRestore = ['RESTORING']
    let clock = Date.now()
    const result = await run(pitrInputs({ 'safety-snapshot': 'false', 'restore-timeout': '1h' }), () => new Date((clock += 20 * 60_000)))
    expect(result.failure).toMatch(
      /Project abcdefghijklmnopqrst was still RESTORING after 1 h 0 min \(restore-timeout\)\. The restore goes on and cannot be cancelled/
    )
  })

  test('check-sql that finds rows fails the run after the restore', async () => {
    const result = await run(pitrInputs({ 'safety-snapshot': 'false', 'check-sql': 'SELECT 1' }))
    expect(result.failure).toBe(`PITR restore of ${REF} finished, but check-sql returned 1 row(s)`)
    expect(result.summary).toContain('check-sql: 1 row(s) ❌')
  })
})

describe('monitor watches the platform', () => {
  const monitor = (extra: Record<string, string> = {}) => run({ command: 'monitor', ...setAndApi(), ...extra })

  test('PITR on with a recent recovery point passes and shows the window', async () => {
    const result = await monitor({ 'require-pitr': 'true' })
    expect(result.failure).toBeUndefined()
    expect(result.summary).toMatch(/\| platform PITR \| ✅ pass \| on, recoverable from \d{4}-.*Z to .*Z \|/)
    expect(result.summary).toMatch(/\| platform recovery point \| ✅ pass \|/)
  })

  test('require-pitr fails when PITR is off; the newest platform backup is checked instead', async () => {
    api.project.pitrEnabled = false
    const result = await monitor({ 'require-pitr': 'true' })
    expect(result.failure).toMatch(/platform PITR: off \(require-pitr: true\)/)
    expect(result.summary).toMatch(/\| platform backup \| ✅ pass \| newest completed platform backup .* is 5 h 0 min old \(limit 36 h 0 min\) \|/)
  })

  test('a stale platform backup fails; failed and pending ones warn', async () => {
    api.project.pitrEnabled = false
    api.project.backups = [
      { status: 'COMPLETED', inserted_at: new Date(Date.now() - 50 * HOUR).toISOString() },
      { status: 'FAILED', inserted_at: '2026-11-30T02:00:00Z' }
    ]
    const result = await monitor()
    expect(result.failure).toMatch(/platform backup: newest completed platform backup .* is 50 h 0 min old \(limit 36 h 0 min\)/)
    expect(result.log).toContain('warning: platform backup of 2026-11-30T02:00:00Z is FAILED')
  })

  test('a PITR point that lags on an idle database warns without failing', async () => {
    api.project.latest = unix(Date.now() - 3 * HOUR)
    const result = await monitor()
    expect(result.failure).toBeUndefined()
    expect(result.log).toMatch(/warning: the latest PITR point lags by 3 h 0 min/)
  })

  test('a 429 is waited out and retried', async () => {
    api.rateLimitNext(2, 1)
    const result = await monitor()
    expect(result.failure).toBeUndefined()
    expect(api.requests.filter(r => r.path.endsWith('/database/backups'))).toHaveLength(3)
  })
})
