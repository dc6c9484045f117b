/**
 * The client installer for real (apt-get download from this machine's apt sources, dpkg-deb -x into
 * a temp tool directory), with the actions cache behind its interface: a fake that keeps what
 * is saved and restores it to the same absolute paths, as actions/cache does.
 */
import { afterAll, beforeEach, describe, expect, test } from '@jest/globals'
import * as tc from '@actions/tool-cache'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import type { ClientCache } from '../src/postgres/client-cache.js'
import type { InstallPlan } from '../src/postgres/client-choice.js'
import { obtainClient, type InstallOptions } from '../src/postgres/client-install.js'
import { checkClient } from '../src/postgres/tools.js'

const plan: InstallPlan = { major: 15, packages: ['postgresql-client-15', 'libpq5'], pgdgSuite: 'bookworm-pgdg', cacheKey: 'pg-client-test-key' }
const dirs: string[] = []
const temp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}
afterAll(() => dirs.forEach(d => rmSync(d, { recursive: true, force: true })))

/** The paths actions/cache would archive: `<dir>/<prefix>*` patterns, resolved. */
const resolve = (pattern: string) => {
  const dir = dirname(pattern)
  const prefix = basename(pattern).replace(/\*$/, '')
  return existsSync(dir)
    ? readdirSync(dir)
        .filter(f => f.startsWith(prefix))
        .map(f => join(dir, f))
    : []
}

interface FakeCache extends ClientCache {
  saved: Array<{ paths: string[]; key: string }>
}

/** Keeps each saved entry in a folder of its own and restores it to the same absolute paths. */
function fakeCache(options: { restoreError?: Error; saveError?: Error; corrupt?: boolean; store?: string } = {}): FakeCache {
  const store = options.store ?? temp('pgb-fake-cache-')
  const saved: FakeCache['saved'] = []
  return {
    saved,
    async save(paths, key) {
      saved.push({ paths, key })
      if (options.saveError) throw options.saveError
      if (existsSync(join(store, key))) return // like actions/cache: an existing key is never overwritten
      for (const path of paths.flatMap(resolve)) cpSync(path, join(store, key, encodeURIComponent(path)), { recursive: true })
    },
    async restore(_paths, key) {
      if (options.restoreError) throw options.restoreError
      if (!existsSync(join(store, key))) return false
      for (const entry of readdirSync(join(store, key))) {
        const target = decodeURIComponent(entry)
        cpSync(join(store, key, entry), target, { recursive: true })
        // A corrupt entry: every file there, but pg_dump cut short (an interrupted save, a bad download).
        if (options.corrupt) truncateSync(join(target, 'x64/usr/lib/postgresql/15/bin/pg_dump'), 1000)
      }
      return true
    }
  }
}

let root: string
let log: { info: string[]; warning: string[] }
beforeEach(() => {
  root = temp('pgb-tools-')
  log = { info: [], warning: [] }
})

const options = (cache: ClientCache | undefined, sources: InstallOptions['sources'] = ['system']): InstallOptions => ({
  toolRoot: root,
  arch: 'x64',
  sources,
  aptGet: 'apt-get',
  dpkgDeb: 'dpkg-deb',
  cache,
  env: process.env,
  log: { info: m => void log.info.push(m), warning: m => void log.warning.push(m) },
  check: checkClient('pg_dump', 15, process.env)
})

/** What the installed pg_dump says, run with only its own libpq added to the environment. */
const runs = (dir: string, libDir?: string) =>
  execFileSync(join(dir, 'pg_dump'), ['--version'], { env: { ...process.env, LD_LIBRARY_PATH: libDir ?? '' }, encoding: 'utf8' })

describe('obtainClient', () => {
  test('cache miss: installs from apt into the tool directory (tool-cache layout), then saves it to the cache', async () => {
    const cache = fakeCache()
    const client = await obtainClient(plan, options(cache))
    expect(client).toMatchObject({ major: 15, source: 'installed' })
    expect(client.dir.startsWith(join(root, 'postgresql-client'))).toBe(true)
    expect(client.libDir).toMatch(new RegExp(`^${root}/postgresql-client/15\\.\\d+\\.0/x64/usr/lib/[^/]+$`))
    expect(existsSync(join(client.libDir!, 'libpq.so.5'))).toBe(true)
    expect(runs(client.dir, client.libDir)).toMatch(/^pg_dump \(PostgreSQL\) 15\.\d+/)
    // @actions/tool-cache finds it where it looks for tools.
    const before = process.env.RUNNER_TOOL_CACHE
    process.env.RUNNER_TOOL_CACHE = root
    try {
      expect(client.dir.startsWith(tc.find('postgresql-client', '15', 'x64'))).toBe(true)
    } finally {
      process.env.RUNNER_TOOL_CACHE = before
    }
    expect(cache.saved).toEqual([{ paths: [join(root, 'postgresql-client/15.*')], key: plan.cacheKey }])
    expect(log.warning).toEqual([])
  })

  test('cache hit: restored and run, apt never asked', async () => {
    const cache = fakeCache()
    const installed = await obtainClient(plan, options(cache))
    rmSync(join(root, 'postgresql-client'), { recursive: true })
    const client = await obtainClient(plan, options(cache, []))
    expect(client).toEqual({ ...installed, source: 'cached' })
    expect(runs(client.dir, client.libDir)).toMatch(/^pg_dump \(PostgreSQL\) 15\./)
    expect(log.info.join('\n')).toMatch(/restored from the actions cache \(pg-client-test-key\)/)
    expect(log.warning).toEqual([])
  })

  test('cache service error: a warning, then installed from apt', async () => {
    const client = await obtainClient(plan, options(fakeCache({ restoreError: new Error('Cache service responded with 503') })))
    expect(client.source).toBe('installed')
    expect(runs(client.dir, client.libDir)).toMatch(/^pg_dump \(PostgreSQL\) 15\./)
    expect(log.warning).toEqual([
      'the actions cache could not be read (Cache service responded with 503); installing the PostgreSQL 15 client from apt instead'
    ])
  })

  test('corrupt cache entry: a warning, the entry removed, installed from apt', async () => {
    const store = temp('pgb-fake-cache-')
    await obtainClient(plan, options(fakeCache({ store })))
    rmSync(join(root, 'postgresql-client'), { recursive: true })
    const client = await obtainClient(plan, options(fakeCache({ store, corrupt: true })))
    expect(client.source).toBe('installed')
    expect(runs(client.dir, client.libDir)).toMatch(/^pg_dump \(PostgreSQL\) 15\./)
    expect(log.warning).toEqual(['the cached PostgreSQL 15 client (pg-client-test-key) is incomplete or does not run; installing it from apt instead'])
  })

  test('a cache that cannot save: a warning, the installed client still used', async () => {
    const client = await obtainClient(plan, options(fakeCache({ saveError: new Error('Unable to reserve cache') })))
    expect(client.source).toBe('installed')
    expect(log.warning).toEqual([
      'the PostgreSQL 15 client was installed but could not be saved to the actions cache (the next run installs it again): Unable to reserve cache'
    ])
  })

  test('no source has the packages: every attempt named in the error, nothing left in the tool directory', async () => {
    const missing: InstallPlan = { ...plan, major: 99, packages: ['postgresql-client-99', 'libpq5'] }
    await expect(obtainClient(missing, options(undefined))).rejects.toThrow(
      "this machine's apt sources: apt-get failed (exit code 100): E: Unable to locate package postgresql-client-99"
    )
    expect(readdirSync(root)).toEqual([])
  })
})

/**
 * The path GitHub runners take when their apt sources lack the client: a repository read with a
 * private apt configuration and checked against a key the action brings. Here a file:// repository
 * with the same layout as apt.postgresql.org, signed by a throwaway key, stands in for it.
 */
describe('a private apt source (how the PostgreSQL repository is read)', () => {
  const gpg = (home: string, args: string[], input?: string) =>
    execFileSync('gpg', ['--homedir', home, '--batch', '--quiet', ...args], { input, encoding: 'utf8' })

  /** A signed repository holding the given .debs; returns its armored public key. */
  function signedRepo(repo: string, debs: string, suite: string): string {
    const home = temp('pgb-gpg-')
    gpg(home, ['--passphrase', '', '--quick-gen-key', 'pg-backup-action test repository', 'ed25519', 'sign', 'never'])
    const pool = join(repo, 'pool')
    const binary = join(repo, 'dists', suite, 'main/binary-amd64')
    mkdirSync(pool, { recursive: true })
    mkdirSync(binary, { recursive: true })
    const stanzas = readdirSync(debs).map(deb => {
      cpSync(join(debs, deb), join(pool, deb))
      const bytes = readFileSync(join(pool, deb))
      const control = execFileSync('dpkg-deb', ['-f', join(pool, deb)], { encoding: 'utf8' }).trimEnd()
      return `${control}\nFilename: pool/${deb}\nSize: ${bytes.length}\nSHA256: ${createHash('sha256').update(bytes).digest('hex')}\n`
    })
    const packages = stanzas.join('\n')
    writeFileSync(join(binary, 'Packages'), packages)
    const release = [
      `Suite: ${suite}`,
      `Codename: ${suite}`,
      'Architectures: amd64',
      'Components: main',
      `Date: ${new Date().toUTCString()}`,
      'SHA256:',
      ` ${createHash('sha256').update(packages).digest('hex')} ${Buffer.byteLength(packages)} main/binary-amd64/Packages`,
      ''
    ].join('\n')
    writeFileSync(join(repo, 'dists', suite, 'InRelease'), gpg(home, ['--clearsign', '--output', '-'], release))
    return gpg(home, ['--armor', '--export'])
  }

  test('installs from a repository signed by the key the action brings; refuses one signed by another key', async () => {
    const debs = temp('pgb-debs-')
    execFileSync('apt-get', ['-q', 'download', 'postgresql-client-15', 'libpq5'], { cwd: debs, stdio: 'ignore' })
    const repo = temp('pgb-repo-')
    const key = signedRepo(repo, debs, 'bookworm-pgdg')
    const source = { uri: `file://${repo}`, suite: 'bookworm-pgdg', component: 'main', key }

    const client = await obtainClient(plan, options(undefined, [source]))
    expect(client).toMatchObject({ major: 15, source: 'installed' })
    expect(runs(client.dir, client.libDir)).toMatch(/^pg_dump \(PostgreSQL\) 15\./)

    const other = temp('pgb-repo-')
    signedRepo(other, debs, 'bookworm-pgdg')
    rmSync(join(root, 'postgresql-client'), { recursive: true })
    await expect(obtainClient(plan, options(undefined, [{ ...source, uri: `file://${other}` }]))).rejects.toThrow(
      new RegExp(`^file://${other} bookworm-pgdg: apt-get failed \\(exit code 100\\): E: The repository .* is not signed\\.`)
    )
    expect(readdirSync(root)).toEqual([])
  }, 60_000)
})
