import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readExports } from '../src/inputs.js'
import { expectNoSecrets, runAction } from './helpers/action.js'
import { PG15_BIN_DIR, type TestCluster } from './helpers/postgres.js'
import { decode, restoreInto } from './helpers/restore-by-hand.js'
import { startShop } from './helpers/sample.js'

const PASSPHRASE = 'exports passphrase'

describe('backup with exports', () => {
  let pg: TestCluster
  let dir: string
  let binDir: string
  beforeAll(async () => {
    pg = await startShop()
    dir = mkdtempSync(join(tmpdir(), 'pgb-exports-'))
    // pg_dump that first commits a new order: after the snapshot was exported, before the dump and the exports read.
    binDir = join(dir, 'bin')
    mkdirSync(binDir)
    for (const tool of ['pg_dumpall', 'pg_restore', 'psql']) symlinkSync(join(PG15_BIN_DIR, tool), join(binDir, tool))
    writeFileSync(
      join(binDir, 'pg_dump'),
      `#!/bin/sh
case "$1" in --version) exec ${PG15_BIN_DIR}/pg_dump "$@";; esac
if [ -f ${dir}/late-order ]; then
  ${PG15_BIN_DIR}/psql -X -q "$(cat ${dir}/late-order)" -c "INSERT INTO public.orders (customer_id, amount, placed_at, note) VALUES (1, 4242, now(), 'late')" >/dev/null || exit 9
fi
exec ${PG15_BIN_DIR}/pg_dump "$@"
`
    )
    chmodSync(join(binDir, 'pg_dump'), 0o755)
  })
  afterAll(async () => {
    await pg?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  const EXPORTS = `customers: SELECT id, email, name, profile, tags FROM public.customers ORDER BY id
orders:
  SELECT o.id, o.customer_id, o.status, o.amount, o.note
  FROM public.orders o
  ORDER BY o.id`

  const backup = (path: string, extra: Record<string, string> = {}) =>
    runAction({
      'database-url': pg.url('shop'),
      storage: 'local',
      path,
      'pg-bin-dir': binDir,
      'encryption-passphrase': PASSPHRASE,
      exports: EXPORTS,
      ...extra
    })

  test('CSV in the dump’s snapshot: restored by hand, they equal the query on the restored dump; a row written after the snapshot is in neither', async () => {
    const path = join(dir, 'store')
    writeFileSync(join(dir, 'late-order'), pg.url('shop'))
    const run = await backup(path)
    rmSync(join(dir, 'late-order'))
    expect(run.failure).toBeUndefined()
    expect(run.outputs.verified).toBe('true')
    expectNoSecrets([run.log, JSON.stringify(run.outputs)], [pg.password, encodeURIComponent(pg.password), PASSPHRASE])
    const late = await pg.query<{ n: string }>('shop', "SELECT count(*) AS n FROM public.orders WHERE note = 'late'")
    expect(late[0].n).toBe('1')

    const id = run.outputs['backup-id']
    const setDir = join(path, 'shop')
    const manifest = JSON.parse(readFileSync(join(setDir, `${id}.manifest.json`), 'utf8'))
    const exports = manifest.objects.filter((o: { role: string }) => o.role === 'export')
    expect(exports.map((o: { file: string; export: unknown }) => [o.file, o.export])).toEqual([
      [`${id}.export.customers.csv.zst.gpg`, { name: 'customers', rows: 1000 }],
      [`${id}.export.orders.csv.zst.gpg`, { name: 'orders', rows: expect.any(Number) }]
    ])
    expect(JSON.parse(run.outputs.exports)).toEqual([
      { name: 'customers', rows: 1000, location: join(setDir, `${id}.export.customers.csv.zst.gpg`) },
      { name: 'orders', rows: exports[1].export.rows, location: join(setDir, `${id}.export.orders.csv.zst.gpg`) }
    ])
    // Listed in the checksum file, checked by sha256sum; the summary lists them.
    execFileSync('sha256sum', ['-c', `${id}.sha256`], { cwd: setDir })
    expect(readFileSync(join(setDir, `${id}.sha256`), 'utf8')).toContain(`${id}.export.orders.csv.zst.gpg`)
    expect(run.summary).toContain('### CSV exports')

    // The dump restored by hand is the source at the snapshot; the same queries there give the same bytes.
    await restoreInto(pg, 'at_snapshot', decode(join(setDir, `${id}.dump.zst.gpg`), 'zstd', PASSPHRASE), 'custom')
    const env = { ...process.env, PGPASSWORD: pg.password }
    const copy = (sql: string) =>
      execFileSync(
        join(PG15_BIN_DIR, 'psql'),
        ['-X', '-q', '-h', pg.host, '-p', String(pg.port), '-U', 'postgres', '-d', 'at_snapshot', '-c', `COPY (${sql}) TO STDOUT WITH (FORMAT csv, HEADER)`],
        {
          env,
          maxBuffer: 1 << 28
        }
      ).toString()
    for (const e of readExports(EXPORTS)) {
      const csv = decode(join(setDir, `${id}.export.${e.name}.csv.zst.gpg`), 'zstd', PASSPHRASE).toString()
      expect(csv).toBe(copy(e.sql))
    }
    const orders = decode(join(setDir, `${id}.export.orders.csv.zst.gpg`), 'zstd', PASSPHRASE).toString()
    expect(orders.split('\n')[0]).toBe('id,customer_id,status,amount,note')
    expect(orders).not.toContain('late')
    expect(manifest.tables.find((t: { table: string }) => t.table === 'orders').rows).toBe(exports[1].export.rows)
  })

  test.each([
    ['a query the server refuses', 'bad: SELECT nope FROM public.customers', /^Export "bad" failed: column "nope" does not exist$/],
    [
      'a query that would write',
      'purge:\n  WITH gone AS (DELETE FROM public.customers WHERE id > 0 RETURNING id)\n  SELECT id FROM gone',
      /^Export "purge" failed: .*read-only transaction \(exports run in a read-only transaction: give a query that only reads\)$/
    ]
  ])('%s fails the backup, naming it; nothing is published, nothing changed', async (_what, exports, message) => {
    const path = join(dir, `fail-${readdirSync(dir).length}`)
    const run = await backup(path, { exports: `customers: SELECT id FROM public.customers\n${exports}` })
    expect(run.failure).toMatch(message)
    expect(existsSync(join(path, 'shop')) ? readdirSync(join(path, 'shop')) : []).toEqual([])
    const customers = await pg.query<{ n: string }>('shop', 'SELECT count(*) AS n FROM public.customers')
    expect(customers[0].n).toBe('1000')
  })

  test('exports-name: a set of their own (same id), verified there; the dump’s set holds no CSV', async () => {
    const path = join(dir, 'apart')
    const run = await backup(path, { 'exports-name': 'shop-exports' })
    expect(run.failure).toBeUndefined()
    const id = run.outputs['backup-id']
    expect(readdirSync(join(path, 'shop')).filter(f => f.includes('.export.'))).toEqual([])
    const main = JSON.parse(readFileSync(join(path, 'shop', `${id}.manifest.json`), 'utf8'))
    expect(main.objects.map((o: { role: string }) => o.role)).toEqual(['data'])
    const apart = JSON.parse(readFileSync(join(path, 'shop-exports', `${id}.manifest.json`), 'utf8'))
    expect(apart.objects.map((o: { export: { name: string } }) => o.export.name)).toEqual(['customers', 'orders'])
    execFileSync('sha256sum', ['-c', `${id}.sha256`], { cwd: join(path, 'shop-exports') })

    const verify = await runAction({ command: 'verify', name: 'shop-exports', storage: 'local', path, 'encryption-passphrase': PASSPHRASE })
    expect(verify.failure).toBeUndefined()
    expect(verify.summary).toMatch(/export customers \| ✅ pass \| 1000 rows/)

    // A row count that does not match the file is caught.
    apart.objects[0].export.rows = 999
    writeFileSync(join(path, 'shop-exports', `${id}.manifest.json`), JSON.stringify(apart))
    const tampered = await runAction({ command: 'verify', name: 'shop-exports', storage: 'local', path, 'encryption-passphrase': PASSPHRASE })
    expect(tampered.failure).toMatch(/export customers: .*holds 1000 rows, the manifest says 999/)

    const drill = await runAction({
      command: 'drill',
      name: 'shop-exports',
      storage: 'local',
      path,
      'encryption-passphrase': PASSPHRASE,
      'target-database-url': pg.url('postgres')
    })
    expect(drill.failure).toMatch(/holds only CSV exports/)
  })

  test('exports-storage sharing a storage with the dump needs exports-name', async () => {
    const run = await backup(join(dir, 'clash'), { 'exports-storage': 'local' })
    expect(run.failure).toMatch(/^Input "exports-storage": shares local with storage/)
  })
})
