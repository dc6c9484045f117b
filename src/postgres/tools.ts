import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { arch, homedir, platform } from 'node:os'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import { BackupError, errorMessage } from '../errors.js'
import type { ClientUsed } from '../model/drill-report.js'
import type { ClientSource } from '../model/vocabulary.js'
import { actionsCache } from './client-cache.js'
import { childEnv } from './connection.js'
import { chooseClient, installFailed, parseOsRelease, type Client, type Need, type Platform, type PostgresVersion } from './client-choice.js'
import { obtainClient, pgdgSource, toolDirClients, type InstallOptions } from './client-install.js'

const execFileAsync = promisify(execFile)

export interface ClientTools extends Client {
  /** The tool it was chosen for. */
  tool: Need['tool']
  /** Path of a tool (pg_dump, pg_restore, pg_dumpall, psql) from the same installation. */
  bin(tool: string): string
  /** What the tools' own processes need (an installed client's libpq): given to those children only. */
  env: Record<string, string>
}

export interface ClientOptions {
  pgBinDir?: string
  postgresVersion: PostgresVersion
  /** The action's environment: PATH, RUNNER_TOOL_CACHE, RUNNER_TEMP. */
  env: NodeJS.ProcessEnv
  log: { info(message: string): void; warning(message: string): void }
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

/** The tool directory: the runner's (RUNNER_TOOL_CACHE), else the user's cache folder (CLI). */
export function toolRoot(env: NodeJS.ProcessEnv): string {
  return env.RUNNER_TOOL_CACHE || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pg-backup-action', 'tools')
}

export function parseToolVersion(output: string): { major: number; version: string } | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(output)
  if (!match) return undefined
  return { major: Number(match[1]), version: match[2] === undefined ? match[1] : `${match[1]}.${match[2]}` }
}

/** An installed client's own libpq goes first on the library path of its processes (and only theirs). */
function libraryEnv(libDir: string | undefined, env: NodeJS.ProcessEnv): Record<string, string> {
  return libDir ? { LD_LIBRARY_PATH: [libDir, env.LD_LIBRARY_PATH].filter(Boolean).join(delimiter) } : {}
}

function tools(tool: Need['tool'], client: Client, env: NodeJS.ProcessEnv): ClientTools {
  return { ...client, tool, bin: name => join(client.dir, name), env: libraryEnv(client.libDir, env) }
}

async function probe(dir: string, tool: string, source: ClientSource, env: NodeJS.ProcessEnv, libDir?: string): Promise<Client | undefined> {
  const path = join(dir, tool)
  if (!existsSync(path)) return undefined
  try {
    const { stdout } = await execFileAsync(path, ['--version'], { timeout: 10000, env: childEnv(libraryEnv(libDir, env)) })
    const parsed = parseToolVersion(stdout)
    return parsed && { dir, ...parsed, source, libDir }
  } catch {
    return undefined
  }
}

/** The installer's check: the unpacked tool runs (its libraries load) and is the major asked for. */
export function checkClient(tool: string, major: number, env: NodeJS.ProcessEnv): InstallOptions['check'] {
  return async (dir, libDir, source) => {
    const client = await probe(dir, tool, source, env, libDir)
    return client?.major === major ? client : undefined
  }
}

function currentPlatform(env: NodeJS.ProcessEnv): Platform {
  const release = existsSync('/etc/os-release') ? parseOsRelease(readFileSync('/etc/os-release', 'utf8')) : undefined
  return { os: platform(), arch: arch(), apt: Boolean(which('apt-get', env) && which('dpkg-deb', env)), release }
}

/** A program on the action's PATH (the Host's, which tests vary), as an absolute path. */
function which(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const dir = (env.PATH ?? '').split(delimiter).find(d => d && existsSync(join(d, name)))
  return dir && join(dir, name)
}

/**
 * The client for a job: found on the machine (pg-bin-dir, PATH, /usr/lib/postgresql), left in the
 * tool directory by an earlier run, restored from the actions cache, or installed now (Debian/Ubuntu).
 * Which one and what to install is chooseClient's decision; this gathers the facts and acts on it.
 */
export async function findClientTools(need: Need, o: ClientOptions): Promise<ClientTools> {
  const env = o.env
  const os = currentPlatform(env)
  const root = toolRoot(env)
  const probes = [
    ...candidateDirs(o.pgBinDir, env).map(dir => probe(dir, need.tool, 'found', env)),
    ...toolDirClients(root, os.arch).map(c => probe(c.dir, need.tool, 'cached', env, c.libDir))
  ]
  const found = (await Promise.all(probes)).filter((c): c is Client => c !== undefined)
  const choice = chooseClient(need, o.postgresVersion, found, o.pgBinDir, os, new Date())
  if ('use' in choice) return tools(need.tool, choice.use, env)
  if ('fail' in choice) throw new BackupError(choice.fail)
  const plan = choice.install
  o.log.info(`No ${need.tool} ${plan.major} on this runner: obtaining postgresql-client-${plan.major}`)
  try {
    const client = await obtainClient(plan, {
      toolRoot: root,
      arch: os.arch,
      sources: ['system', pgdgSource(plan.pgdgSuite)],
      // Both are on PATH: chooseClient plans an install only when platform.apt says so.
      aptGet: which('apt-get', env)!,
      dpkgDeb: which('dpkg-deb', env)!,
      cache: actionsCache(),
      // The action's PATH (apt-get calls dpkg), without its inputs.
      env: childEnv(env.PATH === undefined ? {} : { PATH: env.PATH }),
      log: o.log,
      check: checkClient(need.tool, plan.major, env)
    })
    return tools(need.tool, client, env)
  } catch (error) {
    throw new BackupError(installFailed(need, o.postgresVersion, found, os, plan.major, errorMessage(error)))
  }
}

/** For reports: which program ran and where it came from. */
export function clientUsed(t: ClientTools): ClientUsed {
  return { tool: t.tool, version: t.version, source: t.source, dir: t.dir }
}

/** The tool that reads an archive back: pg_restore (custom) or psql (plain), at least as new as the pg_dump that wrote it. */
export function archiveReader(format: 'custom' | 'plain', pgDumpVersion: string, o: ClientOptions): Promise<ClientTools> {
  const minMajor = Number(pgDumpVersion.split('.')[0])
  return findClientTools({ tool: format === 'custom' ? 'pg_restore' : 'psql', minMajor, what: `an archive made by pg_dump ${pgDumpVersion}` }, o)
}
