/**
 * Notifications from every command, against real receivers on 127.0.0.1 and a local server
 * speaking GitHub's issue endpoints: payload shapes, heartbeat order, bounded delivery that
 * never changes the outcome, no secret in any payload, and one issue per set.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { WEBHOOK_VERSION, type WebhookPayload } from '../src/notify/webhook.js'
import { expectNoSecrets, runAction, type ActionRun } from './helpers/action.js'
import type { TestCluster } from './helpers/postgres.js'
import { startFakeGitHub, startReceiver, type Receiver } from './helpers/receivers.js'
import { startShop } from './helpers/sample.js'

const FAST = { timeoutMs: 400, attempts: 2, backoffMs: 100 }
const RUN_ENV = { GITHUB_REPOSITORY: 'owner/repo', GITHUB_RUN_ID: '4242', GITHUB_SERVER_URL: 'https://github.example' }
const RUN_URL = 'https://github.example/owner/repo/actions/runs/4242'

let pg: TestCluster
let dir: string
const receivers: Receiver[] = []
const receiver = async (mode: Parameters<typeof startReceiver>[0], path?: string) => {
  const r = await startReceiver(mode, path)
  receivers.push(r)
  return r
}

beforeAll(async () => {
  pg = await startShop()
  dir = mkdtempSync(join(tmpdir(), 'pgb-notify-'))
})

afterAll(async () => {
  await Promise.all([pg?.stop(), ...receivers.map(r => r.stop())])
  rmSync(dir, { recursive: true, force: true })
})

const backupInputs = () => ({ command: 'backup', storage: 'local', path: dir, name: 'shop', 'database-url': pg.url('shop') })
const bodyOf = (r: Receiver, i = 0) => JSON.parse(r.requests[i].body) as Record<string, unknown>
/** Everything that left the process or was shown: logs, outputs and every payload sent. */
const everything = (run: ActionRun, ...rs: Receiver[]) => [run.log, JSON.stringify(run.outputs), ...rs.flatMap(r => r.requests.map(q => q.body))]

describe('a backup that succeeds, notify-on: always', () => {
  let run: ActionRun
  let slack: Receiver, webhook: Receiver, heartbeat: Receiver
  beforeAll(async () => {
    slack = await receiver('ok')
    webhook = await receiver('ok', '/in/webhook-secret-9f8e7d')
    heartbeat = await receiver('ok', '/ping/5b6c-secret-uuid')
    run = await runAction(
      { ...backupInputs(), 'notify-on': 'always', 'slack-webhook-url': slack.url, 'webhook-url': webhook.url, 'heartbeat-url': heartbeat.url },
      RUN_ENV,
      undefined,
      undefined,
      FAST
    )
  })

  test('succeeds and says every notification arrived', () => {
    expect(run.failure).toBeUndefined()
    expect(run.outputs.notified).toBe('true')
  })

  test('Slack: fallback text and blocks with what ran, the outcome, size, duration, verify and the run link', () => {
    expect(slack.requests).toHaveLength(1)
    expect(slack.requests[0].headers['content-type']).toBe('application/json')
    const message = bodyOf(slack) as {
      text: string
      blocks: Array<{ type: string; text?: { text: string }; fields?: Array<{ text: string }>; elements?: Array<{ text: string }> }>
    }
    expect(message.text).toBe('✅ pg-backup: backup of shop succeeded')
    expect(message.blocks[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: '*✅ backup of shop succeeded*' } })
    const fields = message.blocks[1].fields?.map(f => f.text)
    expect(fields).toEqual([
      '*Command*\nbackup',
      '*Set*\nshop',
      '*Kind*\nmanual',
      `*Backup*\n${run.outputs['backup-id']}`,
      '*Outcome*\nsucceeded',
      expect.stringMatching(/^\*Size\*\n[\d.]+ (KiB|MiB)$/),
      expect.stringMatching(/^\*Duration\*\n[\d.]+ s$/),
      '*Verify*\npassed'
    ])
    expect(message.blocks.at(-1)).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: `<${RUN_URL}|View the run> in owner/repo` }] })
  })

  test('webhook: the versioned schema, every key present, the same facts', () => {
    expect(webhook.requests).toHaveLength(1)
    const payload = bodyOf(webhook) as unknown as WebhookPayload
    expect(Object.keys(payload).sort()).toEqual(
      [
        'type',
        'version',
        'outcome',
        'attention',
        'command',
        'set',
        'kind',
        'backupId',
        'sizeBytes',
        'durationSeconds',
        'verified',
        'drillPassed',
        'checks',
        'error',
        'run',
        'startedAt',
        'finishedAt'
      ].sort()
    )
    expect(payload).toMatchObject({
      type: 'pg-backup-action.run',
      version: WEBHOOK_VERSION,
      outcome: 'success',
      attention: false,
      command: 'backup',
      set: 'shop',
      kind: 'manual',
      backupId: run.outputs['backup-id'],
      sizeBytes: Number(run.outputs['size-bytes']),
      verified: true,
      drillPassed: null,
      checks: [],
      error: null,
      run: { url: RUN_URL, repository: 'owner/repo' }
    })
    expect(Date.parse(payload.finishedAt)).toBeGreaterThanOrEqual(Date.parse(payload.startedAt))
    // The README documents exactly these fields.
    const readme = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../README.md'), 'utf8')
    const table = readme.slice(readme.indexOf('**Webhook**'), readme.indexOf('**Heartbeat**'))
    const documented = [...table.matchAll(/^\| (`[^|]+`) \|/gm)].flatMap(m => [...m[1].matchAll(/`(\w+)`/g)].map(f => f[1]))
    expect(documented.sort()).toEqual(Object.keys(payload).sort())
  })

  test('heartbeat: start when the run starts, then success', () => {
    expect(heartbeat.requests.map(r => `${r.method} ${r.path}`)).toEqual(['POST /ping/5b6c-secret-uuid/start', 'POST /ping/5b6c-secret-uuid'])
    expect(heartbeat.requests[1].body).toBe(`backup of shop succeeded\n${RUN_URL}`)
  })

  test('the URLs are masked and appear in no log, output or payload', () => {
    expect(run.masked).toEqual(expect.arrayContaining([slack.url, webhook.url, heartbeat.url]))
    expectNoSecrets(everything(run, slack, webhook, heartbeat), [pg.password, slack.url, webhook.url, heartbeat.url, 'xoxsecrettoken', 'webhook-secret-9f8e7d'])
  })
})

test('notify-on: failure (the default) keeps Slack and the webhook quiet on success; the heartbeat still pings', async () => {
  const [slack, webhook, heartbeat] = await Promise.all([receiver('ok'), receiver('ok'), receiver('ok')])
  const run = await runAction(
    { ...backupInputs(), 'slack-webhook-url': slack.url, 'webhook-url': webhook.url, 'heartbeat-url': heartbeat.url },
    RUN_ENV,
    undefined,
    undefined,
    FAST
  )
  expect(run.failure).toBeUndefined()
  expect([slack.requests.length, webhook.requests.length, heartbeat.requests.length]).toEqual([0, 0, 2])
  expect(run.outputs.notified).toBe('true')
})

test('a failed backup: Slack and the webhook carry the redacted error, the heartbeat pings start then fail', async () => {
  const [slack, webhook, heartbeat] = await Promise.all([receiver('ok'), receiver('ok'), receiver('ok')])
  const run = await runAction(
    { ...backupInputs(), 'database-url': pg.url('no_such_db'), 'slack-webhook-url': slack.url, 'webhook-url': webhook.url, 'heartbeat-url': heartbeat.url },
    RUN_ENV,
    undefined,
    undefined,
    FAST
  )
  expect(run.failure).toMatch(/database "no_such_db" does not exist/)
  expect(run.outputs.notified).toBe('true')
  const message = bodyOf(slack) as { text: string; blocks: Array<{ text?: { text: string } }> }
  expect(message.text).toMatch(/^❌ pg-backup: backup of shop FAILED: .*database "no_such_db" does not exist/)
  expect(message.blocks.some(b => b.text?.text.startsWith('```') && b.text.text.includes('database "no_such_db" does not exist'))).toBe(true)
  expect(bodyOf(webhook)).toMatchObject({ outcome: 'failure', attention: true, set: 'shop', error: run.failure })
  expect(heartbeat.requests.map(r => r.path)).toEqual([`${new URL(heartbeat.url).pathname}/start`, `${new URL(heartbeat.url).pathname}/fail`])
  expect(heartbeat.requests[1].body).toContain('database "no_such_db" does not exist')
  expectNoSecrets(everything(run, slack, webhook, heartbeat), [pg.password, encodeURIComponent(pg.password), slack.url, webhook.url])
})

test('a run failing on a bad input still reports it (the notification inputs are read first)', async () => {
  const heartbeat = await receiver('ok')
  const webhook = await receiver('ok')
  const run = await runAction(
    { ...backupInputs(), 'keep-daily': 'seven', 'heartbeat-url': heartbeat.url, 'webhook-url': webhook.url },
    RUN_ENV,
    undefined,
    undefined,
    FAST
  )
  expect(run.failure).toMatch(/Input "keep-daily": "seven" is not a whole number/)
  expect(heartbeat.requests.map(r => r.path.split('/').at(-1))).toEqual(['start', 'fail'])
  expect(bodyOf(webhook)).toMatchObject({ outcome: 'failure', command: 'backup', set: 'shop', kind: null })
})

test('a notification URL that is not one fails naming the input, without echoing it', async () => {
  const run = await runAction({ ...backupInputs(), 'slack-webhook-url': 'hooks.slack.com/services/T/B/sekrit' })
  expect(run.failure).toBe('Input "slack-webhook-url": is not an http(s) URL (the value is not shown: it is a secret)')
})

describe('receivers that hang, fail or refuse', () => {
  test('a good backup stays good, notified is false, each target warns, and delivery stays within its bounds', async () => {
    const [hang, broken, refused] = await Promise.all([receiver('hang'), receiver('500'), receiver('refuse')])
    const run = await runAction(
      { ...backupInputs(), 'notify-on': 'always', 'slack-webhook-url': hang.url, 'webhook-url': broken.url, 'heartbeat-url': refused.url },
      RUN_ENV,
      undefined,
      undefined,
      FAST
    )
    expect(run.failure).toBeUndefined()
    expect(run.outputs['backup-id']).toMatch(/^\d{8}T\d{6}Z-manual-/)
    expect(run.outputs.notified).toBe('false')
    expect(run.log).toMatch(/warning: Notification \(Slack\) not delivered: no answer within 0\.4 s \(after 2 attempts\)/)
    expect(run.log).toMatch(/warning: Notification \(webhook\) not delivered: HTTP 500 \(after 2 attempts\)/)
    expect(run.log).toMatch(/warning: Notification \(heartbeat\) not delivered: start ping: ECONNREFUSED .*; ECONNREFUSED/)
    // Retried once each: a 500 and a hang may pass next time.
    expect([hang.requests.length, broken.requests.length]).toEqual([2, 2])
    expect(run.log).toMatch(/Notified nobody in [\d.]+ s \(0 of 3 delivered\)/)
    expectNoSecrets(everything(run, hang, broken), [hang.url, broken.url, refused.url, pg.password])
  })

  test('a failed run stays failed, with the same message, whatever the receivers do', async () => {
    const hang = await receiver('hang')
    const inputs = { command: 'verify', storage: 'local', path: dir, name: 'no-such-set' }
    let started = Date.now()
    const quiet = await runAction(inputs)
    const quietMs = Date.now() - started
    started = Date.now()
    const loud = await runAction({ ...inputs, 'slack-webhook-url': hang.url, 'heartbeat-url': hang.url }, RUN_ENV, undefined, undefined, FAST)
    const addedMs = Date.now() - started - quietMs
    // Bounded by the limits: start ping in the background, then 2 attempts × 0.4 s + 0.1 s per target, in parallel.
    expect(addedMs).toBeGreaterThanOrEqual(850)
    expect(addedMs).toBeLessThan(3_000)
    expect(quiet.failure).toMatch(/No complete backup of "no-such-set"/)
    expect(loud.failure).toBe(quiet.failure)
    expect(loud.outputs.notified).toBe('false')
  })
})

describe('issue: one GitHub issue per backup set', () => {
  const TOKEN = 'ghs_fakeTokenForTests0123456789'
  test('opened on the first failure, commented on the second, closed when the command succeeds again', async () => {
    const github = await startFakeGitHub(TOKEN)
    try {
      const env = { ...RUN_ENV, GITHUB_API_URL: github.url }
      const monitor = { command: 'monitor', storage: 'local', path: dir, name: 'shop', issue: 'true', 'github-token': TOKEN }
      const later = (h: number) => () => new Date(Date.now() + h * 3600_000)

      const first = await runAction(monitor, env, later(30), undefined, FAST)
      expect(first.failure).toMatch(/newest backup: .* is 30 h 0 min old/)
      expect(github.issues).toHaveLength(1)
      expect(github.issues[0]).toMatchObject({ title: 'Backups of shop need attention', state: 'open', labels: ['pg-backup:shop'], comments: [] })
      expect(github.issues[0].body).toContain('monitor of shop FAILED')
      expect(github.issues[0].body).toContain(RUN_URL)
      expect(github.labels).toEqual(['pg-backup:shop'])

      const second = await runAction(monitor, env, later(31), undefined, FAST)
      expect(second.failure).toMatch(/31 h 0 min old/)
      expect(github.issues).toHaveLength(1)
      expect(github.issues[0].comments).toHaveLength(1)
      expect(github.issues[0].comments[0]).toMatch(/❌ newest backup: .* 31 h 0 min old/)

      // A verify that passes did not fail before: it leaves the monitor's issue open.
      const verify = await runAction({ ...monitor, command: 'verify', 'database-url': '' }, env, undefined, undefined, FAST)
      expect(verify.failure).toBeUndefined()
      expect(github.issues[0].state).toBe('open')

      const recovered = await runAction(monitor, env, undefined, undefined, FAST)
      expect(recovered.failure).toBeUndefined()
      expect(recovered.outputs.notified).toBe('true')
      expect(github.issues).toHaveLength(1)
      expect(github.issues[0].state).toBe('closed')
      expect(github.issues[0].comments.at(-1)).toMatch(/monitor of shop succeeded/)
      expect(github.requests.every(r => r.headers.authorization === `token ${TOKEN}`)).toBe(true)
      expect(first.masked).toContain(TOKEN)
      expectNoSecrets([first.log, second.log, recovered.log, ...github.issues.flatMap(i => [i.body, ...i.comments])], [TOKEN])
    } finally {
      await github.stop()
    }
  })

  test('GitHub answering 401 is a warning, not a failure', async () => {
    const github = await startFakeGitHub('another-token')
    try {
      const run = await runAction(
        { command: 'monitor', storage: 'local', path: dir, name: 'shop', issue: 'true', 'github-token': TOKEN },
        { ...RUN_ENV, GITHUB_API_URL: github.url },
        undefined,
        undefined,
        FAST
      )
      expect(run.failure).toBeUndefined()
      expect(run.outputs.notified).toBe('false')
      expect(run.log).toMatch(/warning: Notification \(GitHub issue\) not delivered: Bad credentials/)
    } finally {
      await github.stop()
    }
  })
})
