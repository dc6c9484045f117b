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
async function runWorkflow(file: string, inputs: Record<string, string>, secrets: Record<string, string>, override: Record<string, string> = {}) {
  const steps = actionStepsOf(join('.github/workflows', file), {
    inputs: { name: 'shop', 's3-bucket': s3.bucket, 's3-endpoint': s3.endpoint, 's3-prefix': 'plan', ...inputs },
    secrets: { 'encryption-passphrase': PASSPHRASE, ...secrets }
  })
  expect(steps.length).toBeGreaterThan(0)
  const runs = []
  for (const step of steps) {
    const env = actionInputEnv(step)
    const given = Object.fromEntries(Object.entries(env).map(([k, v]) => [k.slice('INPUT_'.length).toLowerCase(), v]))
    const run = await runAction({ ...given, ...override })
    expectNoSecrets([run.log, JSON.stringify(run.outputs)], [pg.password, encodeURIComponent(pg.password), PASSPHRASE])
    runs.push(run)
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
