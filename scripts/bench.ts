/**
 * `npm run bench` (after `npm run build`): how fast and how lean are the action's backup
 * and drill on a ~1 GiB database, against bare pg_dump / pg_restore on the same machine?
 *
 * Starts a throwaway cluster and an S3 server (s3rver), generates the data, then runs
 * every case once, in one process, and prints a Markdown table. Wall times are only
 * comparable within one run (shared, noisy machine): read the ratios.
 *
 *   BENCH_SIZE_MB=100 npm run bench     # quick try (default 1024)
 */
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { PG15_BIN_DIR, startCluster, type TestCluster } from '../__tests__/helpers/postgres.js'
import { startS3, type TestS3 } from '../__tests__/helpers/s3.js'
import { createDataset, type Dataset } from './bench/data.js'
import { killRunning, measure, type Measurement, type ProcPeak } from './bench/procs.js'

const SIZE_MB = Number(process.env.BENCH_SIZE_MB ?? 1024)
const CLI = resolve('dist/cli/index.js')
const SOURCE = 'bench' // source database, and the backup set's name
const JOBS = 2
const MiB = 1024 * 1024

// The targets the action is held to.
const TARGET_BACKUP_RATIO = 0.5
const TARGET_DRILL_RATIO = 1.3
const TARGET_RSS_MB = 150

interface Row {
  label: string
  group: 'backup' | 'drill'
  /** The row the group's ratios are taken against. */
  reference?: boolean
  /** One of the action's own runs (held to the RSS target). */
  action?: boolean
  m: Measurement
  /** Bytes written (backups) or restored database size (drills). */
  outputBytes?: number
}

// Undone in reverse order on success, failure or Ctrl-C.
const cleanups: Array<() => unknown> = []

async function cleanUp(): Promise<void> {
  killRunning()
  // The helpers unref their servers, so nothing else keeps Node alive while we wait for them to stop.
  const keepAlive = setInterval(() => undefined, 1000)
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!()
    } catch (error) {
      console.error(`cleanup: ${(error as Error).message}`)
    }
  }
  clearInterval(keepAlive)
}

// ---------- helpers ----------

const log = (line: string): void => console.log(line)
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`
const rss = (peak?: ProcPeak): string => (peak ? `${(peak.kb / 1024).toFixed(0)} MB` : '—')

/** libpq environment for the bare tools: the password travels in env, as the action does it. */
function libpq(pg: TestCluster, database: string): NodeJS.ProcessEnv {
  return { ...process.env, PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: pg.user, PGPASSWORD: pg.password, PGDATABASE: database }
}

const tool = (name: string): string => join(PG15_BIN_DIR, name)

/** Fails the benchmark when a measured command failed (a fast failure is not a result). */
function check(what: string, m: Measurement): Measurement {
  if (m.code !== 0) throw new Error(`${what} exited with ${m.code}:\n${m.stderr.trim().slice(-3000)}`)
  return m
}

/** `name=value` lines the CLI prints on stdout. */
function outputs(m: Measurement): Record<string, string> {
  return Object.fromEntries(m.stdout.split('\n').filter(l => l.includes('=')).map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
}

async function cli(label: string, args: string[], env: Record<string, string>): Promise<Measurement> {
  return check(label, await measure(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } }))
}

async function databaseBytes(pg: TestCluster, database: string): Promise<number> {
  const [row] = await pg.query<{ size: string }>('postgres', 'SELECT pg_database_size($1) AS size', [database])
  return Number(row.size)
}


/**
 * Bulk-restore settings a real server would have; startCluster() keeps memory small for
 * parallel tests. Applies to bare and action restores alike.
 */
async function tune(pg: TestCluster): Promise<void> {
  await pg.query('postgres', "ALTER SYSTEM SET maintenance_work_mem = '256MB'")
  await pg.query('postgres', "ALTER SYSTEM SET max_wal_size = '4GB'")
  await pg.query('postgres', 'SELECT pg_reload_conf()')
}

/**
 * startS3() forks s3rver-process.mjs from beside its own module, which in the ncc bundle
 * is .bench/bin/. Naming the file here is what makes ncc emit it there, as an asset.
 */
const S3_LAUNCHER = resolve('__tests__/helpers/s3rver-process.mjs')

// ---------- backup cases ----------

async function bareDumpToFile(pg: TestCluster, work: string): Promise<Row> {
  const file = join(work, 'bare.dump')
  const m = check('pg_dump -Fc', await measure(tool('pg_dump'), ['-Fc', '-f', file], { env: libpq(pg, SOURCE) }))
  const outputBytes = statSync(file).size
  rmSync(file)
  return { label: 'bare `pg_dump -Fc -f file` (gzip in pg_dump)', group: 'backup', reference: true, m, outputBytes }
}

async function bareDumpToNull(pg: TestCluster): Promise<Row> {
  const devNull = openSync('/dev/null', 'w')
  try {
    const m = check('pg_dump -Fc -Z0', await measure(tool('pg_dump'), ['-Fc', '-Z0'], { env: libpq(pg, SOURCE), stdout: devNull }))
    return { label: 'bare `pg_dump -Fc -Z0 > /dev/null`', group: 'backup', m }
  } finally {
    closeSync(devNull)
  }
}

/** What the action's chain does, minus Node: the floor the action can hope for. */
async function shellPipeline(pg: TestCluster, work: string): Promise<Row> {
  const file = join(work, 'pipeline.dump.zst')
  const script = `"${tool('pg_dump')}" -Fc -Z0 | zstd -q -c -T0 -3 > "${file}"`
  const m = check('shell pipeline', await measure('/bin/bash', ['-c', `set -o pipefail; ${script}`], { env: libpq(pg, SOURCE) }))
  const outputBytes = statSync(file).size
  rmSync(file)
  return { label: 'shell `pg_dump -Fc -Z0 | zstd -T0 -3 > file` (no Node)', group: 'backup', m, outputBytes }
}

async function actionBackup(label: string, args: string[], env: Record<string, string>): Promise<Row> {
  const m = await cli(label, ['backup', '--name', SOURCE, ...args], env)
  return { label, group: 'backup', action: true, m, outputBytes: Number(outputs(m)['size-bytes']) }
}

// ---------- drill cases ----------

/** The stored .dump.zst of the one backup in a local backup folder. */
function storedArchive(folder: string): string {
  const file = readdirSync(join(folder, SOURCE)).find(f => f.endsWith('.dump.zst'))
  if (!file) throw new Error(`no .dump.zst in ${folder}/${SOURCE}`)
  return join(folder, SOURCE, file)
}

async function decompress(zst: string, work: string): Promise<{ row: Row; archive: string }> {
  const archive = join(work, 'restore.dump')
  cleanups.push(() => rmSync(archive, { force: true }))
  const m = check('zstd -d', await measure('zstd', ['-q', '-d', '-f', '-o', archive, zst]))
  return { row: { label: '  step: `zstd -d` of the stored archive to disk', group: 'drill', m, outputBytes: statSync(archive).size }, archive }
}

async function bareRestore(pg: TestCluster, archive: string): Promise<Row> {
  const target = 'drill_bare'
  await pg.createDatabase(target) // fresh and empty; goes with the cluster
  const m = check('pg_restore', await measure(tool('pg_restore'), [`--jobs=${JOBS}`, '--no-password', `--dbname=${target}`, archive], { env: libpq(pg, target) }))
  return { label: `bare \`pg_restore -j ${JOBS}\` of the decompressed archive`, group: 'drill', reference: true, m, outputBytes: await databaseBytes(pg, target) }
}

async function actionDrill(pg: TestCluster, folder: string): Promise<Row> {
  const target = 'drill_action'
  await pg.createDatabase(target) // fresh and empty; goes with the cluster
  const args = ['drill', '--storage', 'local', '--path', folder, '--name', SOURCE, '--jobs', String(JOBS)]
  const m = await cli('drill', args, { PG_BACKUP_TARGET_DATABASE_URL: pg.url(target) })
  return { label: `action drill, local (\`--jobs ${JOBS}\`)`, group: 'drill', action: true, m, outputBytes: await databaseBytes(pg, target) }
}

// ---------- report ----------

function table(rows: Row[]): string {
  const lines = [
    '| case | wall s | ratio | output size | peak RSS, largest process (name) | Node peak RSS |',
    '|---|---:|---:|---:|---|---:|'
  ]
  for (const group of ['backup', 'drill'] as const) {
    const reference = rows.find(r => r.group === group && r.reference)
    for (const row of rows.filter(r => r.group === group)) {
      const ratio = reference ? `${(row.m.seconds / reference.m.seconds).toFixed(2)}×` : '—'
      const largest = row.m.largest ? `${rss(row.m.largest)} (${row.m.largest.name})` : '—'
      const node = row.action ? rss(row.m.root) : '—'
      const size = row.outputBytes !== undefined ? mib(row.outputBytes) : '—'
      lines.push(`| ${row.label} | ${row.m.seconds.toFixed(1)} | ${ratio} | ${size} | ${largest} | ${node} |`)
    }
  }
  return lines.join('\n')
}

/** Each target as met / MISSED, with the numbers behind it. */
function verdicts(rows: Row[]): string[] {
  const ref = (group: Row['group']) => rows.find(r => r.group === group && r.reference)!.m.seconds
  const mark = (ok: boolean) => (ok ? 'met' : 'MISSED')
  const lines: string[] = []
  for (const row of rows.filter(r => r.action)) {
    const limit = row.group === 'backup' ? TARGET_BACKUP_RATIO : TARGET_DRILL_RATIO
    const ratio = row.m.seconds / ref(row.group)
    lines.push(`- ${row.label}: ${ratio.toFixed(2)}× (target ≤ ${limit}×) ${mark(ratio <= limit)}`)
  }
  const actionPeaks = rows.filter(r => r.action).map(r => ({ row: r, peak: r.m.largest! }))
  const worst = actionPeaks.sort((a, b) => b.peak.kb - a.peak.kb)[0]
  if (worst) {
    const ok = worst.peak.kb <= TARGET_RSS_MB * 1024
    lines.push(`- largest process of any action run: ${rss(worst.peak)} (${worst.peak.name}, in "${worst.row.label}") (target ≤ ${TARGET_RSS_MB} MB) ${mark(ok)}`)
  }
  return lines
}

/**
 * The processes of a run as a timeline from the 50 ms samples: overlapping processes of
 * one program are merged ("pg_restore ×3 11 MB @3.2–18.7 s"); blips under 0.1 s (version
 * probes) are only counted.
 */
function timeline(row: Row): string {
  const lived = row.m.peaks.filter(p => p.lastSeen - p.firstSeen >= 0.1 || p.pid === row.m.root?.pid)
  const groups: Array<{ name: string; count: number; kb: number; from: number; to: number }> = []
  for (const p of [...lived].sort((a, b) => a.firstSeen - b.firstSeen)) {
    const group = groups.find(g => g.name === p.name && p.firstSeen <= g.to)
    if (group) Object.assign(group, { count: group.count + 1, kb: Math.max(group.kb, p.kb), to: Math.max(group.to, p.lastSeen) })
    else groups.push({ name: p.name, count: 1, kb: p.kb, from: p.firstSeen, to: p.lastSeen })
  }
  const parts = groups.map(g => `${g.name}${g.count > 1 ? ` ×${g.count}` : ''} ${(g.kb / 1024).toFixed(0)} MB @${g.from.toFixed(1)}–${g.to.toFixed(1)} s`)
  const blips = row.m.peaks.length - lived.length
  return parts.join(', ') + (blips > 0 ? ` (+${blips} short-lived)` : '')
}

function printDataset(data: Dataset): void {
  log(`\nData: database "${data.database}", pg_database_size ${mib(data.bytes)}; rows: ` +
    Object.entries(data.rows).map(([t, n]) => `${t} ${n.toLocaleString('en-US')}`).join(', ') +
    ` (generated in ${data.generateSeconds.toFixed(0)} s)`)
}

// ---------- main ----------

async function main(): Promise<void> {
  if (!statSync(CLI, { throwIfNoEntry: false })) throw new Error(`${CLI} not found: run npm run build first`)
  if (!(SIZE_MB > 0)) throw new Error(`BENCH_SIZE_MB must be a positive number, not ${process.env.BENCH_SIZE_MB}`)
  const work = mkdtempSync(join(tmpdir(), 'pg-bench-'))
  cleanups.push(() => rmSync(work, { recursive: true, force: true }))

  log('Starting a throwaway PostgreSQL cluster and S3 server…')
  const pg = await startCluster()
  cleanups.push(() => pg.stop())
  if (!existsSync(S3_LAUNCHER)) throw new Error(`${S3_LAUNCHER} is missing: build with npm run bench`)
  const s3: TestS3 = await startS3()
  cleanups.push(() => s3.stop())
  await tune(pg)

  log(`Generating ~${SIZE_MB} MiB of data…`)
  const data = await createDataset(pg, SOURCE, SIZE_MB, log)
  printDataset(data)

  const source = { PG_BACKUP_DATABASE_URL: pg.url(SOURCE) }
  const folder = (name: string) => {
    const dir = join(work, name)
    mkdirSync(dir)
    return dir
  }
  const plainFolder = folder('local')
  let s3Requests = 0
  const s3Args = ['--storage', 's3', '--s3-bucket', s3.bucket, '--s3-endpoint', s3.endpoint, '--verify', 'false']
  // Each case is logged as it starts: at 1 GiB the whole run takes minutes.
  const steps: Array<[string, () => Promise<Row>]> = [
    ['bare pg_dump -Fc', () => bareDumpToFile(pg, work)],
    ['bare pg_dump -Fc -Z0', () => bareDumpToNull(pg)],
    ['shell pipeline', () => shellPipeline(pg, work)],
    ['action backup, local', () => actionBackup('action backup, local, `--verify false`', ['--storage', 'local', '--path', plainFolder, '--verify', 'false'], source)],
    ['action backup, local, verify', () => actionBackup('action backup, local, `--verify true`', ['--storage', 'local', '--path', folder('verified'), '--verify', 'true'], source)],
    ['action backup, local, encrypted', () => actionBackup('action backup, local, encrypted, `--verify false`', ['--storage', 'local', '--path', folder('encrypted'), '--verify', 'false'], { ...source, PG_BACKUP_ENCRYPTION_PASSPHRASE: 'bench passphrase' })],
    ['action backup, s3', async () => {
      const before = s3.requestCount()
      const row = await actionBackup('action backup, S3 (s3rver), `--verify false`', s3Args, { ...source, ...s3.env })
      s3Requests = s3.requestCount() - before
      return row
    }]
  ]
  const rows: Row[] = []
  for (const [what, run] of steps) {
    log(`Running: ${what}`)
    rows.push(await run())
  }

  log('Running: drill cases')
  const { row: unzst, archive } = await decompress(storedArchive(plainFolder), work)
  rows.push(await bareRestore(pg, archive))
  rows.push(unzst)
  rows.push(await actionDrill(pg, plainFolder))
  const drillOut = outputs(rows[rows.length - 1].m)

  // The action counts rows inside the dump's snapshot, concurrently with pg_dump; time that alone.
  const countStart = Date.now()
  await pg.query(SOURCE, 'SELECT (SELECT count(*) FROM ONLY accounts), (SELECT count(*) FROM ONLY events)')
  const countSeconds = (Date.now() - countStart) / 1000

  log(`\n## pg-backup-action benchmark (BENCH_SIZE_MB=${SIZE_MB}, ${new Date().toISOString()})`)
  printDataset(data)
  log('')
  log(table(rows))
  log('\nRatios: backup rows against bare `pg_dump -Fc`, drill rows against bare `pg_restore -j 2`.')
  log('\nTargets:')
  for (const line of verdicts(rows)) log(line)
  log('\nDetail:')
  const plainBackup = rows.find(r => r.label.startsWith('action backup, local, `--verify false`'))!
  log(`- compression: ${mib(unzst.outputBytes!)} uncompressed archive → ${mib(plainBackup.outputBytes!)} zstd (${(unzst.outputBytes! / plainBackup.outputBytes!).toFixed(1)}×)`)
  log(`- count(*) of every table alone (the action runs it beside pg_dump): ${countSeconds.toFixed(1)} s`)
  log(`- drill: restore-seconds output ${drillOut['restore-seconds']} s (download + decompress + pg_restore) of ${rows[rows.length - 1].m.seconds.toFixed(1)} s wall`)
  log(`- S3 requests made by the S3 backup: ${s3Requests}`)
  for (const row of rows) log(`- processes in "${row.label.trim()}": ${timeline(row)}`)
}

process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)))
process.once('SIGTERM', () => void cleanUp().finally(() => process.exit(143)))

main()
  .catch(error => {
    console.error(`bench failed: ${(error as Error).message}`)
    process.exitCode = 1
  })
  .finally(() => cleanUp())
