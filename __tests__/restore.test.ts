import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expectNoSecrets, runAction } from './helpers/action.js'
import type { TestCluster } from './helpers/postgres.js'
import { databaseFingerprint, startShop } from './helpers/sample.js'

let pg: TestCluster
let dir: string
let id: string
const common = () => ({ storage: 'local', path: dir, name: 'shop' })
const tableOf = async (db: string, table: string) => (await databaseFingerprint(pg, db)).tables.find(t => `${t.schema}.${t.table}` === table)

beforeAll(async () => {
  pg = await startShop()
  dir = mkdtempSync(join(tmpdir(), 'pgb-restore-'))
  const run = await runAction({ ...common(), 'database-url': pg.url('shop') })
  expect(run.failure).toBeUndefined()
  id = run.outputs['backup-id']
})

afterAll(async () => {
  await pg?.stop()
})

describe('restore', () => {
  test('without confirm, or with another name, it fails and touches nothing', async () => {
    await pg.createDatabase('guarded')
    await pg.query('guarded', 'CREATE TABLE precious (x int); INSERT INTO precious VALUES (1)')
    const before = await databaseFingerprint(pg, 'guarded')
    const missing = await runAction({ ...common(), command: 'restore', 'target-database-url': pg.url('guarded') })
    expect(missing.failure).toMatch(/Input "confirm": must equal the target database name "guarded" to restore into it \(got nothing\); nothing was changed/)
    const wrong = await runAction({ ...common(), command: 'restore', 'target-database-url': pg.url('guarded'), confirm: 'shop' })
    expect(wrong.failure).toMatch(/Input "confirm": must equal the target database name "guarded" .*got "shop"/)
    expect(await databaseFingerprint(pg, 'guarded')).toEqual(before)
    expectNoSecrets([missing.log, wrong.log], [pg.password])
  })

  test('a confirmed full restore equals the source, after a safety snapshot that itself restores', async () => {
    await pg.createDatabase('target')
    await pg.query('target', "CREATE TABLE old_state (note text); INSERT INTO old_state VALUES ('before the restore')")
    const oldState = await databaseFingerprint(pg, 'target')
    const run = await runAction({ ...common(), command: 'restore', backup: id, 'target-database-url': pg.url('target'), confirm: 'target', jobs: '2' })
    expect(run.failure).toBeUndefined()
    expect(run.outputs['backup-id']).toBe(id)
    const safety = run.outputs['safety-backup-id']
    expect(safety).toMatch(/^\d{8}T\d{6}Z-pre-restore-[0-9a-f]{4}$/)
    expect(run.summary).toMatch(/Restore of \S+ done/)
    expect(run.summary).toMatch(/\| Client \| pg_restore 15\.\d+, found on the runner \(`[^`]+`\) \|/)

    const restored = await databaseFingerprint(pg, 'target')
    const source = await databaseFingerprint(pg, 'shop')
    expect(restored.tables.filter(t => t.table !== 'old_state')).toEqual(source.tables)
    expect(restored.policies).toEqual(source.policies)
    expect(restored.indexes).toEqual(source.indexes)

    // "latest" still means the newest real backup, not the safety snapshot.
    const latest = await runAction({ ...common(), command: 'verify' })
    expect(latest.outputs['backup-id']).toBe(id)

    await pg.createDatabase('from_safety')
    const back = await runAction({
      ...common(),
      command: 'restore',
      backup: safety,
      'target-database-url': pg.url('from_safety'),
      confirm: 'from_safety',
      'safety-snapshot': 'false'
    })
    expect(back.failure).toBeUndefined()
    expect(back.outputs['safety-backup-id']).toBeUndefined()
    expect(await databaseFingerprint(pg, 'from_safety')).toEqual(oldState)
  })

  test('a table restore replaces that table and leaves the others', async () => {
    await pg.createDatabase('partial')
    const full = await runAction({
      ...common(),
      command: 'restore',
      backup: id,
      'target-database-url': pg.url('partial'),
      confirm: 'partial',
      'safety-snapshot': 'false'
    })
    expect(full.failure).toBeUndefined()
    await pg.query('partial', "DELETE FROM public.orders WHERE id % 3 = 0; UPDATE public.customers SET email = 'changed-' || email WHERE id = 1")
    const changedCustomers = await tableOf('partial', 'public.customers')

    const run = await runAction({
      ...common(),
      command: 'restore',
      backup: id,
      tables: 'public.orders',
      'target-database-url': pg.url('partial'),
      confirm: 'partial'
    })
    expect(run.failure).toBeUndefined()
    expect(await tableOf('partial', 'public.orders')).toEqual(await tableOf('shop', 'public.orders'))
    expect(await tableOf('partial', 'public.customers')).toEqual(changedCustomers)
    expect(run.outputs['safety-backup-id']).toMatch(/pre-restore/)
  })
})
