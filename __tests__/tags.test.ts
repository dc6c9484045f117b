/** Tags end to end: recorded by backup, shown by verify and monitor, kept by keep-tag in a prune. */
import { afterAll, beforeAll, expect, test } from '@jest/globals'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAction } from './helpers/action.js'
import type { TestCluster } from './helpers/postgres.js'
import { startShop } from './helpers/sample.js'

let pg: TestCluster
let dir: string
const ids: string[] = []
const at = (iso: string) => () => new Date(iso)

beforeAll(async () => {
  pg = await startShop()
  dir = mkdtempSync(join(tmpdir(), 'pgb-tags-'))
  // Oldest first: untagged, tagged for a migration, untagged, tagged as a release (the newest).
  for (const [day, tags] of [
    ['2026-03-01', ''],
    ['2026-03-02', 'pre-migration, release-v2.3'],
    ['2026-03-03', ''],
    ['2026-03-04', 'release-v2.4']
  ]) {
    const run = await runAction({ storage: 'local', path: dir, 'database-url': pg.url('shop'), kind: 'scheduled', tags }, {}, at(`${day}T02:00:00Z`))
    expect(run.failure).toBeUndefined()
    ids.push(run.outputs['backup-id'])
  }
})

afterAll(async () => {
  await pg?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const manifest = (id: string) => JSON.parse(readFileSync(join(dir, 'shop', `${id}.manifest.json`), 'utf8'))
const stored = () =>
  readdirSync(join(dir, 'shop'))
    .filter(f => f.endsWith('.manifest.json'))
    .map(f => f.replace('.manifest.json', ''))
    .sort()

test('backup records its tags in the manifest, and only when given', () => {
  expect(manifest(ids[0])).not.toHaveProperty('tags')
  expect(manifest(ids[1]).tags).toEqual(['pre-migration', 'release-v2.3'])
  expect(manifest(ids[3]).tags).toEqual(['release-v2.4'])
})

test('verify and monitor show the tags', async () => {
  const verified = await runAction({ command: 'verify', storage: 'local', path: dir, name: 'shop', backup: ids[1] })
  expect(verified.failure).toBeUndefined()
  expect(verified.summary).toContain('Tags: `pre-migration`, `release-v2.3`')
  const monitored = await runAction({ command: 'monitor', storage: 'local', path: dir, name: 'shop', 'max-age': '1d' }, {}, at('2026-03-04T03:00:00Z'))
  expect(monitored.failure).toBeUndefined()
  expect(monitored.summary).toContain(`${ids[3]} is 1 h 0 min old (limit 24 h 0 min); tags \`release-v2.4\``)
})

test('keep-tag keeps every backup carrying all tags of a line; the others go by the count rules', async () => {
  const prune = (keepTag: string) =>
    runAction({ command: 'prune', storage: 'local', path: dir, name: 'shop', 'keep-last': '1', 'keep-tag': keepTag, 'dry-run': 'true' })
  // Both tags of one line are needed: ids[1] has them, ids[3] has only one release tag.
  const both = await prune('pre-migration,release-v2.3')
  expect(JSON.parse(both.outputs.kept)).toEqual([ids[3], ids[1]])
  const notTogether = await prune('pre-migration,release-v2.4')
  expect(JSON.parse(notTogether.outputs.kept)).toEqual([ids[3]])
  // One line or another: either list keeps.
  const either = await prune('audit\nrelease-v2.3')
  expect(JSON.parse(either.outputs.kept)).toEqual([ids[3], ids[1]])

  const real = await runAction({ command: 'prune', storage: 'local', path: dir, name: 'shop', 'keep-last': '1', 'keep-tag': 'pre-migration' })
  expect(real.failure).toBeUndefined()
  expect(real.summary).toContain(`| ${ids[1]} | tag |`)
  expect(stored()).toEqual([ids[1], ids[3]])
})
