/**
 * The reusable workflows, the CI workflows and the example callers: they parse, pass only
 * declared inputs to the action, keep secrets out of run: scripts, never cancel a running
 * backup, ask for no more permissions than they need, and pass actionlint. Also proves
 * actionStepsOf, which integration tests use to run the action with a workflow's inputs.
 */
import { describe, expect, test } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { actionInputEnv, actionStepsOf, evaluateExpression, isActionRef, loadWorkflow, reusableWorkflowPath } from './helpers/workflow-steps.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const yamlIn = (dir: string): string[] =>
  readdirSync(join(root, dir))
    .filter(f => /\.ya?ml$/.test(f))
    .sort()
    .map(f => join(root, dir, f))

const workflowFiles = yamlIn('.github/workflows')
const exampleFiles = yamlIn('examples')
const allFiles = [...workflowFiles, ...exampleFiles]
const rel = (f: string): string => relative(root, f)

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {})
const jobsOf = (wf: Obj): Array<[string, Obj]> => Object.entries(obj(wf.jobs)).map(([id, job]) => [id, obj(job)])
const stepsOf = (job: Obj): Obj[] => (Array.isArray(job.steps) ? job.steps.map(obj) : [])
const isReusable = (wf: Obj): boolean => obj(wf.on).workflow_call !== undefined
const reusableFiles = workflowFiles.filter(f => isReusable(loadWorkflow(f)))

const actionInputs = Object.keys(obj(obj(parse(readFileSync(join(root, 'action.yml'), 'utf8'))).inputs))

test('there are reusable workflows and examples to check', () => {
  expect(reusableFiles.map(rel).sort()).toEqual(
    ['backup.yml', 'monitor.yml', 'pitr-restore.yml', 'pre-deploy-snapshot.yml', 'restore-drill.yml', 'restore.yml', 'schema-snapshot.yml'].map(
      f => `.github/workflows/${f}`
    )
  )
  expect(exampleFiles.length).toBeGreaterThanOrEqual(7)
})

describe.each(allFiles.map(f => [rel(f), f]))('%s', (_name, file) => {
  const wf = loadWorkflow(file)

  test('is a workflow with triggers and jobs', () => {
    expect(wf.on).toBeDefined()
    expect(jobsOf(wf).length).toBeGreaterThan(0)
  })

  test('passes the action only inputs that action.yml declares', () => {
    for (const [jobId, job] of jobsOf(wf)) {
      for (const step of stepsOf(job).filter(s => isActionRef(s.uses))) {
        const unknown = Object.keys(obj(step.with)).filter(k => !actionInputs.includes(k))
        expect({ job: jobId, step: step.id ?? step.name, unknown }).toEqual({ job: jobId, step: step.id ?? step.name, unknown: [] })
      }
    }
  })

  test('run: scripts take no ${{ }} expressions (values come in through env:)', () => {
    for (const [jobId, job] of jobsOf(wf)) {
      for (const step of stepsOf(job).filter(s => typeof s.run === 'string')) {
        const where = `${jobId} / ${String(step.name ?? step.id ?? 'run')}`
        const run = step.run as string
        expect({ where, secrets: /\$\{\{\s*secrets\./.test(run) }).toEqual({ where, secrets: false })
        expect({ where, inputs: /\$\{\{\s*inputs\./.test(run) }).toEqual({ where, inputs: false })
        expect({ where, event: /\$\{\{\s*github\.event\./.test(run) }).toEqual({ where, event: false })
        expect({ where, anyExpression: run.includes('${{') }).toEqual({ where, anyExpression: false })
      }
    }
  })

  test('every job has a timeout', () => {
    for (const [jobId, job] of jobsOf(wf)) {
      if (job.uses !== undefined) continue // a call: the called workflow's jobs have theirs
      expect({ jobId, timeout: job['timeout-minutes'] !== undefined }).toEqual({ jobId, timeout: true })
    }
  })

  test('sets permissions (workflow-level), so jobs get nothing they do not ask for', () => {
    expect(wf.permissions).toBeDefined()
  })
})

describe.each(reusableFiles.map(f => [rel(f), f]))('reusable %s', (_name, file) => {
  const wf = loadWorkflow(file)
  const call = obj(obj(wf.on).workflow_call)

  test('is called with workflow_call only, with typed and described inputs and secrets', () => {
    expect(Object.keys(obj(wf.on))).toEqual(['workflow_call'])
    for (const [name, spec] of Object.entries(obj(call.inputs))) {
      expect({ name, type: ['string', 'number', 'boolean'].includes(String(obj(spec).type)), described: Boolean(obj(spec).description) }).toEqual({
        name,
        type: true,
        described: true
      })
    }
    for (const [name, spec] of Object.entries(obj(call.secrets))) {
      expect({ name, described: Boolean(obj(spec).description) }).toEqual({ name, described: true })
    }
    for (const [name, spec] of Object.entries(obj(call.outputs))) {
      expect({ name, value: String(obj(spec).value) }).toEqual({ name, value: expect.stringMatching(/^\$\{\{ jobs\.[\w-]+\.outputs\.[\w-]+ \}\}$/) })
    }
  })

  test('never cancels a running job: a concurrency group per backup set, cancel-in-progress false', () => {
    for (const [jobId, job] of jobsOf(wf)) {
      const concurrency = obj(job.concurrency)
      expect({ jobId, group: concurrency.group, cancel: concurrency['cancel-in-progress'] }).toEqual({
        jobId,
        group: expect.stringMatching(/^pg-backup-\$\{\{ (inputs|matrix)\.name\b.*\}\}/),
        cancel: false
      })
    }
  })

  test('least privilege: nothing at workflow level, id-token only where OIDC to AWS is configured, issues only for the issue mode, contents and pull-requests only to commit the schema', () => {
    expect(wf.permissions).toEqual({})
    for (const [jobId, job] of jobsOf(wf)) {
      const oidc = stepsOf(job).some(s => String(s.uses).startsWith('aws-actions/configure-aws-credentials@'))
      const issues = stepsOf(job).some(s => isActionRef(s.uses) && obj(s.with).issue !== undefined)
      const schema = stepsOf(job).some(s => isActionRef(s.uses) && obj(s.with).command === 'schema')
      const expected = {
        ...(oidc ? { 'id-token': 'write' } : {}),
        ...(issues ? { issues: 'write' } : {}),
        ...(schema ? { contents: 'write', 'pull-requests': 'write' } : {})
      }
      expect({ jobId, permissions: job.permissions }).toEqual({ jobId, permissions: expected })
    }
  })

  test('passes the notification secrets and notify-on through to the action', () => {
    const steps = jobsOf(wf).flatMap(([, job]) => stepsOf(job).filter(s => isActionRef(s.uses)))
    for (const step of steps) {
      expect(obj(step.with)).toMatchObject({
        'notify-on': '${{ inputs.notify-on }}',
        'slack-webhook-url': '${{ secrets.slack-webhook-url }}',
        'webhook-url': '${{ secrets.webhook-url }}',
        'heartbeat-url': '${{ secrets.heartbeat-url }}'
      })
    }
  })

  test("refers to the action by its published name and major tag (uses: ./ would be the caller's repo)", () => {
    const refs = jobsOf(wf).flatMap(([, job]) =>
      stepsOf(job)
        .filter(s => isActionRef(s.uses))
        .map(s => s.uses)
    )
    expect(refs.length).toBeGreaterThan(0)
    for (const ref of refs) expect(ref).toBe('pg-backup-action/pg-backup-action@v1')
    expect(readFileSync(file, 'utf8')).toMatch(/pinned to pg-backup-action\/pg-backup-action@v1, the same major tag/)
  })

  test('passes every secret to the action through with: or env:, never to other steps', () => {
    for (const [jobId, job] of jobsOf(wf)) {
      for (const step of stepsOf(job)) {
        if (isActionRef(step.uses)) continue
        const text = JSON.stringify(step.with ?? {})
        expect({ jobId, step: step.name, secretInWith: /secrets\./.test(text) }).toEqual({ jobId, step: step.name, secretInWith: false })
      }
    }
  })
})

describe.each(exampleFiles.map(f => [rel(f), f]))('example %s', (_name, file) => {
  const wf = loadWorkflow(file)
  const text = readFileSync(file, 'utf8')

  test('opens with comments that say which secrets to add', () => {
    expect(text.startsWith('#')).toBe(true)
    expect(text.split('\nname:')[0]).toMatch(/secret/i)
  })

  test('calls only reusable workflows that exist here, granting the permissions they ask for', () => {
    for (const [jobId, job] of jobsOf(wf)) {
      if (typeof job.uses !== 'string') continue
      expect(job.uses).toMatch(/^pg-backup-action\/pg-backup-action\/\.github\/workflows\/[\w-]+\.yml@v1$/)
      const called = loadWorkflow(reusableWorkflowPath(job.uses, root) as string)
      const asked = Object.assign({}, ...jobsOf(called).map(([, j]) => obj(j.permissions)))
      expect({ jobId, granted: obj(job.permissions) }).toEqual({ jobId, granted: expect.objectContaining(asked) })
    }
  })

  test('resolves through actionStepsOf: declared inputs and secrets only, required ones given', () => {
    expect(() => actionStepsOf(file, { inputs: { backup: 'latest', confirm: 'app' }, secrets: {} })).not.toThrow()
  })
})

describe('notifications', () => {
  const NOTIFY = ['slack-webhook-url', 'webhook-url', 'heartbeat-url']
  test.each(exampleFiles.map(f => [rel(f), f]))('%s notifies through the action, and opens no issue per failure', (_name, file) => {
    const jobs = jobsOf(loadWorkflow(file))
    const notifies = jobs.some(
      ([, job]) =>
        Object.keys(obj(job.secrets)).some(k => NOTIFY.includes(k)) ||
        stepsOf(job).some(s => isActionRef(s.uses) && Object.keys(obj(s.with)).some(k => NOTIFY.includes(k)))
    )
    expect(notifies).toBe(true)
    expect(readFileSync(file, 'utf8')).not.toMatch(/gh issue create|if: failure\(\)/)
  })

  test('the hourly monitor example keeps one issue per set and is granted issues: write', () => {
    const wf = loadWorkflow(join(root, 'examples/hourly-monitor.yml'))
    expect(obj(wf.on).schedule).toEqual([{ cron: '7 * * * *' }])
    const [[, job]] = jobsOf(wf)
    expect(job.permissions).toEqual({ 'id-token': 'write', issues: 'write' })
  })
})

test('actionlint finds nothing in the workflows and examples', () => {
  const result = spawnSync(process.execPath, [join(root, 'scripts/actionlint.mjs')], { cwd: root, encoding: 'utf8', timeout: 60_000 })
  expect({ status: result.status, output: result.stdout + result.stderr }).toEqual({
    status: 0,
    output: expect.stringContaining('no findings')
  })
})

describe('actionStepsOf', () => {
  const backupYml = join(root, '.github/workflows/backup.yml')
  const url = (db: string) => `postgresql://u:p@db.example.com:5432/${db}`

  test('backup.yml, one database: the declared defaults fill the retention and the URL comes from database-url', () => {
    const steps = actionStepsOf(backupYml, { inputs: { name: 'app', 's3-bucket': 'bkt' }, secrets: { 'database-url': url('app') } })
    expect(steps).toHaveLength(1)
    expect(steps[0]).toMatchObject({ job: 'backup', step: 'backup', matrix: { name: 'app' } })
    expect(steps[0].with).toMatchObject({
      command: 'backup',
      kind: 'scheduled',
      verify: 'true',
      prune: 'true',
      name: 'app',
      'database-url': url('app'),
      's3-bucket': 'bkt',
      'keep-daily': '7',
      'keep-weekly': '4',
      'keep-monthly': '12',
      'keep-yearly': '7',
      'keep-last': '0',
      'keep-within': '',
      compression: 'zstd',
      roles: 'false'
    })
    expect(steps[0].env).toEqual({ AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' })
  })

  test('backup.yml, several databases: one step per name, each with its own URL from database-urls', () => {
    const urls = JSON.stringify({ app: url('app'), analytics: url('analytics') })
    const steps = actionStepsOf(backupYml, { inputs: { names: '["app","analytics"]' }, secrets: { 'database-urls': urls } })
    expect(steps.map(s => [s.matrix?.name, s.with.name, s.with['database-url']])).toEqual([
      ['app', 'app', url('app')],
      ['analytics', 'analytics', url('analytics')]
    ])
  })

  test('backup.yml: a name missing from database-urls gets no URL (the check step then fails the job)', () => {
    const steps = actionStepsOf(backupYml, {
      inputs: { names: '["app","other"]' },
      secrets: { 'database-urls': JSON.stringify({ app: url('app') }) }
    })
    expect(steps.map(s => s.with['database-url'])).toEqual([url('app'), ''])
  })

  test('backup.yml: a given matrix is used instead of expanding names', () => {
    const steps = actionStepsOf(backupYml, {
      inputs: { names: '["app","analytics"]' },
      secrets: { 'database-urls': JSON.stringify({ analytics: url('analytics') }) },
      matrix: { name: 'analytics' }
    })
    expect(steps.map(s => s.with['database-url'])).toEqual([url('analytics')])
  })

  test('backup.yml: static keys win; without them the OIDC credentials already in the environment stay', () => {
    const keys = actionStepsOf(backupYml, {
      inputs: { name: 'app' },
      secrets: { 'database-url': url('app'), 'aws-access-key-id': 'AKID', 'aws-secret-access-key': 'SECRET' }
    })
    expect(keys[0].env).toEqual({ AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'SECRET' })
    const oidc = actionStepsOf(backupYml, {
      inputs: { name: 'app', 'aws-role-arn': 'arn:aws:iam::1:role/r' },
      secrets: { 'database-url': url('app') },
      env: { AWS_ACCESS_KEY_ID: 'ASIA-OIDC', AWS_SECRET_ACCESS_KEY: 'oidc-secret' }
    })
    expect(oidc[0].env).toEqual({ AWS_ACCESS_KEY_ID: 'ASIA-OIDC', AWS_SECRET_ACCESS_KEY: 'oidc-secret' })
  })

  test('backup.yml: with prune credentials the backup does not prune; a prune job does, with only those credentials', () => {
    const steps = actionStepsOf(backupYml, {
      inputs: { name: 'app', 's3-bucket': 'bkt', 'encryption-public-keys': 'age1example' },
      secrets: {
        'database-url': url('app'),
        'aws-access-key-id': 'WRITE',
        'aws-secret-access-key': 'W',
        'prune-aws-access-key-id': 'DEL',
        'prune-aws-secret-access-key': 'D'
      },
      // What the backup job's separate-prune output says when prune credentials are given (the helper does not run jobs).
      needs: { backup: { outputs: { 'separate-prune': 'true' } } }
    })
    expect(steps.map(s => [s.job, s.with.command, s.with.prune])).toEqual([
      ['backup', 'backup', 'false'],
      ['prune', 'prune', undefined]
    ])
    expect(steps[0].with['encryption-public-keys']).toBe('age1example')
    expect(steps[1].env).toEqual({ AWS_ACCESS_KEY_ID: 'DEL', AWS_SECRET_ACCESS_KEY: 'D' })
    expect(steps[1].with).toMatchObject({ name: 'app', 's3-bucket': 'bkt', 'keep-daily': '7' })
    expect(steps[1].with['database-url']).toBe('')
    // The private key never reaches a backup runner: these workflows do not even accept it.
    for (const file of ['backup.yml', 'pre-deploy-snapshot.yml']) {
      expect(readFileSync(join(root, '.github/workflows', file), 'utf8')).not.toMatch(/encryption-private-key/)
    }
    const wf = parse(readFileSync(backupYml, 'utf8'))
    expect(wf.jobs.backup.outputs['separate-prune']).toBe("${{ inputs.prune-aws-role-arn != '' || secrets.prune-aws-access-key-id != '' }}")
  })

  test('examples/daily-retention.yml runs backup.yml once per database with its retention', () => {
    const urls = JSON.stringify({ app: url('app'), analytics: url('analytics') })
    const steps = actionStepsOf(join(root, 'examples/daily-retention.yml'), { secrets: { DATABASE_URLS: urls } })
    expect(steps.map(s => s.job)).toEqual(['backup/backup', 'backup/backup'])
    expect(steps.map(s => s.with['database-url'])).toEqual([url('app'), url('analytics')])
    expect(steps[0].with).toMatchObject({
      'keep-daily': '14',
      'keep-weekly': '8',
      'keep-monthly': '24',
      'keep-yearly': '10',
      's3-storage-class': 'STANDARD_IA'
    })
    expect(steps[0].workflow).toBe(backupYml)
  })

  test('examples/supabase-s3-oidc.yml: one scheduled backup that notifies Slack and pings the heartbeat', () => {
    const steps = actionStepsOf(join(root, 'examples/supabase-s3-oidc.yml'), {
      secrets: {
        SUPABASE_DB_URL: url('postgres'),
        BACKUP_PASSPHRASE: 'pass',
        SLACK_WEBHOOK_URL: 'https://hooks.slack.test/x',
        BACKUP_HEARTBEAT_URL: 'https://hc.test/p'
      }
    })
    expect(steps[0].with).toMatchObject({ 'slack-webhook-url': 'https://hooks.slack.test/x', 'heartbeat-url': 'https://hc.test/p', 'notify-on': 'failure' })
    expect(steps).toHaveLength(1)
    expect(steps[0].with).toMatchObject({
      name: 'supabase-prod',
      'database-url': url('postgres'),
      'encryption-passphrase': 'pass',
      kind: 'scheduled'
    })
  })

  test('examples/pre-deploy.yml: a pre-deploy snapshot pruned by age only', () => {
    const steps = actionStepsOf(join(root, 'examples/pre-deploy.yml'), { secrets: { DATABASE_URL: url('app') } })
    expect(steps).toHaveLength(1)
    expect(steps[0]).toMatchObject({ job: 'snapshot/snapshot', step: 'snapshot' })
    expect(steps[0].with).toMatchObject({ command: 'backup', kind: 'pre-deploy', prune: 'true', verify: 'true', 'keep-within': '30d', name: 'app' })
    expect(steps[0].with['keep-daily']).toBeUndefined()
  })

  test('examples/monthly-drill.yml: latest on a schedule, the chosen backup on dispatch, into the service container', () => {
    const file = join(root, 'examples/monthly-drill.yml')
    const scheduled = actionStepsOf(file, { inputs: { backup: '' } })
    expect(scheduled[0].with).toMatchObject({
      command: 'drill',
      backup: 'latest',
      name: 'app',
      jobs: '2',
      'target-database-url': 'postgresql://postgres:postgres@localhost:5432/postgres'
    })
    expect(scheduled[0].with['check-sql']).toMatch(/^SELECT o\.id FROM public\.orders/)
    expect(actionStepsOf(file, { inputs: { backup: '20260301T020000Z-abc' } })[0].with.backup).toBe('20260301T020000Z-abc')
  })

  test('examples/hourly-monitor.yml runs monitor.yml once per set, with its limits, the issue mode and the alerts', () => {
    const steps = actionStepsOf(join(root, 'examples/hourly-monitor.yml'), {
      secrets: { SLACK_WEBHOOK_URL: 'https://hooks.slack.test/x', MONITOR_HEARTBEAT_URL: 'https://hc.test/m' }
    })
    expect(steps.map(s => [s.job, s.with.name])).toEqual([
      ['monitor/monitor', 'app'],
      ['monitor/monitor', 'analytics']
    ])
    expect(steps[0].with).toMatchObject({
      command: 'monitor',
      'max-age': '26h',
      'max-drill-age': '35d',
      'max-size-change': '50',
      'max-row-drop': '50',
      'storage-quota': '200GiB',
      issue: 'true',
      'notify-on': 'failure',
      'slack-webhook-url': 'https://hooks.slack.test/x',
      'heartbeat-url': 'https://hc.test/m',
      'webhook-url': '',
      's3-bucket': 'my-company-db-backups'
    })
    expect(steps[0].workflow).toBe(join(root, '.github/workflows/monitor.yml'))
  })

  test('examples/manual-restore.yml: the dispatch inputs reach the guarded restore', () => {
    const steps = actionStepsOf(join(root, 'examples/manual-restore.yml'), {
      inputs: { backup: '20260301T020000Z-abc', confirm: 'app', tables: 'public.users', clean: true },
      secrets: { PRODUCTION_DATABASE_URL: url('app') }
    })
    expect(steps).toHaveLength(1)
    expect(steps[0].with).toMatchObject({
      command: 'restore',
      backup: '20260301T020000Z-abc',
      confirm: 'app',
      tables: 'public.users',
      clean: 'true',
      'safety-snapshot': 'true',
      'target-database-url': url('app')
    })
  })

  test('examples/supabase-pitr.yml: the dispatch inputs reach the guarded PITR restore, secrets included', () => {
    const steps = actionStepsOf(join(root, 'examples/supabase-pitr.yml'), {
      inputs: { 'restore-time': '2026-03-01T02:00:00Z', confirm: 'abcdefghijklmnopqrst' },
      secrets: { SUPABASE_DB_URL: url('app'), SUPABASE_ACCESS_TOKEN: 'sbp_token' }
    })
    expect(steps).toHaveLength(1)
    expect(steps[0].with).toMatchObject({
      command: 'pitr-restore',
      'restore-time': '2026-03-01T02:00:00Z',
      confirm: 'abcdefghijklmnopqrst',
      'safety-snapshot': 'true',
      'restore-timeout': '6h',
      'database-url': url('app'),
      'supabase-access-token': 'sbp_token'
    })
  })

  test('examples/r2.yml: the action directly, keys in env, region auto', () => {
    const steps = actionStepsOf(join(root, 'examples/r2.yml'), {
      secrets: { DATABASE_URL: url('app'), R2_ACCESS_KEY_ID: 'r2-id', R2_SECRET_ACCESS_KEY: 'r2-secret' }
    })
    expect(steps).toHaveLength(1)
    expect(steps[0].env).toEqual({ AWS_ACCESS_KEY_ID: 'r2-id', AWS_SECRET_ACCESS_KEY: 'r2-secret' })
    expect(steps[0].with).toMatchObject({ 's3-region': 'auto', 's3-endpoint': expect.stringMatching(/\.r2\.cloudflarestorage\.com$/), 'keep-daily': '7' })
  })

  test('examples/b2.yml: keys reach the action through the reusable workflow secrets', () => {
    const steps = actionStepsOf(join(root, 'examples/b2.yml'), {
      secrets: { DATABASE_URL: url('app'), B2_KEY_ID: 'b2-id', B2_APPLICATION_KEY: 'b2-key' }
    })
    expect(steps[0].env).toEqual({ AWS_ACCESS_KEY_ID: 'b2-id', AWS_SECRET_ACCESS_KEY: 'b2-key' })
    expect(steps[0].with).toMatchObject({ 's3-force-path-style': 'true', 's3-region': 'us-west-004' })
  })

  test('rejects calls GitHub would reject: undeclared inputs, missing required inputs or secrets', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wf-'))
    const caller = (job: string): string => {
      const file = join(dir, 'caller.yml')
      writeFileSync(file, `on: push\njobs:\n  call:\n${job}`)
      return file
    }
    try {
      const uses = '    uses: pg-backup-action/pg-backup-action/.github/workflows/restore.yml@v1\n'
      expect(() =>
        actionStepsOf(caller(`${uses}    with: { name: a, backup: latest, confirm: a, bogus: 1 }\n    secrets: { target-database-url: x }\n`), {})
      ).toThrow(/with: bogus is not a declared input/)
      expect(() => actionStepsOf(caller(`${uses}    with: { name: a, backup: latest }\n    secrets: { target-database-url: x }\n`), {})).toThrow(
        /required input confirm is not given/
      )
      expect(() => actionStepsOf(caller(`${uses}    with: { name: a, backup: latest, confirm: a }\n`), {})).toThrow(
        /required secret target-database-url is not passed/
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('actionInputEnv: INPUT_* as the runner sets them, action.yml defaults included', () => {
    const [step] = actionStepsOf(backupYml, { inputs: { name: 'app' }, secrets: { 'database-url': url('app') } })
    const env = actionInputEnv(step, join(root, 'action.yml'))
    expect(env).toMatchObject({ INPUT_COMMAND: 'backup', 'INPUT_DATABASE-URL': url('app'), 'INPUT_MAX-AGE': '26h', INPUT_FORMAT: 'custom' })
    expect(() => actionInputEnv({ with: { nope: 'x' } }, join(root, 'action.yml'))).toThrow(/nope is not an input/)
  })
})

describe('expressions', () => {
  const ctx = { inputs: { name: 'a"b', names: '', n: 0 }, secrets: {}, matrix: { name: 'x' } }
  test.each([
    ["format('[{0}]', toJSON(inputs.name))", '["a\\"b"]'],
    ["fromJSON(secrets.urls || '{}')[matrix.name]", null],
    ["inputs.names && 'multi' || 'single'", 'single'],
    ["inputs.names != ''", false],
    ["'ABC' == 'abc'", true],
    ["1 == '1'", true],
    ['!inputs.n', true],
    ['contains(fromJSON(\'["x","y"]\'), matrix.name)', true],
    ["format('{{{0}}}', 'v')", '{v}'],
    ["format(')')", ')'],
    ["join(fromJSON('[1,2]'), ', ')", '1, 2'],
    ['failure()', false],
    ["inputs.missing || 'default'", 'default']
  ])('%s', (expr, expected) => {
    expect(evaluateExpression(expr, ctx)).toEqual(expected)
  })

  test('unsupported syntax fails loudly instead of evaluating wrong', () => {
    // GitHub's evaluator knows hashFiles, but only on a runner: the parser is given the status functions alone.
    expect(() => evaluateExpression("hashFiles('x')", ctx)).toThrow(/Unrecognized function: 'hashFiles'/)
    expect(() => evaluateExpression('nosuchcontext.x', ctx)).toThrow(/Unrecognized named-value: 'nosuchcontext'/)
    expect(() => evaluateExpression("fromJSON('')", ctx)).toThrow(/empty input/)
  })
})

test("a workflow GitHub's schema rejects fails to load, naming the problem", () => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-'))
  try {
    const file = join(dir, 'bad.yml')
    writeFileSync(file, 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n')
    expect(() => loadWorkflow(file)).toThrow(/stepz/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
