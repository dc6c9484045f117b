/**
 * `npm run bench` (after `npm run build`): how fast and how lean are the action's backup
 * and drill on a ~1 GiB database, against bare pg_dump / pg_restore on the same machine?
 *
 * Starts a throwaway cluster and an S3 server (s3rver), generates the data, then runs
 * every case (once per round), in one process, and prints a Markdown table. Wall times
 * are only comparable within one run (shared, noisy machine): read the ratios.
 *
 *   BENCH_SIZE_MB=100 npm run bench     # quick try (default 1024)
 *   BENCH_ROUNDS=3 npm run bench        # medians of 3 interleaved rounds (default 1)
 *   BENCH_CLI=/path/to/cli/index.js     # another build of the CLI (default dist/cli/index.js)
 */
import { execFileSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { PG15_BIN_DIR, startCluster, type TestCluster } from '../__tests__/helpers/postgres.js'
import { startS3, type TestS3 } from '../__tests__/helpers/s3.js'
import { generateKeyPair } from '../src/pipeline/age.js'
import { createDataset, type Dataset } from './bench/data.js'
import { killRunning, measure, type Measurement, type ProcPeak } from './bench/procs.js'

const SIZE_MB = Number(process.env.BENCH_SIZE_MB ?? 1024)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1)
const CLI = resolve(process.env.BENCH_CLI ?? 'dist/cli/index.js')
const SOURCE = 'bench' // source database, and the backup set's name
const JOBS = 2
const MiB = 1024 * 1024

// The targets the action is held to.
const TARGET_BACKUP_RATIO = 0.5
const TARGET_DRILL_RATIO = 1.3
const TARGET_RSS_MB = 150
/** Encrypting to age public keys against the gpg passphrase, same run, same rounds. */
const TARGET_AGE_RATIO = 1.1

/** What one round's cases share: the servers, the round's own folder, what earlier cases left for later ones. */
interface Round {
  n: number
  pg: TestCluster
  s3: TestS3
  dir: string
  /** The action's unencrypted local backups (the drill reads the one made this round). */
  localFolder: string
  /** The decompressed archive, for the bare restore. */
  archive?: string
  /** Scratch databases made this round (dropped at its end, if a failure left them). */
  databases: string[]
}

/** One measured run of a case. */
interface Sample {
  m: Measurement
  /** Bytes written (backups) or restored database size (drills). */
  outputBytes?: number
  /** Anything else worth a line under the table. */
  note?: string
}

interface Case {
  label: string
  group: 'backup' | 'drill'
  /** The case the group's ratios are taken against. */
  reference?: boolean
  /** One of the action's own runs (held to the RSS target). */
  action?: boolean
  run(round: Round): Promise<Sample>
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
  return Object.fromEntries(
    m.stdout
      .split('\n')
      .filter(l => l.includes('='))
      .map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])
  )
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

async function bareDumpToFile(r: Round): Promise<Sample> {
  const file = join(r.dir, 'bare.dump')
  const m = check('pg_dump -Fc', await measure(tool('pg_dump'), ['-Fc', '-f', file], { env: libpq(r.pg, SOURCE) }))
  const outputBytes = statSync(file).size
  rmSync(file)
  return { m, outputBytes }
}

async function bareDumpToNull(r: Round): Promise<Sample> {
  const devNull = openSync('/dev/null', 'w')
  try {
    return { m: check('pg_dump -Fc -Z0', await measure(tool('pg_dump'), ['-Fc', '-Z0'], { env: libpq(r.pg, SOURCE), stdout: devNull })) }
  } finally {
    closeSync(devNull)
  }
}

/** What the action's chain does, minus Node: the floor the action can hope for. */
async function shellPipeline(r: Round): Promise<Sample> {
  const file = join(r.dir, 'pipeline.dump.zst')
  const script = `"${tool('pg_dump')}" -Fc -Z0 | zstd -q -c -T0 -3 > "${file}"`
  const m = check('shell pipeline', await measure('/bin/bash', ['-c', `set -o pipefail; ${script}`], { env: libpq(r.pg, SOURCE) }))
  const outputBytes = statSync(file).size
  rmSync(file)
  return { m, outputBytes }
}

async function actionBackup(args: string[], env: Record<string, string>): Promise<Sample> {
  const m = await cli('backup', ['backup', '--name', SOURCE, ...args], env)
  return { m, outputBytes: Number(outputs(m)['size-bytes']) }
}

function folder(r: Round, name: string): string {
  const dir = join(r.dir, name)
  mkdirSync(dir, { recursive: true })
  return dir
}

const source = (r: Round) => ({ PG_BACKUP_DATABASE_URL: r.pg.url(SOURCE) })

async function actionBackupS3(r: Round): Promise<Sample> {
  const before = r.s3.requestCount()
  const args = ['--storage', 's3', '--s3-bucket', r.s3.bucket, '--s3-endpoint', r.s3.endpoint, '--s3-prefix', `round-${r.n}`, '--verify', 'false']
  const sample = await actionBackup(args, { ...source(r), ...r.s3.env })
  return { ...sample, note: `${r.s3.requestCount() - before} S3 requests` }
}

// ---------- drill cases ----------

/** The stored .dump.zst of the one backup in a local backup folder. */
function storedArchive(dir: string): string {
  const file = readdirSync(join(dir, SOURCE)).find(f => f.endsWith('.dump.zst'))
  if (!file) throw new Error(`no .dump.zst in ${dir}/${SOURCE}`)
  return join(dir, SOURCE, file)
}

/** The drill's first step done by hand, and the plain archive the bare restore needs. */
async function decompress(r: Round): Promise<Sample> {
  r.archive = join(r.dir, 'restore.dump')
  const m = check('zstd -d', await measure('zstd', ['-q', '-d', '-f', '-o', r.archive, storedArchive(r.localFolder)]))
  return { m, outputBytes: statSync(r.archive).size }
}

/**
 * Restores into a fresh, empty database, then measures and drops it: left in place,
 * autovacuum would ANALYZE its new tables during the next case (on 2 cores, that shows).
 */
async function intoScratchDatabase(r: Round, name: string, restore: (database: string) => Promise<Sample>): Promise<Sample> {
  const database = `${name}_${r.n}`
  await r.pg.createDatabase(database)
  r.databases.push(database)
  const sample = await restore(database)
  const outputBytes = await databaseBytes(r.pg, database)
  await r.pg.query('postgres', `DROP DATABASE ${database}`)
  return { ...sample, outputBytes }
}

async function bareRestore(r: Round): Promise<Sample> {
  return intoScratchDatabase(r, 'drill_bare', async target => ({
    m: check(
      'pg_restore',
      await measure(tool('pg_restore'), [`--jobs=${JOBS}`, '--no-password', `--dbname=${target}`, r.archive!], { env: libpq(r.pg, target) })
    )
  }))
}

async function actionDrill(r: Round): Promise<Sample> {
  const args = ['drill', '--storage', 'local', '--path', r.localFolder, '--name', SOURCE, '--jobs', String(JOBS)]
  return intoScratchDatabase(r, 'drill_action', async target => {
    const m = await cli('drill', args, { PG_BACKUP_TARGET_DATABASE_URL: r.pg.url(target) })
    return { m, note: `restore-seconds output ${outputs(m)['restore-seconds']} s (decompress to disk + pg_restore)` }
  })
}

/** Every case, in the order each round runs them (the drill reads the first action backup). */
const CASES: Case[] = [
  { label: 'bare `pg_dump -Fc -f file` (gzip in pg_dump)', group: 'backup', reference: true, run: bareDumpToFile },
  { label: 'bare `pg_dump -Fc -Z0 > /dev/null`', group: 'backup', run: bareDumpToNull },
  { label: 'shell `pg_dump -Fc -Z0 | zstd -T0 -3 > file` (no Node)', group: 'backup', run: shellPipeline },
  {
    label: 'action backup, local, `--verify false`',
    group: 'backup',
    action: true,
    run: r => actionBackup(['--storage', 'local', '--path', r.localFolder, '--verify', 'false'], source(r))
  },
  {
    label: 'action backup, local, `--verify true`',
    group: 'backup',
    action: true,
    run: r => actionBackup(['--storage', 'local', '--path', folder(r, 'verified'), '--verify', 'true'], source(r))
  },
  {
    label: 'action backup, local, encrypted, `--verify false`',
    group: 'backup',
    action: true,
    run: r =>
      actionBackup(['--storage', 'local', '--path', folder(r, 'encrypted'), '--verify', 'false'], {
        ...source(r),
        PG_BACKUP_ENCRYPTION_PASSPHRASE: 'bench passphrase'
      })
  },
  {
    // Right after the passphrase case, so the two share the machine's load; compared in the verdicts.
    label: 'action backup, local, age public key, `--verify false`',
    group: 'backup',
    action: true,
    run: async r =>
      actionBackup(['--storage', 'local', '--path', folder(r, 'age'), '--verify', 'false'], {
        ...source(r),
        PG_BACKUP_ENCRYPTION_PUBLIC_KEYS: (await generateKeyPair(new Date())).recipient
      })
  },
  {
    // Every events row once more, as CSV through the same zstd: what an export costs beside the dump, and that memory stays flat.
    label: 'action backup, local, + `exports: events` (every row as CSV), `--verify false`',
    group: 'backup',
    action: true,
    run: r => actionBackup(['--storage', 'local', '--path', folder(r, 'exports'), '--verify', 'false', '--exports', 'events: SELECT * FROM events'], source(r))
  },
  { label: 'action backup, S3 (s3rver), `--verify false`', group: 'backup', action: true, run: actionBackupS3 },
  { label: 'step: `zstd -d` of the stored archive to disk', group: 'drill', run: decompress },
  { label: `bare \`pg_restore -j ${JOBS}\` of that archive`, group: 'drill', reference: true, run: bareRestore },
  { label: `action drill, local (\`--jobs ${JOBS}\`)`, group: 'drill', action: true, run: actionDrill }
]

// ---------- report ----------

/** A case with its samples, one per round. */
interface Row extends Case {
  samples: Sample[]
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Median of the per-round ratios: each pair ran minutes apart at most, under the same load. */
function ratio(row: Row, rows: Row[]): number | undefined {
  const reference = rows.find(r => r.group === row.group && r.reference)
  return reference && median(row.samples.map((s, i) => s.m.seconds / reference.samples[i].m.seconds))
}

function wall(row: Row): string {
  const seconds = row.samples.map(s => s.m.seconds)
  const spread = seconds.length > 1 ? ` (${Math.min(...seconds).toFixed(1)}–${Math.max(...seconds).toFixed(1)})` : ''
  return `${median(seconds).toFixed(1)}${spread}`
}

const largest = (row: Row): ProcPeak | undefined =>
  row.samples
    .map(s => s.m.largest)
    .filter((p): p is ProcPeak => p !== undefined)
    .sort((a, b) => b.kb - a.kb)[0]
const nodePeak = (row: Row): ProcPeak | undefined =>
  row.samples
    .map(s => s.m.root)
    .filter((p): p is ProcPeak => p !== undefined)
    .sort((a, b) => b.kb - a.kb)[0]

function table(rows: Row[]): string {
  const lines = [
    `| case | wall s${ROUNDS > 1 ? ', median (min–max)' : ''} | ratio | output size | peak RSS, largest process (name) | Node peak RSS |`,
    '|---|---:|---:|---:|---|---:|'
  ]
  for (const row of rows) {
    const r = ratio(row, rows)
    const big = largest(row)
    const output = row.samples[row.samples.length - 1].outputBytes
    lines.push(
      `| ${row.label} | ${wall(row)} | ${r === undefined ? '—' : `${r.toFixed(2)}×`} | ${output === undefined ? '—' : mib(output)} | ` +
        `${big ? `${rss(big)} (${big.name})` : '—'} | ${row.action ? rss(nodePeak(row)) : '—'} |`
    )
  }
  return lines.join('\n')
}

/** Each target as met / MISSED, with the numbers behind it. */
function verdicts(rows: Row[]): string[] {
  const mark = (ok: boolean) => (ok ? 'met' : 'MISSED')
  const lines: string[] = []
  for (const row of rows.filter(r => r.action)) {
    const limit = row.group === 'backup' ? TARGET_BACKUP_RATIO : TARGET_DRILL_RATIO
    const r = ratio(row, rows)!
    lines.push(`- ${row.label}: ${r.toFixed(2)}× (target ≤ ${limit}×) ${mark(r <= limit)}`)
  }
  const gpg = rows.find(r => r.label.includes('encrypted'))
  const age = rows.find(r => r.label.includes('age public key'))
  if (gpg && age) {
    const r = median(age.samples.map((s, i) => s.m.seconds / gpg.samples[i].m.seconds))
    lines.push(`- age public key against gpg passphrase backup: ${r.toFixed(2)}× (target ≤ ${TARGET_AGE_RATIO}×) ${mark(r <= TARGET_AGE_RATIO)}`)
  }
  const worst = rows
    .filter(r => r.action)
    .map(r => ({ row: r, peak: largest(r)! }))
    .sort((a, b) => b.peak.kb - a.peak.kb)[0]
  if (worst) {
    const ok = worst.peak.kb <= TARGET_RSS_MB * 1024
    lines.push(
      `- largest process of any action run: ${rss(worst.peak)} (${worst.peak.name}, in "${worst.row.label}") (target ≤ ${TARGET_RSS_MB} MB) ${mark(ok)}`
    )
  }
  return lines
}

/**
 * The processes of a run as a timeline from the 50 ms samples: overlapping processes of
 * one program are merged ("pg_restore ×3 11 MB @3.2–18.7 s"); blips under 0.1 s (version
 * probes) are only counted.
 */
function timeline(m: Measurement): string {
  const lived = m.peaks.filter(p => p.lastSeen - p.firstSeen >= 0.1 || p.pid === m.root?.pid)
  const groups: Array<{ name: string; count: number; kb: number; from: number; to: number }> = []
  for (const p of [...lived].sort((a, b) => a.firstSeen - b.firstSeen)) {
    const group = groups.find(g => g.name === p.name && p.firstSeen <= g.to)
    if (group) Object.assign(group, { count: group.count + 1, kb: Math.max(group.kb, p.kb), to: Math.max(group.to, p.lastSeen) })
    else groups.push({ name: p.name, count: 1, kb: p.kb, from: p.firstSeen, to: p.lastSeen })
  }
  const parts = groups.map(g => `${g.name}${g.count > 1 ? ` ×${g.count}` : ''} ${(g.kb / 1024).toFixed(0)} MB @${g.from.toFixed(1)}–${g.to.toFixed(1)} s`)
  const blips = m.peaks.length - lived.length
  return parts.join(', ') + (blips > 0 ? ` (+${blips} short-lived)` : '')
}

function printDataset(data: Dataset): void {
  log(
    `\nData: database "${data.database}", pg_database_size ${mib(data.bytes)}; rows: ` +
      Object.entries(data.rows)
        .map(([t, n]) => `${t} ${n.toLocaleString('en-US')}`)
        .join(', ') +
      ` (generated in ${data.generateSeconds.toFixed(0)} s)`
  )
}

// ---------- main ----------

/**
 * Starts each case from a quiet disk: the previous case's dirty buffers checkpointed and
 * the kernel's writeback done, instead of flushing ~1 GiB during the next measurement.
 */
async function settle(pg: TestCluster): Promise<void> {
  await pg.query('postgres', 'CHECKPOINT')
  execFileSync('sync')
}

/** Runs every case once; drops the round's databases and files afterwards. */
async function runRound(base: Omit<Round, 'dir' | 'localFolder' | 'databases'>, work: string): Promise<Sample[]> {
  const dir = join(work, `round-${base.n}`)
  const round: Round = { ...base, dir, localFolder: join(dir, 'local'), databases: [] }
  mkdirSync(round.localFolder, { recursive: true })
  try {
    const samples: Sample[] = []
    for (const c of CASES) {
      log(`  round ${round.n}: ${c.label}`)
      await settle(round.pg)
      samples.push(await c.run(round))
    }
    return samples
  } finally {
    // On failure a restore may still hold a connection; stopping the cluster removes the database anyway.
    for (const database of round.databases) await round.pg.query('postgres', `DROP DATABASE IF EXISTS ${database}`).catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  if (!statSync(CLI, { throwIfNoEntry: false })) throw new Error(`${CLI} not found: run npm run build first`)
  if (!(SIZE_MB > 0)) throw new Error(`BENCH_SIZE_MB must be a positive number, not ${process.env.BENCH_SIZE_MB}`)
  if (!(ROUNDS >= 1)) throw new Error(`BENCH_ROUNDS must be 1 or more, not ${process.env.BENCH_ROUNDS}`)
  const work = mkdtempSync(join(tmpdir(), 'pg-bench-'))
  cleanups.push(() => rmSync(work, { recursive: true, force: true }))

  log('Starting a throwaway PostgreSQL cluster and S3 server…')
  const pg = await startCluster()
  cleanups.push(() => pg.stop())
  if (!existsSync(S3_LAUNCHER)) throw new Error(`${S3_LAUNCHER} is missing: build with npm run bench`)
  const s3 = await startS3()
  cleanups.push(() => s3.stop())
  await tune(pg)

  log(`Generating ~${SIZE_MB} MiB of data…`)
  const data = await createDataset(pg, SOURCE, SIZE_MB, log)
  printDataset(data)

  // Rounds run the cases in turn rather than each case N times, so a burst of load on the
  // shared machine hits one round, not every sample of one case.
  const rows: Row[] = CASES.map(c => ({ ...c, samples: [] }))
  for (let n = 1; n <= ROUNDS; n++) {
    const samples = await runRound({ n, pg, s3 }, work)
    samples.forEach((sample, i) => rows[i].samples.push(sample))
  }

  // The action counts rows inside the dump's snapshot, concurrently with pg_dump; time that alone.
  const countStart = Date.now()
  await pg.query(SOURCE, 'SELECT (SELECT count(*) FROM ONLY accounts), (SELECT count(*) FROM ONLY events)')
  const countSeconds = (Date.now() - countStart) / 1000

  log(`\n## pg-backup-action benchmark (BENCH_SIZE_MB=${SIZE_MB}, BENCH_ROUNDS=${ROUNDS}, ${new Date().toISOString()})`)
  printDataset(data)
  log('')
  log(table(rows))
  log(
    `\nRatios: backup rows against bare \`pg_dump -Fc\`, drill rows against bare \`pg_restore -j ${JOBS}\`${ROUNDS > 1 ? ' (median of the per-round ratios)' : ''}.`
  )
  log('\nTargets:')
  for (const line of verdicts(rows)) log(line)
  log('\nDetail (processes: last round):')
  const archiveBytes = rows.find(r => r.run === decompress)!.samples[0].outputBytes!
  const zstBytes = rows.find(r => r.action)!.samples[0].outputBytes!
  log(`- compression: ${mib(archiveBytes)} uncompressed archive → ${mib(zstBytes)} zstd (${(archiveBytes / zstBytes).toFixed(1)}×)`)
  log(`- count(*) of every table alone (the action runs it beside pg_dump): ${countSeconds.toFixed(1)} s`)
  for (const row of rows) {
    const last = row.samples[row.samples.length - 1]
    const notes = [...new Set(row.samples.map(s => s.note).filter(Boolean))]
    log(`- ${row.label}: ${timeline(last.m)}${notes.length > 0 ? `; ${notes.join(' | ')}` : ''}`)
  }
}

process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)))
process.once('SIGTERM', () => void cleanUp().finally(() => process.exit(143)))

main()
  .catch(error => {
    console.error(`bench failed: ${(error as Error).message}`)
    process.exitCode = 1
  })
  .finally(() => cleanUp())
