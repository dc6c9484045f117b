/** Restores stored backups with only the standard tools, as the README tells users to. */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestCluster } from './postgres.js'

const BIN = '/usr/lib/postgresql/15/bin'

/** gpg --decrypt (if a passphrase is given) | zstd -d or gunzip → the raw dump bytes. */
export function decode(file: string, compression: 'zstd' | 'gzip' | 'none', passphrase?: string): Buffer {
  let bytes: Buffer
  if (passphrase) {
    const dir = mkdtempSync(join(tmpdir(), 'gpg-'))
    writeFileSync(join(dir, 'pass'), passphrase)
    bytes = execFileSync(
      'gpg',
      ['--homedir', dir, '--batch', '--quiet', '--pinentry-mode', 'loopback', '--passphrase-file', join(dir, 'pass'), '--decrypt', file],
      { maxBuffer: 1 << 30 }
    )
  } else bytes = execFileSync('cat', [file], { maxBuffer: 1 << 30 })
  if (compression === 'zstd') return execFileSync('zstd', ['-d', '-c'], { input: bytes, maxBuffer: 1 << 30 })
  if (compression === 'gzip') return execFileSync('gzip', ['-d', '-c'], { input: bytes, maxBuffer: 1 << 30 })
  return bytes
}

/** pg_restore (custom) or psql (plain) of raw dump bytes into a new database. */
export async function restoreInto(cluster: TestCluster, database: string, dump: Buffer, format: 'custom' | 'plain'): Promise<void> {
  await cluster.createDatabase(database)
  const env = { ...process.env, PGHOST: cluster.host, PGPORT: String(cluster.port), PGUSER: cluster.user, PGPASSWORD: cluster.password, PGDATABASE: database }
  if (format === 'custom')
    execFileSync(`${BIN}/pg_restore`, ['--exit-on-error', `--dbname=${database}`], { input: dump, env, stdio: ['pipe', 'ignore', 'pipe'] })
  else execFileSync(`${BIN}/psql`, ['--quiet', '--set=ON_ERROR_STOP=1', '--output=/dev/null'], { input: dump, env, stdio: ['pipe', 'ignore', 'pipe'] })
}
