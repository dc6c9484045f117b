import { execFile } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import { BackupError } from '../errors.js'

const execFileAsync = promisify(execFile)

export interface ClientTools {
  dir: string
  major: number
  version: string
  /** Path of a tool (pg_dump, pg_restore, pg_dumpall, psql) from the same installation. */
  bin(tool: string): string
}

/** Where client tools may live: pg-bin-dir, PATH, then Debian/Ubuntu's per-version dirs. */
export function candidateDirs(pgBinDir: string | undefined, env: NodeJS.ProcessEnv): string[] {
  const debian = '/usr/lib/postgresql'
  const versioned = existsSync(debian)
    ? readdirSync(debian)
        .filter(v => /^\d+$/.test(v))
        .map(v => join(debian, v, 'bin'))
    : []
  const dirs = [pgBinDir, ...(env.PATH ?? '').split(delimiter), ...versioned].filter((d): d is string => Boolean(d))
  return [...new Set(dirs)]
}

export function parseToolVersion(output: string): { major: number; version: string } | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(output)
  if (!match) return undefined
  return { major: Number(match[1]), version: match[2] === undefined ? match[1] : `${match[1]}.${match[2]}` }
}

async function probe(dir: string, tool: string): Promise<ClientTools | undefined> {
  const path = join(dir, tool)
  if (!existsSync(path)) return undefined
  try {
    const { stdout } = await execFileAsync(path, ['--version'], { timeout: 10000 })
    const parsed = parseToolVersion(stdout)
    return parsed && { dir, ...parsed, bin: name => join(dir, name) }
  } catch {
    return undefined
  }
}

/**
 * Picks the newest installation of `tool` whose major version is at least the
 * server's: pg_dump refuses newer servers, and older archives restore with newer tools.
 */
export async function findClientTools(
  tool: 'pg_dump' | 'pg_restore' | 'psql',
  minMajor: number,
  pgBinDir: string | undefined,
  env: NodeJS.ProcessEnv,
  what = `the server (PostgreSQL ${minMajor})`
): Promise<ClientTools> {
  const found = (await Promise.all(candidateDirs(pgBinDir, env).map(dir => probe(dir, tool)))).filter((t): t is ClientTools => t !== undefined)
  const usable = found.filter(t => t.major >= minMajor).sort((a, b) => b.major - a.major)
  // pg-bin-dir is the user's explicit choice: it wins whenever it is new enough.
  const chosen = usable.find(t => pgBinDir && t.dir === pgBinDir) ?? usable[0]
  if (chosen) return chosen
  const newest = found.sort((a, b) => b.major - a.major)[0]
  const have = newest ? `the newest ${tool} found is ${newest.version} (${newest.dir})` : `no ${tool} was found`
  throw new BackupError(
    `${tool} ${minMajor} or newer is needed for ${what}, but ${have}. ` +
      `Install postgresql-client-${minMajor} (on Ubuntu runners: the PGDG apt repository, apt-get install postgresql-client-${minMajor}), ` +
      `or set pg-bin-dir to a directory holding ${tool} ${minMajor} or newer.`
  )
}

/** The tool that reads an archive back: pg_restore (custom) or psql (plain), at least as new as the pg_dump that wrote it. */
export function archiveReader(format: 'custom' | 'plain', pgDumpVersion: string, pgBinDir: string | undefined, env: NodeJS.ProcessEnv): Promise<ClientTools> {
  const major = Number(pgDumpVersion.split('.')[0])
  return findClientTools(format === 'custom' ? 'pg_restore' : 'psql', major, pgBinDir, env, `an archive made by pg_dump ${pgDumpVersion}`)
}
