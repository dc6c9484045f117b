import type { DrillReport } from '../src/model/drill-report.js'
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAction } from './helpers/action.js'
import type { TestCluster } from './helpers/postgres.js'
import { SAMPLE_SQL, startShop } from './helpers/sample.js'

let pg: TestCluster
let dir: string
let id: string
const inputs = () => ({ command: 'monitor', storage: 'local', path: dir, name: 'shop', 'max-age': '26h' })
const hoursLater = (h: number) => () => new Date(Date.now() + h * 3600_000)

beforeAll(async () => {
  pg = await startShop()
  dir = mkdtempSync(join(tmpdir(), 'pgb-monitor-'))
  const run = await runAction({ storage: 'local', path: dir, 'database-url': pg.url('shop') })
  expect(run.failure).toBeUndefined()
  id = run.outputs['backup-id']
})

afterAll(async () => {
  await pg?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const reportOf = (outputs: Record<string, string>) =>
  JSON.parse(outputs.report) as { ok: boolean; backupId: string; checks: Array<{ name: string; status: string; detail: string }> }

test('a fresh backup passes; one older than max-age fails', async () => {
  const fresh = await runAction(inputs())
  expect(fresh.failure).toBeUndefined()
  expect(fresh.outputs['backup-id']).toBe(id)
  const stale = await runAction(inputs(), {}, hoursLater(30))
  expect(stale.failure).toMatch(new RegExp(`Monitor of "shop": newest backup: ${id} is 30 h 0 min old \\(limit 26 h 0 min\\)`))
})

test('every check is a row of the report output: freshness, objects, size, row counts, storage', async () => {
  const run = await runAction(inputs())
  const report = reportOf(run.outputs)
  expect(report).toMatchObject({ ok: true, backupId: id })
  expect(report.checks.map(c => [c.name, c.status])).toEqual([
    ['newest backup', 'pass'],
    ['stored objects', 'pass'],
    ['size', 'pass'],
    ['row counts', 'pass'],
    ['storage', 'pass']
  ])
  expect(report.checks[3].detail).toBe('no earlier backup to compare with')
  expect(run.summary).toMatch(/\| storage \| ✅ pass \| [\d.]+ MiB in 1 backup\(s\) \(no storage-quota set\) \|/)
})

test('storage-quota: passes below 80%, warns from 80%, fails above the quota', async () => {
  const used = readdirSync(join(dir, 'shop')).reduce((sum, f) => sum + statSync(join(dir, 'shop', f)).size, 0)
  const under = await runAction({ ...inputs(), 'storage-quota': String(used * 2) })
  expect(reportOf(under.outputs).checks.at(-1)).toMatchObject({ name: 'storage', status: 'pass', detail: expect.stringMatching(/\(50\.0%; warning at 80%\)/) })

  const near = await runAction({ ...inputs(), 'storage-quota': `${Math.ceil(used / 0.9)}B` })
  expect(near.failure).toBeUndefined()
  expect(reportOf(near.outputs).checks.at(-1)).toMatchObject({ name: 'storage', status: 'warn' })
  expect(near.log).toMatch(/warning: Monitor of "shop": storage: .* \(90\.0%; warning at 80%\)/)
  expect(near.summary).toContain('| storage | ⚠️ warn |')

  const over = await runAction({ ...inputs(), 'storage-quota': String(used - 1) })
  expect(over.failure).toMatch(/Monitor of "shop": storage: .* \(100\.0%; warning at 80%\)/)
  expect(reportOf(over.outputs)).toMatchObject({ ok: false, backupId: id })

  const bad = await runAction({ ...inputs(), 'storage-quota': '50 gigs' })
  expect(bad.failure).toBe('Input "storage-quota": "50 gigs" is not a size; use a number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB, e.g. 50GiB')
})

test('max-drill-age: no drill report at all fails', async () => {
  const run = await runAction({ ...inputs(), 'max-drill-age': '35d' })
  expect(run.failure).toMatch(/last drill: no drill report in the set \(limit 840 h 0 min\)/)
})

test('a failed last drill fails the monitor', async () => {
  const report: DrillReport = {
    backupId: id,
    name: 'shop',
    drilledAt: '2026-11-20T04:00:00Z',
    restoreSeconds: 1,
    target: 'scratch',
    tables: 1,
    rows: 1,
    mismatches: [{ table: 'public.orders', expected: 1, actual: 0 }],
    expectedErrors: [],
    unexpectedErrors: [],
    passed: false
  }
  writeFileSync(join(dir, 'shop', `${id}.drill.json`), JSON.stringify(report))
  const run = await runAction(inputs())
  expect(run.failure).toMatch(/last drill: FAILED on 2026-11-20T04:00:00Z/)
})

test('a drill report that is not one fails the monitor naming the file and the field', async () => {
  writeFileSync(join(dir, 'shop', `${id}.drill.json`), JSON.stringify({ passed: false, drilledAt: '2026-11-20T04:00:00Z' }))
  const run = await runAction(inputs())
  expect(run.failure).toMatch(/\.drill\.json: backupId should be a string, not undefined/)
})

test('an empty set fails', async () => {
  const run = await runAction({ ...inputs(), name: 'nothing-here' })
  expect(run.failure).toMatch(/newest backup: no complete backup of "nothing-here"/)
})

test('max-drill-age: a passing drill older than the limit fails; a recent one passes', async () => {
  const report = { backupId: id, name: 'shop', drilledAt: new Date().toISOString(), restoreSeconds: 1, target: 'scratch', tables: 1, rows: 1 }
  writeFileSync(join(dir, 'shop', `${id}.drill.json`), JSON.stringify({ ...report, mismatches: [], expectedErrors: [], unexpectedErrors: [], passed: true }))
  const recent = await runAction({ ...inputs(), 'max-drill-age': '35d' })
  expect(recent.failure).toBeUndefined()
  expect(reportOf(recent.outputs).checks).toContainEqual({
    name: 'last drill',
    status: 'pass',
    detail: expect.stringMatching(/^passed on .* ago \(limit 840 h 0 min\)$/)
  })
  const stale = await runAction({ ...inputs(), 'max-drill-age': '35d', 'max-age': '2000h' }, {}, hoursLater(36 * 24))
  expect(stale.failure).toMatch(/last drill: passed on .*, 864 h 0 min ago \(limit 840 h 0 min\)/)
})

describe('drift guard: the newest backup lost 60% of one table', () => {
  let driftDir: string
  const set = () => ({ storage: 'local', path: driftDir, name: 'drift' })
  // A minute apart: backups of one second are ordered by write time, and "the newest" must be the one just made.
  let clock = Date.now() - 3600_000
  const backup = (extra: Record<string, string> = {}) => {
    const at = new Date((clock += 60_000))
    return runAction({ ...set(), 'database-url': pg.url('drift'), ...extra }, {}, () => at)
  }
  const manifests = () =>
    readdirSync(join(driftDir, 'drift'))
      .filter(f => f.endsWith('.manifest.json'))
      .sort()

  beforeAll(async () => {
    driftDir = mkdtempSync(join(tmpdir(), 'pgb-drift-'))
    await pg.createDatabase('drift')
    await pg.query('drift', SAMPLE_SQL)
  })
  afterAll(() => rmSync(driftDir, { recursive: true, force: true }))

  test('monitor fails naming the table; prune after it deletes nothing and says why; a good backup lifts the hold', async () => {
    for (let i = 0; i < 2; i++) expect((await backup()).failure).toBeUndefined()
    await pg.query('drift', 'DELETE FROM app.audit_log WHERE id % 5 IN (1, 2, 3)')
    expect(await pg.query('drift', 'SELECT count(*)::int AS n FROM app.audit_log')).toEqual([{ n: 200 }])

    // The backup itself is fine as a copy of what the database now holds; its prune is held.
    const broken = await backup({ prune: 'true', 'keep-last': '1' })
    expect(broken.failure).toBeUndefined()
    expect(JSON.parse(broken.outputs.deleted)).toEqual([])
    expect(broken.log).toMatch(
      /warning: Prune of "drift" deleted nothing: the newest backup .* looks wrong \(row counts: since \S+: app\.audit_log lost 60\.0% of its rows \(500 → 200\) \(limit 50%\)\)/
    )
    expect(manifests()).toHaveLength(3)

    const watched = await runAction({ ...set(), command: 'monitor' })
    expect(watched.failure).toMatch(/^Monitor of "drift": row counts: since \S+: app\.audit_log lost 60\.0% of its rows \(500 → 200\) \(limit 50%\)$/)
    expect(reportOf(watched.outputs).checks).toContainEqual(expect.objectContaining({ name: 'row counts', status: 'fail' }))

    const pruned = await runAction({ ...set(), command: 'prune', kind: 'manual', 'keep-last': '1' })
    expect(pruned.failure).toBeUndefined()
    expect(JSON.parse(pruned.outputs.deleted)).toEqual([])
    expect(pruned.summary).toMatch(/## Prune drift \(manual\): held/)
    expect(manifests()).toHaveLength(3)

    // A vanished table is flagged too, whatever max-row-drop says.
    await pg.query('drift', 'ALTER TABLE public.empty_things RENAME TO renamed_things')
    const vanished = await backup({ 'max-row-drop': '100' })
    expect(vanished.failure).toBeUndefined()
    const monitorVanished = await runAction({ ...set(), command: 'monitor', 'max-row-drop': '100' })
    expect(monitorVanished.failure).toMatch(/public\.empty_things disappeared \(had 0 rows\)/)

    // The next backup that matches its predecessor lets prune rotate again.
    const good = await backup({ prune: 'true', 'keep-last': '1' })
    expect(good.failure).toBeUndefined()
    expect(JSON.parse(good.outputs.deleted)).toHaveLength(4)
    expect(manifests()).toEqual([`${good.outputs['backup-id']}.manifest.json`])
  })
})
