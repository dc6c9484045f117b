import type { Compression } from '../model/vocabulary.js'
import type { Stage } from './chain.js'

export const DEFAULT_LEVEL: Record<Compression, number | undefined> = { zstd: 3, gzip: 6, none: undefined }
export const COMPRESSION_EXT: Record<Compression, string> = { zstd: '.zst', gzip: '.gz', none: '' }

/** zstd uses every core (-T0); the output is a standard frame that `zstd -d` reads. */
export function compressStage(compression: Compression, level = DEFAULT_LEVEL[compression]): Stage | undefined {
  if (compression === 'zstd') {
    return { name: 'zstd', command: 'zstd', args: ['-q', '-c', '-T0', `-${level}`], install: 'install zstd (apt-get install zstd)' }
  }
  if (compression === 'gzip') {
    return { name: 'gzip', command: 'gzip', args: ['-c', `-${level}`], install: 'install gzip' }
  }
  return undefined
}

/** For a chain that has nothing else to do (no compression, no encryption): bytes in, bytes out. */
export const PASS_THROUGH: Stage = { name: 'cat', command: 'cat', args: [] }

export function decompressStage(compression: Compression): Stage | undefined {
  if (compression === 'zstd') return { name: 'zstd', command: 'zstd', args: ['-q', '-d', '-c'], install: 'install zstd (apt-get install zstd)' }
  if (compression === 'gzip') return { name: 'gzip', command: 'gzip', args: ['-d', '-c'], install: 'install gzip' }
  return undefined
}

/**
 * gpg with a throwaway home, the passphrase on fd 3: the output opens with a plain
 * `gpg --decrypt`. Compression is off because the data is already compressed.
 */
function gpgStage(home: string, passphrase: string, operation: string[]): Stage {
  return {
    name: 'gpg',
    command: 'gpg',
    args: ['--homedir', home, '--batch', '--yes', '--quiet', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase-fd', '3', ...operation],
    fd3: passphrase,
    install: 'install gnupg (apt-get install gnupg)'
  }
}

export function encryptStage(home: string, passphrase: string): Stage {
  return gpgStage(home, passphrase, [
    '--symmetric',
    '--cipher-algo',
    'AES256',
    '--s2k-digest-algo',
    'SHA512',
    // The maximum iteration count, stated: a fresh gpg-agent would otherwise spend ~1 s calibrating it.
    '--s2k-count',
    '65011712',
    '--compress-algo',
    'none',
    '--output',
    '-'
  ])
}

export function decryptStage(home: string, passphrase: string): Stage {
  return {
    ...gpgStage(home, passphrase, ['--decrypt', '--output', '-']),
    explain: stderr => (/bad session key|bad passphrase/i.test(stderr) ? 'gpg could not decrypt the backup: the encryption-passphrase is wrong' : undefined)
  }
}
