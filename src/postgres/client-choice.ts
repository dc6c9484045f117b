/**
 * Which PostgreSQL client a command uses, and what to do when none fits: install one,
 * or fail with the exact fix. Pure: the caller probes the machine and runs the plan.
 */
import type { ClientSource } from '../model/vocabulary.js'

/** `postgres-version`: auto (the server's or the archive's major) or one major. */
export type PostgresVersion = 'auto' | number

/** A client installation: the bin dir, its version, where it came from, and its own libpq when it brings one. */
export interface Client {
  dir: string
  major: number
  version: string
  source: ClientSource
  libDir?: string
}

export interface Need {
  tool: 'pg_dump' | 'pg_restore' | 'psql'
  /** The oldest major that can do the job: the server's (pg_dump), the dumping pg_dump's (pg_restore, psql). */
  minMajor: number
  /** Who needs it, for messages: "the server (PostgreSQL 17)". */
  what: string
}

/** What the action knows of the machine it runs on. */
export interface Platform {
  os: NodeJS.Platform
  /** Node's name for it (x64, arm64): the tool-cache and cache-key convention. */
  arch: string
  /** apt-get and dpkg-deb are on PATH. */
  apt: boolean
  /** /etc/os-release, when there is one. */
  release?: OsRelease
}

export interface OsRelease {
  id: string
  idLike: string[]
  versionId: string
  codename?: string
}

export interface InstallPlan {
  major: number
  /** The client tools and the libpq they link against; the rest (libssl, zstd …) every runner has. */
  packages: string[]
  /** The PostgreSQL apt repository's suite for this release, used when the machine's own apt sources lack the packages. */
  pgdgSuite: string
  /** actions/cache key: major, OS release, architecture, and the month, so a newer minor release is picked up monthly. */
  cacheKey: string
}

export type Choice = { use: Client } | { install: InstallPlan } | { fail: string }

export function chooseClient(need: Need, requested: PostgresVersion, found: Client[], pgBinDir: string | undefined, platform: Platform, now: Date): Choice {
  if (requested !== 'auto' && requested < need.minMajor) {
    return {
      fail:
        `postgres-version is ${requested}, but ${need.tool} ${need.minMajor} or newer is needed for ${need.what}. ` +
        `Set postgres-version to ${need.minMajor} (or auto).`
    }
  }
  const fits = (c: Client) => (requested === 'auto' ? c.major >= need.minMajor : c.major === requested)
  // Newest first; pg-bin-dir is the user's explicit choice, so it wins among those that fit.
  const usable = found.filter(fits).sort((a, b) => b.major - a.major || rank(a, pgBinDir) - rank(b, pgBinDir))
  const chosen = usable.find(c => pgBinDir && c.dir === pgBinDir) ?? usable[0]
  if (chosen) return { use: chosen }

  const major = requested === 'auto' ? need.minMajor : requested
  const cannot = installBlocker(platform)
  if (cannot)
    return {
      fail: `${missing(need, requested, found)} The action installs postgresql-client-${major} itself only on Debian or Ubuntu (apt); ${cannot}. ${manualFix(need.tool, major, platform)}`
    }
  const release = platform.release!
  const month = now.toISOString().slice(0, 7)
  return {
    install: {
      major,
      packages: [`postgresql-client-${major}`, 'libpq5'],
      pgdgSuite: `${release.codename}-pgdg`,
      cacheKey: `pg-backup-action-postgresql-client-${major}-${release.id}-${release.versionId}-${platform.arch}-${month}`
    }
  }
}

/** The message when the planned install did not work. */
export function installFailed(need: Need, requested: PostgresVersion, found: Client[], platform: Platform, major: number, reason: string): string {
  return `${missing(need, requested, found)} Installing postgresql-client-${major} failed: ${reason}. ${manualFix(need.tool, major, platform)}`
}

/** "pg_dump 17 or newer is needed for the server (PostgreSQL 17), but the newest pg_dump found is 15.18 (/usr/lib/postgresql/15/bin)." */
function missing(need: Need, requested: PostgresVersion, found: Client[]): string {
  const wanted = requested === 'auto' ? `${need.tool} ${need.minMajor} or newer` : `${need.tool} ${requested} (postgres-version)`
  const newest = [...found].sort((a, b) => b.major - a.major)[0]
  const have = newest ? `the newest ${need.tool} found is ${newest.version} (${newest.dir})` : `no ${need.tool} was found`
  return `${wanted} is needed for ${need.what}, but ${have}.`
}

function installBlocker(platform: Platform): string | undefined {
  if (platform.os !== 'linux') return `this runner is ${platform.os === 'darwin' ? 'macOS' : platform.os}`
  const release = platform.release
  const debianLike = release && [release.id, ...release.idLike].some(id => id === 'debian' || id === 'ubuntu')
  if (!debianLike) return `this runner is ${release?.id ?? 'a Linux without /etc/os-release'}`
  if (!platform.apt) return 'apt-get or dpkg-deb is not on PATH'
  if (!release.codename) return '/etc/os-release names no release codename'
  return undefined
}

function manualFix(tool: string, major: number, platform: Platform): string {
  if (platform.os === 'darwin') return `Run: brew install postgresql@${major}, then set pg-bin-dir to $(brew --prefix postgresql@${major})/bin.`
  return (
    `Install it yourself (Debian/Ubuntu, from the PostgreSQL apt repository https://wiki.postgresql.org/wiki/Apt: sudo apt-get install postgresql-client-${major}) ` +
    `or set pg-bin-dir to a directory holding ${tool} ${major}.`
  )
}

function rank(c: Client, pgBinDir: string | undefined): number {
  return c.dir === pgBinDir ? 0 : c.source === 'found' ? 1 : 2
}

/** Parses /etc/os-release; UBUNTU_CODENAME first, so Ubuntu derivatives get Ubuntu's suite. */
export function parseOsRelease(text: string): OsRelease {
  const fields: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim())
    if (match) fields[match[1]] = match[2].replace(/^["']|["']$/g, '')
  }
  return {
    id: fields.ID ?? 'linux',
    idLike: (fields.ID_LIKE ?? '').split(/\s+/).filter(Boolean),
    versionId: fields.VERSION_ID ?? '',
    codename: fields.UBUNTU_CODENAME || fields.VERSION_CODENAME || undefined
  }
}

/** A Debian package version (15.18-0+deb12u1, 17.2-1.pgdg24.04+1) as the semver tool-cache expects: 15.18.0. */
export function toolCacheVersion(debianVersion: string): string | undefined {
  const match = /^(?:\d+:)?(\d+)(?:\.(\d+))?/.exec(debianVersion)
  return match ? `${match[1]}.${match[2] ?? 0}.0` : undefined
}
