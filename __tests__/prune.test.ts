/** prune on a folder: a simulated year of backups, exact survivors, and everything it must leave alone. */
import { describe, expect, test } from '@jest/globals'
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { newBackupId } from '../src/catalog/manifest.js'
import { COMMAND_RUNNERS } from '../src/commands/index.js'
import { prune } from '../src/commands/prune.js'
import type { BackupKind } from '../src/model/vocabulary.js'
import { testContext } from './helpers/action.js'
import { LocalStorage } from '../src/storage/local.js'
import type { Storage } from '../src/storage/storage.js'

const DAY = 86_400_000
const NOW = new Date('2025-12-31T03:00:00Z')
const id = (iso: string, kind: BackupKind = 'scheduled') => newBackupId(new Date(iso), kind, () => 0xbeef / 0x10000)
const daily = (date: string) => id(`${date}T02:00:00Z`)
const preDeploy = (date: string) => id(`${date}T14:30:00Z`, 'pre-deploy')
const SCHEDULED_POLICY = { 'keep-daily': '7', 'keep-weekly': '4', 'keep-monthly': '12' }

// Hand-derived. Daily: the last 7 days. Weekly (ISO): 12-31 is a Wednesday in 2026-W01, then the
// Sundays closing the three weeks before. Monthly: the last day of each month. Plus the pinned 03-15.
const SCHEDULED_SURVIVORS = [
  ...['12-31', '12-30', '12-29', '12-28', '12-27', '12-26', '12-25', '12-21', '12-14'],
  ...['11-30', '10-31', '09-30', '08-31', '07-31', '06-30', '05-31', '04-30', '03-31', '03-15', '02-28', '01-31']
].map(d => daily(`2025-${d}`))
// keep-within 30d counts back from the newest pre-deploy (12-29 14:30); 11-29 14:30 is exactly 30 days
// older and so outside (strict, like restic). Plus the pinned 02-02.
const PRE_DEPLOY_SURVIVORS = ['12-29', '12-24', '12-19', '12-14', '12-09', '12-04', '02-02'].map(d => preDeploy(`2025-${d}`))

const OLD_UNFINISHED = id('2025-12-20T03:00:00Z')
const FRESH_UNFINISHED = id('2025-12-31T02:30:00Z')
const PINNED_UNFINISHED = id('2025-06-10T12:00:00Z', 'manual')
const OLD = id('2025-01-01T02:00:00Z')
const FOREIGN = [
  'app/notes.txt',
  `app/sub/${OLD}.dump.zst`,
  `app/sub/${OLD}.manifest.json`,
  `other/${OLD}.dump.zst`,
  `other/${OLD}.manifest.json`,
  `apple/${OLD}.manifest.json`
]

/** Every file of the scenario, key → content: a backup per day at 02:00, a pre-deploy snapshot every 5 days. */
function year(): Map<string, string> {
  const files = new Map<string, string>()
  const backup = (backupId: string, extra: string[] = []) => {
    for (const suffix of ['.dump.zst', '.sha256', ...extra]) files.set(`app/${backupId}${suffix}`, `data of ${backupId}`)
    files.set(`app/${backupId}.manifest.json`, JSON.stringify({ manifestVersion: 1, id: backupId }))
  }
  for (let t = Date.UTC(2025, 0, 1, 2); t <= Date.UTC(2025, 11, 31, 2); t += DAY) {
    const date = new Date(t).toISOString().slice(0, 10)
    // Sundays' backups were drilled; two backups are pinned.
    backup(daily(date), [...(new Date(t).getUTCDay() === 0 ? ['.drill.json'] : []), ...(date === '2025-03-15' ? ['.pinned'] : [])])
  }
  for (let t = Date.UTC(2025, 0, 3, 14, 30); t < Date.UTC(2026, 0, 1); t += 5 * DAY) {
    const date = new Date(t).toISOString().slice(0, 10)
    backup(preDeploy(date), date === '2025-02-02' ? ['.pinned'] : [])
  }
  files.set(`app/${OLD_UNFINISHED}.dump.zst`, 'died mid-upload')
  files.set(`app/${FRESH_UNFINISHED}.dump.zst`, 'still uploading')
  files.set(`app/${PINNED_UNFINISHED}.dump.zst`, 'pinned, never finished')
  files.set(`app/${PINNED_UNFINISHED}.pinned`, '')
  for (const key of FOREIGN) files.set(key, 'not ours')
  return files
}

function seed(files: Map<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'prune-'))
  for (const [key, body] of files) {
    mkdirSync(dirname(join(dir, key)), { recursive: true })
    writeFileSync(join(dir, key), body)
  }
  return dir
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter(path => statSync(join(dir, path)).isFile())
    .map(path => path.split('\\').join('/'))
    .sort()
}

/** The ids that still have a manifest, of one kind. */
const completeIds = (files: string[], kind: BackupKind) =>
  files
    .filter(f => f.startsWith('app/') && f.endsWith('.manifest.json') && f.includes(`-${kind}-`) && !f.startsWith('app/sub/'))
    .map(f => f.slice(4, -'.manifest.json'.length))
    .sort()
    .reverse()

function context(inputs: Record<string, string>, storages?: Storage[]) {
  return testContext(inputs, { storages: settings => storages ?? [new LocalStorage(settings.path)], now: () => NOW })
}

const scheduled = (dir: string, extra: Record<string, string> = {}) =>
  context({ command: 'prune', storage: 'local', path: dir, name: 'app', kind: 'scheduled', ...SCHEDULED_POLICY, ...extra })

/** What must remain: every file, minus all files of the pruned ids. */
const without = (files: Map<string, string>, gone: string[]) => [...files.keys()].filter(k => !gone.some(g => k.startsWith(`app/${g}.`))).sort()

describe('prune on local storage', () => {
  test('a year of daily backups: keep-daily 7, keep-weekly 4, keep-monthly 12 keeps exactly the hand-derived ids', async () => {
    const files = year()
    const dir = seed(files)
    const { ctx, summaries } = scheduled(dir)
    const result = await prune(ctx)

    const after = listFiles(dir)
    expect(completeIds(after, 'scheduled')).toEqual(SCHEDULED_SURVIVORS)
    expect(result.kept).toEqual(SCHEDULED_SURVIVORS)
    expect(result.deleted).toHaveLength(365 - SCHEDULED_SURVIVORS.length)
    expect(result.unfinished).toEqual([OLD_UNFINISHED])
    // Exactly the pruned ids' files (data, checksum, drill report, manifest) went; pre-deploy snapshots,
    // the fresh and the pinned unfinished uploads, other sets and foreign files stayed.
    expect(after).toEqual(without(files, [...result.deleted, OLD_UNFINISHED]))
    expect(completeIds(after, 'pre-deploy')).toHaveLength(73)
    for (const key of [...FOREIGN, `app/${FRESH_UNFINISHED}.dump.zst`, `app/${PINNED_UNFINISHED}.dump.zst`]) expect(after).toContain(key)

    const summary = summaries.join('\n')
    expect(summary).toContain(`| ${daily('2025-12-31')} | daily, weekly, monthly, newest |`)
    expect(summary).toContain(`| ${daily('2025-03-15')} | pinned |`)
    expect(summary).toContain(`| ${daily('2025-12-24')} | deleted |`)
    expect(summary).toContain(OLD_UNFINISHED)
    expect(summary).not.toContain('pre-deploy-')
  })

  test('pre-deploy snapshots are pruned by their own keep-within rule, leaving the scheduled ones alone', async () => {
    const files = year()
    const dir = seed(files)
    await prune(scheduled(dir).ctx)
    const { ctx } = context({ command: 'prune', storage: 'local', path: dir, name: 'app', kind: 'pre-deploy', 'keep-within': '30d' })
    const result = await prune(ctx)

    const after = listFiles(dir)
    expect(completeIds(after, 'pre-deploy')).toEqual(PRE_DEPLOY_SURVIVORS)
    expect(result.kept).toEqual(PRE_DEPLOY_SURVIVORS)
    expect(result.deleted).toHaveLength(73 - PRE_DEPLOY_SURVIVORS.length)
    expect(completeIds(after, 'scheduled')).toEqual(SCHEDULED_SURVIVORS)
  })

  test('dry-run lists what would go and deletes nothing', async () => {
    const files = year()
    const dir = seed(files)
    const before = listFiles(dir)
    const { ctx, summaries } = scheduled(dir, { 'dry-run': 'true' })
    const result = await prune(ctx)

    expect(listFiles(dir)).toEqual(before)
    expect(result.kept).toEqual(SCHEDULED_SURVIVORS)
    expect(result.deleted).toHaveLength(365 - SCHEDULED_SURVIVORS.length)
    expect(result.unfinished).toEqual([OLD_UNFINISHED])
    expect(summaries.join('\n')).toContain(`| ${daily('2025-12-24')} | would delete |`)
  })

  test('without a keep rule it refuses, naming the keep-* inputs, and deletes nothing', async () => {
    const dir = seed(year())
    const before = listFiles(dir)
    // The rule lives with the other input rules: the settings are refused before prune can run.
    expect(() => context({ command: 'prune', storage: 'local', path: dir, name: 'app', kind: 'scheduled' })).toThrow(
      /keep-last, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly, keep-within/
    )
    expect(listFiles(dir)).toEqual(before)
  })

  test('a second prune deletes nothing', async () => {
    const dir = seed(year())
    await prune(scheduled(dir).ctx)
    const between = listFiles(dir)
    const again = await prune(scheduled(dir).ctx)
    expect(again.deleted).toEqual([])
    expect(again.unfinished).toEqual([])
    expect(again.kept).toEqual(SCHEDULED_SURVIVORS)
    expect(listFiles(dir)).toEqual(between)
  })

  test('protected ids and the newest backup of the whole set are never deleted', async () => {
    const files = new Map<string, string>()
    const ids = [id('2025-06-01T02:00:00Z'), id('2025-06-02T02:00:00Z'), id('2025-06-03T02:00:00Z')]
    const newestOfSet = id('2025-06-04T02:00:00Z', 'manual')
    for (const backupId of [...ids, newestOfSet]) files.set(`app/${backupId}.manifest.json`, '{}')
    const dir = seed(files)
    // keep-last 1 keeps 06-03 ('newest' of the group); 06-01 is protected; 06-02 goes.
    const result = await prune(scheduled(dir, { 'keep-daily': '', 'keep-weekly': '', 'keep-monthly': '', 'keep-last': '1' }).ctx, { protect: [ids[0]] })
    expect(result.kept).toEqual([ids[2], ids[0]])
    expect(result.deleted).toEqual([ids[1]])
    expect(result.storages[0].decisions.find(d => d.id === ids[0])?.reasons).toEqual(['protected'])
    expect(listFiles(dir)).toEqual([ids[0], ids[2], newestOfSet].map(i => `app/${i}.manifest.json`).sort())
  })

  test('every readable storage is planned from its own listing; artifact storage is skipped', async () => {
    const files = year()
    const a = seed(files)
    // The second folder only got scheduled backups from 11-01 to 11-20 (say, its uploads stopped).
    const b = seed(new Map([...files].filter(([key]) => key.includes('-scheduled-') && key >= 'app/20251101' && key < 'app/20251121')))
    const artifact = { type: 'artifact', list: () => Promise.reject(new Error('artifact storage was read')) } as unknown as Storage
    const { ctx } = scheduled(a)
    ctx.storages = [new LocalStorage(a), artifact, new LocalStorage(b)]
    const result = await prune(ctx)

    expect(completeIds(listFiles(a), 'scheduled')).toEqual(SCHEDULED_SURVIVORS)
    // In b: daily 11-14..11-20; weekly 11-20, 11-16, 11-09 (Sun), 11-02 (Sun); monthly 11-20, and the
    // oldest, 11-01, as monthly still has slots left when the walk reaches it (restic ≥ 0.16).
    const inB = ['20', '19', '18', '17', '16', '15', '14', '09', '02', '01'].map(d => daily(`2025-11-${d}`))
    expect(completeIds(listFiles(b), 'scheduled')).toEqual(inB)
    expect(result.storages.map(s => s.location)).toEqual([join(a, 'app'), join(b, 'app')])
    expect(result.kept).toEqual([...SCHEDULED_SURVIVORS, ...inB].sort().reverse())
    expect(result.deleted).toContain(daily('2025-11-09'))
  })

  test('the prune command sets kept and deleted as JSON arrays', async () => {
    const dir = seed(year())
    const outputs = await COMMAND_RUNNERS.prune(scheduled(dir).ctx)
    expect(JSON.parse(String(outputs.kept))).toEqual(SCHEDULED_SURVIVORS)
    expect(JSON.parse(String(outputs.deleted))).toHaveLength(365 - SCHEDULED_SURVIVORS.length)
  })
})
