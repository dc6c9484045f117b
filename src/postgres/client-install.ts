/**
 * Obtains a PostgreSQL client the machine lacks: from the actions cache, else from apt. The
 * packages are downloaded as the runner's user (apt-get download) and unpacked with dpkg-deb -x
 * into a tool directory of the action's own (tool-cache layout: <root>/postgresql-client/<version>/<arch>
 * plus <arch>.complete); nothing is installed system-wide, so no root is needed.
 */
import * as exec from '@actions/exec'
import { existsSync, readdirSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { errorMessage } from '../errors.js'
import type { ClientSource } from '../model/vocabulary.js'
import type { ClientCache } from './client-cache.js'
import { toolCacheVersion, type Client, type InstallPlan } from './client-choice.js'
import { PGDG_KEY } from './pgdg-key.js'

const TOOL_NAME = 'postgresql-client'

/**
 * An apt repository the action reads privately (its own sources list, lists and cache dirs),
 * `key` being an armored key or a keyring file; or 'system', the machine's own apt sources.
 */
export type AptSource = 'system' | { uri: string; suite: string; component: string; key: string }

/** The PostgreSQL project's repository, checked against the key shipped with the action. */
export function pgdgSource(suite: string): AptSource {
  return { uri: 'https://apt.postgresql.org/pub/repos/apt', suite, component: 'main', key: PGDG_KEY }
}

export interface InstallOptions {
  toolRoot: string
  arch: string
  /** Tried in order until one has the packages. */
  sources: AptSource[]
  aptGet: string
  dpkgDeb: string
  cache?: ClientCache
  /** Environment for apt-get and dpkg-deb. */
  env: NodeJS.ProcessEnv
  log: { info(message: string): void; warning(message: string): void }
  /** Runs the client in a bin dir; undefined when it does not run or has another major. */
  check(dir: string, libDir: string | undefined, source: ClientSource): Promise<Client | undefined>
}

/** The clients earlier runs left in the tool directory (complete ones only), newest first. */
export function toolDirClients(toolRoot: string, arch: string, major?: number): Array<{ dir: string; libDir?: string }> {
  const tool = join(toolRoot, TOOL_NAME)
  if (!existsSync(tool)) return []
  return readdirSync(tool)
    .filter(version => (major === undefined || version.startsWith(`${major}.`)) && existsSync(join(tool, version, `${arch}.complete`)))
    .sort((a, b) => b.localeCompare(a, 'en', { numeric: true }))
    .flatMap(version => clientIn(join(tool, version, arch)))
}

/** The bin dirs and libpq dir of an unpacked client (usr/lib/postgresql/<major>/bin, usr/lib/<triplet>/libpq.so.5). */
function clientIn(root: string): Array<{ dir: string; libDir?: string }> {
  const pg = join(root, 'usr/lib/postgresql')
  const lib = join(root, 'usr/lib')
  if (!existsSync(pg)) return []
  const libDir = readdirSync(lib)
    .map(d => join(lib, d))
    .find(d => existsSync(join(d, 'libpq.so.5')))
  return readdirSync(pg).map(major => ({ dir: join(pg, major, 'bin'), libDir }))
}

/** The actions/cache paths for one major: every tool-cache version folder of it. */
function cachePaths(toolRoot: string, major: number): string[] {
  return [join(toolRoot, TOOL_NAME, `${major}.*`)]
}

export async function obtainClient(plan: InstallPlan, o: InstallOptions): Promise<Client> {
  const paths = cachePaths(o.toolRoot, plan.major)
  if (o.cache) {
    const restored = await restoreFromCache(plan, paths, o)
    if (restored) return restored
  }
  const client = await installFromApt(plan, o)
  if (o.cache) {
    try {
      await o.cache.save(paths, plan.cacheKey)
    } catch (error) {
      o.log.warning(
        `the PostgreSQL ${plan.major} client was installed but could not be saved to the actions cache (the next run installs it again): ${errorMessage(error)}`
      )
    }
  }
  return client
}

/** A hit that runs; a miss, a service error or an entry that does not run is undefined (with a warning for the last two). */
async function restoreFromCache(plan: InstallPlan, paths: string[], o: InstallOptions): Promise<Client | undefined> {
  try {
    if (!(await o.cache!.restore(paths, plan.cacheKey))) return undefined
  } catch (error) {
    o.log.warning(`the actions cache could not be read (${errorMessage(error)}); installing the PostgreSQL ${plan.major} client from apt instead`)
    return undefined
  }
  for (const found of toolDirClients(o.toolRoot, o.arch, plan.major)) {
    const client = await o.check(found.dir, found.libDir, 'cached')
    if (client) {
      o.log.info(`PostgreSQL client ${client.version} restored from the actions cache (${plan.cacheKey})`)
      return client
    }
  }
  o.log.warning(`the cached PostgreSQL ${plan.major} client (${plan.cacheKey}) is incomplete or does not run; installing it from apt instead`)
  for (const version of readdirSync(join(o.toolRoot, TOOL_NAME)).filter(v => v.startsWith(`${plan.major}.`))) {
    await rm(join(o.toolRoot, TOOL_NAME, version), { recursive: true, force: true })
  }
  return undefined
}

async function installFromApt(plan: InstallPlan, o: InstallOptions): Promise<Client> {
  const work = await mkdtemp(join(o.env.RUNNER_TEMP || tmpdir(), 'pgb-apt-'))
  try {
    const debs = await download(plan, work, o)
    const clientDeb = debs.find(f => f.startsWith(`${plan.packages[0]}_`))!
    const debVersion = (await run(o.dpkgDeb, ['--field', join(work, 'debs', clientDeb), 'Version'], o)).trim()
    const version = toolCacheVersion(debVersion)
    if (!version) throw new Error(`${clientDeb} has an unreadable version ${JSON.stringify(debVersion)}`)
    const dest = join(o.toolRoot, TOOL_NAME, version, o.arch)
    await rm(dest, { recursive: true, force: true })
    await rm(`${dest}.complete`, { force: true })
    await mkdir(dest, { recursive: true })
    for (const deb of debs) await run(o.dpkgDeb, ['-x', join(work, 'debs', deb), dest], o)
    const unpacked = clientIn(dest).find(c => c.dir.endsWith(`/${plan.major}/bin`))
    const client = unpacked && (await o.check(unpacked.dir, unpacked.libDir, 'installed'))
    if (!client) {
      await rm(join(o.toolRoot, TOOL_NAME, version), { recursive: true, force: true })
      throw new Error(`the unpacked ${plan.packages[0]} ${debVersion} does not run here (a library it needs may be missing)`)
    }
    await writeFile(`${dest}.complete`, '')
    o.log.info(`Installed PostgreSQL client ${client.version} (${plan.packages.join(', ')} ${debVersion}) into ${dest}`)
    return client
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/** apt-get download from the first source that has every package; returns the .deb file names. */
async function download(plan: InstallPlan, work: string, o: InstallOptions): Promise<string[]> {
  const debs = join(work, 'debs')
  const failures: string[] = []
  for (const source of o.sources) {
    await rm(debs, { recursive: true, force: true })
    await mkdir(debs)
    const where = source === 'system' ? "this machine's apt sources" : `${source.uri} ${source.suite}`
    try {
      const options = source === 'system' ? [] : await privateApt(source, join(work, 'apt'))
      if (source !== 'system') await run(o.aptGet, ['-q', ...options, 'update'], o)
      o.log.info(`Downloading ${plan.packages.join(', ')} from ${where}`)
      await run(o.aptGet, ['-q', ...options, 'download', ...plan.packages], { ...o, cwd: debs })
      return await readdir(debs)
    } catch (error) {
      failures.push(`${where}: ${errorMessage(error)}`)
    }
  }
  throw new Error(failures.join('; '))
}

/**
 * apt options for reading one repository with nothing of the system's apt state: own sources
 * list, lists, cache and (empty) dpkg status, no lock. Works as an unprivileged user.
 */
async function privateApt(source: Exclude<AptSource, 'system'>, dir: string): Promise<string[]> {
  await mkdir(join(dir, 'lists/partial'), { recursive: true })
  await mkdir(join(dir, 'cache/archives/partial'), { recursive: true })
  await mkdir(join(dir, 'parts'), { recursive: true })
  await writeFile(join(dir, 'status'), '')
  let keyring = source.key
  if (source.key.startsWith('-----BEGIN PGP')) {
    keyring = join(dir, 'key.asc')
    await writeFile(keyring, source.key)
  }
  await writeFile(join(dir, 'sources.list'), `deb [signed-by=${keyring}] ${source.uri} ${source.suite} ${source.component}\n`)
  const settings = {
    'Dir::Etc::SourceList': join(dir, 'sources.list'),
    'Dir::Etc::SourceParts': join(dir, 'parts'),
    'Dir::Etc::PreferencesParts': join(dir, 'parts'),
    'Dir::State::Lists': join(dir, 'lists'),
    'Dir::State::status': join(dir, 'status'),
    'Dir::Cache': join(dir, 'cache'),
    'Debug::NoLocking': '1',
    'Acquire::Retries': '2',
    'Acquire::http::Timeout': '30'
  }
  return Object.entries(settings).flatMap(([key, value]) => ['-o', `${key}=${value}`])
}

async function run(command: string, args: string[], o: { env: NodeJS.ProcessEnv; cwd?: string }): Promise<string> {
  const result = await exec.getExecOutput(command, args, {
    cwd: o.cwd,
    env: { ...o.env, LC_ALL: 'C' } as Record<string, string>,
    silent: true,
    ignoreReturnCode: true
  })
  if (result.exitCode === 0) return result.stdout
  // apt reports its errors on lines starting with E:; anything else is progress or warnings.
  const errors = result.stderr.split('\n').filter(line => line.startsWith('E: '))
  const detail = errors.length > 0 ? errors.join(' ') : result.stderr.trim().slice(-500)
  throw new Error(`${basename(command)} failed (exit code ${result.exitCode}): ${detail || 'no error output'}`)
}
