/**
 * Drives the action with the exact `with:` inputs each reusable workflow passes, in the
 * order a team's plan runs them (scheduled backup → pre-deploy snapshot → drill → restore),
 * against a real Postgres and S3 server. Only the drill's service container is swapped for a
 * scratch database on the test cluster: its URL, and postgres-version (the container's major,
 * which the workflow also passes as the client's) for the cluster's 15.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals'
import { join } from 'node:path'
import { expectNoSecrets, runAction } from './helpers/action.js'
import type { TestCluster } from './helpers/postgres.js'
import type { TestS3 } from './helpers/s3.js'
import { databaseFingerprint, startShopAndS3 } from './helpers/sample.js'
import { startFakeGitHub, startReceiver } from './helpers/receivers.js'
import { actionInputEnv, actionStepsOf } from './helpers/workflow-steps.js'

const PASSPHRASE = 'workflow passphrase'
let pg: TestCluster
let s3: TestS3

beforeAll(async () => {
  ;({ pg, s3 } = await startShopAndS3())
})

afterAll(async () => {
  await Promise.all([pg?.stop(), s3?.stop()])
})

/** Runs every action step of a workflow in order, the inputs as the runner would set them. */
async function runWorkflow(
  file: string,
  inputs: Record<string, string>,
  secrets: Record<string, string>,
  override: Record<string, string> = {},
  run: { env?: NodeJS.ProcessEnv; now?: () => Date } = {}
) {
  const steps = actionStepsOf(join('.github/workflows', file), {
    inputs: { name: 'shop', 's3-bucket': s3.bucket, 's3-endpoint': s3.endpoint, 's3-prefix': 'plan', ...inputs },
    secrets: { 'encryption-passphrase': PASSPHRASE, ...secrets }
  })
  expect(steps.length).toBeGreaterThan(0)
  const runs = []
  for (const step of steps) {
    const env = actionInputEnv(step)
    const given = Object.fromEntries(Object.entries(env).map(([k, v]) => [k.slice('INPUT_'.length).toLowerCase(), v]))
    const result = await runAction({ ...given, ...override }, run.env, run.now, undefined, { timeoutMs: 2000, attempts: 2, backoffMs: 100 })
    expectNoSecrets([result.log, JSON.stringify(result.outputs)], [pg.password, encodeURIComponent(pg.password), PASSPHRASE, ...Object.values(secrets)])
    runs.push(result)
  }
  return runs
}

test("the reusable workflows, in a plan's order, on real servers", async () => {
  const [scheduled] = await runWorkflow('backup.yml', {}, { 'database-url': pg.url('shop') })
  expect(scheduled.failure).toBeUndefined()
  expect(scheduled.outputs['backup-id']).toMatch(/-scheduled-/)
  expect(scheduled.outputs.verified).toBe('true')
  expect(JSON.parse(scheduled.outputs.kept)).toEqual([scheduled.outputs['backup-id']])

  const [snapshot] = await runWorkflow('pre-deploy-snapshot.yml', {}, { 'database-url': pg.url('shop') })
  expect(snapshot.failure).toBeUndefined()
  expect(snapshot.outputs['backup-id']).toMatch(/-pre-deploy-/)
  // The pre-deploy prune kept its own kind and never touched the scheduled backup.
  expect(JSON.parse(snapshot.outputs.deleted)).toEqual([])
  const keys = await s3.listKeys('plan/shop/')
  expect(keys.filter(k => k.endsWith('.manifest.json'))).toHaveLength(2)

  await pg.createDatabase('drill_scratch')
  const [drill] = await runWorkflow('restore-drill.yml', {}, {}, { 'target-database-url': pg.url('drill_scratch'), 'postgres-version': String(pg.major) })
  expect(drill.failure).toBeUndefined()
  expect(JSON.parse(drill.outputs.report)).toMatchObject({ passed: true, backupId: snapshot.outputs['backup-id'] })

  await pg.createDatabase('restored')
  const [restored] = await runWorkflow(
    'restore.yml',
    { confirm: 'restored', backup: scheduled.outputs['backup-id'] },
    { 'target-database-url': pg.url('restored') }
  )
  expect(restored.failure).toBeUndefined()
  expect(restored.outputs['safety-backup-id']).toMatch(/-pre-restore-/)
  expect(await databaseFingerprint(pg, 'restored')).toEqual(await databaseFingerprint(pg, 'shop'))
})

test('monitor.yml after the plan: a stale set fails, posts to Slack and opens its issue; a fresh one closes it', async () => {
  const token = 'ghs_e2eToken0123456789abcdef'
  const [slack, github] = await Promise.all([startReceiver('ok'), startFakeGitHub(token)])
  try {
    const env = { GITHUB_REPOSITORY: 'owner/repo', GITHUB_RUN_ID: '7', GITHUB_API_URL: github.url }
    const watch = (now?: () => Date) =>
      runWorkflow('monitor.yml', { 'max-drill-age': '35d' }, { 'slack-webhook-url': slack.url }, { 'github-token': token }, { env, now })

    const [stale] = await watch(() => new Date(Date.now() + 30 * 3600_000))
    expect(stale.failure).toMatch(/^Monitor of "shop": newest backup: .* is 30 h 0 min old \(limit 26 h 0 min\)$/)
    expect(JSON.parse(stale.outputs.report)).toMatchObject({ ok: false, name: 'shop' })
    expect(slack.requests).toHaveLength(1)
    expect(JSON.parse(slack.requests[0].body).text).toMatch(/^❌ pg-backup: monitor of shop FAILED: Monitor of "shop": newest backup/)
    expect(github.issues.map(i => [i.title, i.state])).toEqual([['Backups of shop need attention', 'open']])

    const [fresh] = await watch()
    expect(fresh.failure).toBeUndefined()
    expect(JSON.parse(fresh.outputs.report).checks.map((c: { name: string; status: string }) => `${c.name}: ${c.status}`)).toEqual([
      'newest backup: pass',
      'stored objects: pass',
      'last drill: pass',
      'size: pass',
      'row counts: pass',
      'storage: pass'
    ])
    expect(slack.requests).toHaveLength(1) // notify-on: failure
    expect(github.issues[0].state).toBe('closed')
  } finally {
    await Promise.all([slack.stop(), github.stop()])
  }
})
