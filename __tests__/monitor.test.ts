import type { DrillReport } from '../src/model/drill-report.js'
import { afterAll, beforeAll, expect, test } from '@jest/globals'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAction } from './helpers/action.js'
import type { TestCluster } from './helpers/postgres.js'
import { startShop } from './helpers/sample.js'

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
})

test('a fresh backup passes; one older than max-age fails', async () => {
  const fresh = await runAction(inputs())
  expect(fresh.failure).toBeUndefined()
  expect(fresh.outputs['backup-id']).toBe(id)
  const stale = await runAction(inputs(), {}, hoursLater(30))
  expect(stale.failure).toMatch(new RegExp(`Monitor of "shop": newest backup: ${id} is 30 h 0 min old \\(limit 26 h 0 min\\)`))
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
