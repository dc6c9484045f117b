/**
 * Not part of the suite (no .test.ts): measures what notifications add to a backup, against
 * receivers on 127.0.0.1, with the default delivery limits. Run it with
 *   NODE_OPTIONS='--experimental-vm-modules --no-warnings' npx jest --testMatch '<rootDir>/__tests__/measure-notify.manual.ts'
 * Pairs of runs (without / with Slack + webhook + heartbeat) share the machine's load; the
 * "Notified … in X s" line times the notification phase alone.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAction } from './helpers/action.js'
import type { TestCluster } from './helpers/postgres.js'
import { startReceiver } from './helpers/receivers.js'
import { startShop } from './helpers/sample.js'

let pg: TestCluster
beforeAll(async () => {
  pg = await startShop()
})
afterAll(async () => {
  await pg?.stop()
})

test('notification overhead on a backup, and the worst case with a hanging receiver', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgb-measure-'))
  const base = { command: 'backup', storage: 'local', path: dir, name: 'shop', 'database-url': pg.url('shop') }
  const [a, b, c, hang] = await Promise.all([startReceiver('ok'), startReceiver('ok'), startReceiver('ok'), startReceiver('hang')])
  const time = async (inputs: Record<string, string>) => {
    const t = Date.now()
    const r = await runAction(inputs)
    expect(r.failure).toBeUndefined()
    return { ms: Date.now() - t, line: /Notified .*/.exec(r.log)?.[0] }
  }
  const rows: string[] = []
  for (let i = 0; i < 5; i++) {
    const plain = await time(base)
    const notified = await time({ ...base, 'notify-on': 'always', 'slack-webhook-url': a.url, 'webhook-url': b.url, 'heartbeat-url': c.url })
    rows.push(`plain ${plain.ms} ms | notified ${notified.ms} ms | ${notified.line}`)
  }
  const worst = await time({ ...base, 'notify-on': 'always', 'slack-webhook-url': hang.url, 'webhook-url': b.url, 'heartbeat-url': c.url })
  rows.push(`hanging Slack receiver: total ${worst.ms} ms | ${worst.line}`)
  console.log(rows.join('\n'))
  await Promise.all([a, b, c, hang].map(r => r.stop()))
}, 300_000)
