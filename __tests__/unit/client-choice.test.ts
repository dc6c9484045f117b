/** Which PostgreSQL client a command uses, what it installs, and the exact error text: pure decisions. */
import { describe, expect, test } from '@jest/globals'
import { createHash } from 'node:crypto'
import { chooseClient, installFailed, parseOsRelease, toolCacheVersion, type Client, type Need, type Platform } from '../../src/postgres/client-choice.js'
import { PGDG_KEY } from '../../src/postgres/pgdg-key.js'

const now = new Date('2026-12-01T20:00:00Z')
const noble = parseOsRelease('PRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\nUBUNTU_CODENAME=noble\n')
const ubuntu: Platform = { os: 'linux', arch: 'x64', apt: true, release: noble }
const server = (major: number): Need => ({ tool: 'pg_dump', minMajor: major, what: `the server (PostgreSQL ${major})` })
const client = (major: number, dir = `/usr/lib/postgresql/${major}/bin`, source: Client['source'] = 'found'): Client => ({
  dir,
  major,
  version: `${major}.3`,
  source
})

describe('chooseClient', () => {
  test('auto: the newest client at least as new as the server', () => {
    expect(chooseClient(server(15), 'auto', [client(15), client(16), client(14)], undefined, ubuntu, now)).toEqual({ use: client(16) })
  })

  test('pg-bin-dir wins whenever it fits, even over a newer client', () => {
    const mine = client(15, '/opt/pg15/bin')
    expect(chooseClient(server(15), 'auto', [client(16), mine], '/opt/pg15/bin', ubuntu, now)).toEqual({ use: mine })
  })

  test('a client on the machine is preferred to one of the same major in the tool directory', () => {
    const cached = client(16, '/tool/postgresql-client/16.3.0/x64/usr/lib/postgresql/16/bin', 'cached')
    expect(chooseClient(server(16), 'auto', [cached, client(16)], undefined, ubuntu, now)).toEqual({ use: client(16) })
    expect(chooseClient(server(16), 'auto', [cached, client(15)], undefined, ubuntu, now)).toEqual({ use: cached })
  })

  test('a major number asks for exactly that client', () => {
    expect(chooseClient(server(15), 17, [client(16), client(17), client(18)], undefined, ubuntu, now)).toEqual({ use: client(17) })
  })

  test('auto with no client new enough: install the server major, with the PostgreSQL repository suite and a cache key', () => {
    expect(chooseClient(server(17), 'auto', [client(15)], undefined, ubuntu, now)).toEqual({
      install: {
        major: 17,
        packages: ['postgresql-client-17', 'libpq5'],
        pgdgSuite: 'noble-pgdg',
        cacheKey: 'pg-backup-action-postgresql-client-17-ubuntu-24.04-x64-2026-12'
      }
    })
  })

  test('the cache key changes with the major, the OS release, the architecture and the month', () => {
    const key = (major: number, platform: Platform, at = now) => {
      const choice = chooseClient(server(major), 'auto', [], undefined, platform, at)
      return 'install' in choice ? choice.install.cacheKey : choice
    }
    const jammy = { ...ubuntu, release: { ...noble, versionId: '22.04', codename: 'jammy' } }
    const keys = [key(17, ubuntu), key(16, ubuntu), key(17, jammy), key(17, { ...ubuntu, arch: 'arm64' }), key(17, ubuntu, new Date('2027-01-02T00:00:00Z'))]
    expect(new Set(keys).size).toBe(keys.length)
  })

  test('a major number older than the server fails before any work, naming both and the fix', () => {
    expect(chooseClient(server(17), 16, [client(16)], undefined, ubuntu, now)).toEqual({
      fail: 'postgres-version is 16, but pg_dump 17 or newer is needed for the server (PostgreSQL 17). Set postgres-version to 17 (or auto).'
    })
  })

  test('macOS: the brew command and pg-bin-dir', () => {
    const mac: Platform = { os: 'darwin', arch: 'arm64', apt: false }
    expect(chooseClient(server(17), 'auto', [client(15, '/opt/homebrew/bin')], undefined, mac, now)).toEqual({
      fail:
        'pg_dump 17 or newer is needed for the server (PostgreSQL 17), but the newest pg_dump found is 15.3 (/opt/homebrew/bin). ' +
        'The action installs postgresql-client-17 itself only on Debian or Ubuntu (apt); this runner is macOS. ' +
        'Run: brew install postgresql@17, then set pg-bin-dir to $(brew --prefix postgresql@17)/bin.'
    })
  })

  test('Linux without apt, or not Debian-like: the apt command and pg-bin-dir', () => {
    const fix =
      'Install it yourself (Debian/Ubuntu, from the PostgreSQL apt repository https://wiki.postgresql.org/wiki/Apt: sudo apt-get install postgresql-client-17) ' +
      'or set pg-bin-dir to a directory holding pg_dump 17.'
    expect(chooseClient(server(17), 'auto', [], undefined, { ...ubuntu, apt: false }, now)).toEqual({
      fail: `pg_dump 17 or newer is needed for the server (PostgreSQL 17), but no pg_dump was found. The action installs postgresql-client-17 itself only on Debian or Ubuntu (apt); apt-get or dpkg-deb is not on PATH. ${fix}`
    })
    const alpine = { ...ubuntu, release: parseOsRelease('ID=alpine\nVERSION_ID=3.20.0\n') }
    expect(chooseClient(server(17), 'auto', [], undefined, alpine, now)).toEqual({
      fail: `pg_dump 17 or newer is needed for the server (PostgreSQL 17), but no pg_dump was found. The action installs postgresql-client-17 itself only on Debian or Ubuntu (apt); this runner is alpine. ${fix}`
    })
  })

  test('an archive reader: the major of the pg_dump that made the backup', () => {
    const need: Need = { tool: 'pg_restore', minMajor: 17, what: 'an archive made by pg_dump 17.2' }
    expect(chooseClient(need, 'auto', [client(16)], undefined, ubuntu, now)).toMatchObject({ install: { major: 17 } })
    expect(installFailed(need, 'auto', [client(16)], ubuntu, 17, 'E: Unable to locate package postgresql-client-17')).toBe(
      'pg_restore 17 or newer is needed for an archive made by pg_dump 17.2, but the newest pg_restore found is 16.3 (/usr/lib/postgresql/16/bin). ' +
        'Installing postgresql-client-17 failed: E: Unable to locate package postgresql-client-17. ' +
        'Install it yourself (Debian/Ubuntu, from the PostgreSQL apt repository https://wiki.postgresql.org/wiki/Apt: sudo apt-get install postgresql-client-17) ' +
        'or set pg-bin-dir to a directory holding pg_restore 17.'
    )
  })
})

test('parseOsRelease: Debian, and Ubuntu derivatives by their Ubuntu codename', () => {
  expect(parseOsRelease('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')).toEqual({ id: 'debian', idLike: [], versionId: '12', codename: 'bookworm' })
  expect(parseOsRelease('ID=linuxmint\nID_LIKE="ubuntu debian"\nVERSION_ID="22"\nVERSION_CODENAME=wilma\nUBUNTU_CODENAME=noble\n')).toEqual({
    id: 'linuxmint',
    idLike: ['ubuntu', 'debian'],
    versionId: '22',
    codename: 'noble'
  })
})

test('toolCacheVersion: Debian and PGDG package versions as semver', () => {
  expect(toolCacheVersion('15.18-0+deb12u1')).toBe('15.18.0')
  expect(toolCacheVersion('17.2-1.pgdg24.04+1')).toBe('17.2.0')
  expect(toolCacheVersion('1:18~beta1-1')).toBe('18.0.0')
  expect(toolCacheVersion('garbage')).toBeUndefined()
})

test('the shipped PostgreSQL repository key is the published file, byte for byte', () => {
  // sha256 of https://www.postgresql.org/media/keys/ACCC4CF8.asc (fingerprint B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8)
  expect(createHash('sha256').update(PGDG_KEY).digest('hex')).toBe('0144068502a1eddd2a0280ede10ef607d1ec592ce819940991203941564e8e76')
})
