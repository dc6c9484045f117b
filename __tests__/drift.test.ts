import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAction } from './helpers/action.js'
import { PG15_BIN_DIR, type TestCluster } from './helpers/postgres.js'
import { SAMPLE_MIGRATION, startShop } from './helpers/sample.js'

describe('drift report in every backup', () => {
  let pg: TestCluster
  let path: string
  let clock = Date.parse('2026-03-01T02:00:00Z')
  beforeAll(async () => {
    pg = await startShop()
    path = mkdtempSync(join(tmpdir(), 'pgb-drift-'))
    await pg.query(
      'shop',
      `CREATE ROLE anon NOLOGIN; CREATE ROLE authenticated NOLOGIN;
       GRANT SELECT, INSERT ON public.orders TO anon; GRANT SELECT ON public.customers TO authenticated`
    )
  })
  afterAll(async () => {
    await pg?.stop()
    if (path) rmSync(path, { recursive: true, force: true })
  })

  const backup = (kind: string) => {
    clock += 3600_000
    const at = new Date(clock)
    return runAction({ 'database-url': pg.url('shop'), storage: 'local', path, kind, 'pg-bin-dir': PG15_BIN_DIR }, {}, () => at)
  }

  test('nothing for the first backup; "no changes" when nothing changed; a migration exactly, with warnings for a dropped policy and a revoked API grant', async () => {
    const first = await backup('scheduled')
    expect(first.failure).toBeUndefined()
    expect(first.outputs.drift).toBeUndefined()

    const second = await backup('scheduled')
    expect(second.failure).toBeUndefined()
    expect(JSON.parse(second.outputs.drift)).toEqual({
      since: { id: first.outputs['backup-id'], kind: 'scheduled', startedAt: expect.any(String) },
      changes: [],
      alerts: []
    })
    expect(second.summary).toContain(`### Schema: no changes since ${first.outputs['backup-id']}`)
    expect(second.log).not.toContain('warning:')

    await pg.query('shop', SAMPLE_MIGRATION)
    const snapshot = await backup('pre-deploy')
    expect(snapshot.failure).toBeUndefined()
    const drift = JSON.parse(snapshot.outputs.drift)
    expect(drift.since.id).toBe(second.outputs['backup-id'])
    expect(drift.changes).toEqual([
      { category: 'columns', change: 'added', name: 'public.customers.phone' },
      { category: 'indexes', change: 'added', name: 'public.orders_amount_idx' },
      { category: 'policies', change: 'removed', name: 'public.orders.orders_insert_positive' },
      { category: 'grants', change: 'changed', name: 'table public.orders to anon', detail: 'privileges: ["INSERT","SELECT"] → ["INSERT"]' }
    ])
    expect(drift.alerts).toEqual(['RLS policy public.orders.orders_insert_positive was dropped', 'SELECT on table public.orders was revoked from anon'])
    expect(snapshot.log).toContain(
      `warning: Backup ${snapshot.outputs['backup-id']}, compared with ${second.outputs['backup-id']}: RLS policy public.orders.orders_insert_positive was dropped; SELECT on table public.orders was revoked from anon`
    )
    expect(snapshot.summary).toContain(`### Schema changed since ${second.outputs['backup-id']} (scheduled,`)
    expect(snapshot.summary).toContain('| ➖ removed | policy | `public.orders.orders_insert_positive` |  |')

    // The next scheduled backup compares with the last scheduled one, not with the pre-deploy snapshot.
    const next = await backup('scheduled')
    expect(JSON.parse(next.outputs.drift).since.id).toBe(second.outputs['backup-id'])
    expect(JSON.parse(next.outputs.drift).changes).toHaveLength(4)
    const after = await backup('scheduled')
    expect(JSON.parse(after.outputs.drift)).toMatchObject({ since: { id: next.outputs['backup-id'] }, changes: [], alerts: [] })
  })
})
