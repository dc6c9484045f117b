/**
 * Every input rule, tested without a database: readSettings is pure, and execute() reports an
 * input error before it connects to anything (the URLs below point at nothing).
 */
import { describe, expect, test } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { execute, redactingHost } from '../../src/execute.js'
import type { Host } from '../../src/host.js'
import { UNLIMITED } from '../../src/catalog/retention.js'
import { readSettings } from '../../src/inputs.js'
import { Secrets } from '../../src/secrets.js'
import { expectNoSecrets, runAction } from '../helpers/action.js'

const action = parse(readFileSync(new URL('../../action.yml', import.meta.url), 'utf8')) as { inputs: Record<string, { default?: string }> }

function settingsFrom(inputs: Record<string, string>) {
  return readSettings({ ...quietHost(), input: name => inputs[name] ?? '' })
}

describe("action.yml's defaults are the code's", () => {
  // The CLI passes no input it was not given, so the code's defaults must say what action.yml says.
  // An expression default (`${{ github.token }}`) is filled in by the runner, not by the code.
  const stated = Object.fromEntries(
    Object.entries(action.inputs)
      .map(([name, spec]) => [name, String(spec.default ?? '')])
      .filter(([, value]) => !value.includes('${{'))
  )

  test.each(['backup', 'prune', 'monitor', 'drill', 'restore', 'verify'])('command %s', command => {
    // prune needs a keep rule either way; give one to both sides.
    const base = { command, 'keep-last': '3' }
    expect(settingsFrom({ ...stated, ...base })).toEqual(settingsFrom(base))
  })

  test('every input action.yml declares is read by the code', () => {
    const read = new Set<string>()
    // s3-* inputs are read only when storage includes s3.
    readSettings({ ...quietHost(), input: name => (read.add(name), { storage: 's3', 's3-bucket': 'b' }[name] ?? '') })
    expect(Object.keys(action.inputs).filter(name => !read.has(name))).toEqual([])
  })
})

function quietHost(): Host {
  return {
    input: () => '',
    output: () => undefined,
    secret: () => undefined,
    info: () => undefined,
    warning: () => undefined,
    debug: () => undefined,
    summary: async () => undefined,
    env: {}
  }
}

describe('bad inputs fail before any work, naming the input', () => {
  // An unreachable database proves nothing was attempted: the input error comes first.
  const base = { 'database-url': 'postgresql://u:pw-secret@127.0.0.1:1/db', storage: 'local', path: '/nonexistent/never-created' }
  test.each([
    [{ format: 'tar' }, /Input "format": "tar" is not supported; use one of: custom, plain/],
    [{ compression: 'lz4' }, /Input "compression": "lz4" is not supported; use one of: zstd, gzip, none/],
    [{ 'compression-level': '-1' }, /Input "compression-level": "-1" is not valid for zstd; use a whole number from 1 to 19/],
    [{ compression: 'gzip', 'compression-level': '12' }, /Input "compression-level": "12" is not valid for gzip; use a whole number from 1 to 9/],
    [{ storage: 's3' }, /Input "s3-bucket": is required when storage includes s3/],
    [{ storage: 'ftp' }, /Input "storage": "ftp" is not supported; use one or more of: local, s3, artifact/],
    [{ scope: 'everything' }, /Input "scope": "everything" is not supported; use one of: full, schema, data/],
    [{ verify: 'maybe' }, /Input "verify": "maybe" is not a boolean; use true or false/],
    [{ command: 'dump' }, /Input "command": "dump" is not supported; use one of: backup, verify, drill, restore, prune, monitor/],
    [{ 'keep-daily': '-3' }, /Input "keep-daily": "-3" is not a whole number from 0 to 100000/],
    [{ prune: 'true' }, /Input "prune": needs at least one keep rule: set keep-last, keep-hourly/],
    [{ 'keep-within': '30 days' }, /Input "keep-within": "30 days": .*expected a duration such as 30d/],
    [{ 'keep-within': '2w' }, /Input "keep-within": "2w": "w" is not a unit; expected a duration such as 30d, 6m, 1y6m or 36h/],
    [{ 'keep-within-daily': '90min' }, /Input "keep-within-daily": "90min": minutes are not accepted here/],
    [{ 'keep-within-weekly': '1m1m' }, /Input "keep-within-weekly": "1m1m": months given twice/],
    [
      { 'max-age': '1.5d' },
      /Input "max-age": "1.5d": no fractions .*units y \(calendar years\), m \(calendar months\), d \(days\), h \(hours\), min \(minutes\)/
    ],
    [{ 'keep-monthly': 'forever' }, /Input "keep-monthly": "forever" is not a whole number from 0 to 100000 or unlimited/],
    [{ 'keep-tag': 'release,' + 'x'.repeat(101) }, /Input "keep-tag": "x{101}" is not a tag/],
    [{ tags: 'release v2' }, /Input "tags": "release v2" is not a tag: use up to 100 letters, digits and/],
    [{ 'retention-timezone': 'CET+1' }, /Input "retention-timezone": "CET\+1" is not an IANA time zone; use a name such as UTC, Europe\/Berlin/],
    [{ 's3-sse': 'rot13', storage: 's3', 's3-bucket': 'b' }, /Input "s3-sse": "rot13" is not supported; use AES256 or aws:kms/],
    [{ 'database-url': 'mysql://root:hunter2@db/x' }, /Input "database-url": must be a URL of the form postgresql:\/\//],
    [{ name: '../etc' }, /Input "name": "..\/etc" may hold only letters, digits/],
    [{ 'notify-on': 'sometimes' }, /Input "notify-on": "sometimes" is not supported; use one of: failure, always, never/],
    [{ 'webhook-url': 'ftp://hooks.example/pw-secret' }, /Input "webhook-url": is not an http\(s\) URL \(the value is not shown: it is a secret\)/],
    [{ issue: 'true' }, /Input "github-token": is required with issue: true/],
    [{ 'max-row-drop': '150' }, /Input "max-row-drop": "150" is not a whole number from 0 to 100/],
    [{ 'storage-quota': 'lots' }, /Input "storage-quota": "lots" is not a size; use a number with B, KB, MB/],
    [{ 'max-drill-age': 'monthly' }, /Input "max-drill-age": .*monthly/],
    [{ 'postgres-version': '17.2' }, /Input "postgres-version": should be auto or a major version such as 17, not "17\.2"/],
    [
      { storage: 's3', 's3-bucket': 'b', 's3-object-lock-mode': 'forever', 's3-object-lock-days': '3' },
      /Input "s3-object-lock-mode": "forever" is not supported; use one of: governance, compliance/
    ],
    [{ storage: 's3', 's3-bucket': 'b', 's3-object-lock-mode': 'compliance' }, /Input "s3-object-lock-days": is required with s3-object-lock-mode: compliance/],
    [{ storage: 's3', 's3-bucket': 'b', 's3-object-lock-days': '30' }, /Input "s3-object-lock-mode": is required with s3-object-lock-days/],
    [
      { storage: 's3', 's3-bucket': 'b', 's3-object-lock-mode': 'governance', 's3-object-lock-days': '0' },
      /Input "s3-object-lock-days": "0" is not a whole number from 1 to 36500/
    ],
    [{ 'encryption-public-keys': 'age1notakey' }, /Input "encryption-public-keys": "age1notakey" is not an age X25519 public key/],
    [
      { 'encryption-public-keys': 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p', 'encryption-passphrase': 'pw-secret' },
      /Input "encryption-public-keys": cannot be combined with encryption-passphrase/
    ],
    [{ 'encryption-private-key': 'AGE-SECRET-KEY-1hunter2' }, /Input "encryption-private-key": entry 1 is not an age X25519 private key/],
    [{ command: 'schema', 'schema-file': '/etc/schema.sql' }, /Input "schema-file": "\/etc\/schema.sql" must be a path inside the repository/],
    [{ command: 'schema', 'schema-commit': 'merge' }, /Input "schema-commit": "merge" is not supported; use one of: none, pull-request, push/],
    [{ command: 'schema', 'schema-branch': 'a..b' }, /Input "schema-branch": "a..b" is not a valid branch name/],
    [{ command: 'schema', 'schema-commit': 'pull-request' }, /Input "github-token": is required with schema-commit: pull-request/],
    [{ exports: 'SELECT * FROM public.customers' }, /Input "exports": line 1 does not start with a name and a colon/],
    [{ 'exports-name': 'csv' }, /Input "exports-name": has no meaning without exports/],
    [{ exports: 'a: SELECT 1', 'exports-storage': 'ftp' }, /Input "exports-storage": "ftp" is not supported/]
  ])('%j', async (inputs, message) => {
    const run = await runAction({ ...base, ...inputs })
    expect(run.failure).toMatch(message)
    expectNoSecrets([run.log], ['pw-secret', 'hunter2'])
  })
})

describe('what the process prints', () => {
  test('outputs, logs, debug lines and summaries all pass the redactor', async () => {
    const printed: string[] = []
    const secrets = new Secrets()
    secrets.add('s3cr3t-value')
    const host = redactingHost(
      {
        ...quietHost(),
        output: (name, value) => void printed.push(`${name}=${value}`),
        info: m => void printed.push(m),
        warning: m => void printed.push(m),
        debug: m => void printed.push(m),
        summary: async m => void printed.push(m)
      },
      secrets
    )
    host.output('report', '{"url":"s3cr3t-value"}')
    host.info('a s3cr3t-value')
    host.warning('w s3cr3t-value')
    host.debug('d s3cr3t-value')
    await host.summary('| s3cr3t-value |')
    expect(printed).toHaveLength(5)
    expectNoSecrets(printed, ['s3cr3t-value'])
  })

  test('an unexpected error says it is a bug and leaves its stack in the debug log, without secrets', async () => {
    const log: string[] = []
    const failure = await execute({
      ...quietHost(),
      input: name => {
        if (name === 'encryption-passphrase') return 'hunter2'
        if (name === 'command') throw new TypeError('boom near hunter2')
        return ''
      },
      debug: m => void log.push(m)
    })
    expect(failure).toMatch(/^boom near \*\*\* \(this is a bug in pg-backup-action, please report it; the stack trace is in the debug log\)$/)
    expect(log.join('\n')).toMatch(/TypeError: boom near \*\*\*\n\s+at /)
    expectNoSecrets([failure ?? '', ...log], ['hunter2'])
  })
})

describe('retention inputs', () => {
  const settings = (inputs: Record<string, string>) => settingsFrom({ storage: 'local', ...inputs })
  test("durations read like restic's: m is months, and minutes only as min in max-age", () => {
    const s = settings({ 'keep-within': '6m', 'keep-within-daily': '1y2m3d4h', 'max-age': '1h30min' })
    expect(s.retention.within).toEqual({ years: 0, months: 6, days: 0, hours: 0, minutes: 0 })
    expect(s.retention.withinDaily).toEqual({ years: 1, months: 2, days: 3, hours: 4, minutes: 0 })
    expect(s.maxAge).toEqual({ years: 0, months: 0, days: 0, hours: 1, minutes: 30 })
  })
  test('counts may be unlimited, spelled as a word or as -1; tags and keep-tag lines; the time zone canonicalised', () => {
    const s = settings({
      'keep-monthly': 'unlimited',
      'keep-yearly': '-1',
      'keep-daily': '7',
      tags: 'a, b\na',
      'keep-tag': 'a, b\n\nc',
      'retention-timezone': 'europe/berlin'
    })
    expect(s.retention).toMatchObject({ monthly: UNLIMITED, yearly: UNLIMITED, daily: 7, tags: [['a', 'b'], ['c']] })
    expect(s.tags).toEqual(['a', 'b'])
    expect(s.retentionTimeZone).toBe('Europe/Berlin')
    expect(settings({}).retentionTimeZone).toBe('UTC')
  })
})
