import { describe, expect, test } from '@jest/globals'
import { retryDelayMs } from '../../src/supabase/api.js'
import { parseRestoreTime, platformChecks, projectRefFrom } from '../../src/supabase/platform.js'
import { expectNoSecrets, runAction } from '../helpers/action.js'

describe('project ref', () => {
  test.each([
    ['db.abcdefghijklmnopqrst.supabase.co', 'postgres', 'abcdefghijklmnopqrst'],
    ['aws-0-eu-west-1.pooler.supabase.com', 'postgres.abcdefghijklmnopqrst', 'abcdefghijklmnopqrst'],
    ['aws-0-eu-west-1.pooler.supabase.com', 'postgres', undefined],
    ['db.example.com', 'postgres.abcdefghijklmnopqrst', undefined],
    ['db.short.supabase.co', 'postgres', undefined]
  ])('%s as %s', (host, user, ref) => {
    expect(projectRefFrom(host, user)).toBe(ref)
  })
})

describe('restore-time', () => {
  test.each([
    ['2026-03-01T02:00:00Z', '2026-03-01T02:00:00.000Z'],
    ['2026-03-01T03:00:00+01:00', '2026-03-01T02:00:00.000Z'],
    ['1772330400', '2026-03-01T02:00:00.000Z'],
    ['2026-03-01 02:00', undefined],
    ['2026-03-01T02:00:00', undefined],
    ['tomorrow', undefined]
  ])('%s', (text, iso) => {
    expect(parseRestoreTime(text)?.toISOString()).toBe(iso)
  })
})

test('429 waits for X-RateLimit-Reset (seconds or a unix time), capped; other retries back off', () => {
  const response = (status: number, reset?: string) => ({ status, headers: { get: (name: string) => (name === 'x-ratelimit-reset' ? (reset ?? null) : null) } })
  expect(retryDelayMs(response(429, '7'), 1, 0)).toBe(7000)
  expect(retryDelayMs(response(429, '1772330410'), 1, 1772330400_000)).toBe(10_000)
  expect(retryDelayMs(response(429, '3600'), 1, 0)).toBe(65_000)
  expect(retryDelayMs(response(503), 2, 0)).toBe(4000)
})

test('no completed platform backup fails the freshness check', () => {
  const { checks } = platformChecks(
    { region: 'x', walg_enabled: true, pitr_enabled: false, backups: [{ is_physical_backup: true, status: 'PENDING', inserted_at: '2026-11-30T00:00:00Z' }] },
    { requirePitr: false, maxAgeMs: 36 * 3600_000, now: new Date('2026-12-01T00:00:00Z') }
  )
  expect(checks.find(c => c.name === 'platform backup')).toEqual({ name: 'platform backup', ok: false, detail: 'no completed platform backup' })
})

describe('pitr-restore inputs fail before any work', () => {
  const base = { command: 'pitr-restore', 'database-url': 'postgresql://u:pw-secret@127.0.0.1:1/db', storage: 'local', path: '/nonexistent' }
  test.each([
    [{}, /Input "supabase-access-token": is required by pitr-restore/],
    [{ 'supabase-access-token': 'sbp_x_token' }, /Input "restore-time": is required by pitr-restore/],
    [{ 'supabase-access-token': 'sbp_x_token', 'restore-time': '2026-03-01T02:00:00Z' }, /Input "supabase-project-ref": is required: it could not be derived/],
    [{ 'supabase-project-ref': 'Not-A-Ref' }, /Input "supabase-project-ref": "Not-A-Ref" is not a project ref/],
    [{ 'supabase-api-url': 'api.supabase.com' }, /Input "supabase-api-url": "api.supabase.com" is not a URL/]
  ])('%j', async (inputs, message) => {
    const run = await runAction({ ...base, ...inputs })
    expect(run.failure).toMatch(message)
    expectNoSecrets([run.log], ['pw-secret', 'sbp_x_token'])
  })
})
