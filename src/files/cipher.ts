import { createHash, createHmac, scryptSync, type Hash, type Hmac } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { FilesManifest } from '../model/files-manifest.js'
import { PassphraseKey } from '../pipeline/openpgp.js'

/**
 * The one place a file content is encrypted, decrypted and named: every copy, check and restore
 * of a content goes through a ContentCipher. Another scheme (e.g. age public keys) plugs in here:
 * it needs a keyed hash for names, a stream encryption and its inverse, and a stored suffix.
 */
export interface ContentCipher {
  /** What the files manifest records; null when contents are stored as they are. */
  readonly encryption: FilesManifest['encryption']
  /** Appended to a content's stored name ('.gpg': open it with `gpg --decrypt`). */
  readonly suffix: string
  /** The content hash that names a content: sha256, or a keyed HMAC when encrypted so names reveal no plaintext hash. */
  hasher(): Hash | Hmac
  encrypt(plain: Readable): Readable
  decrypt(stored: Readable): Readable
}

const PLAIN: ContentCipher = {
  encryption: null,
  suffix: '',
  hasher: () => createHash('sha256'),
  encrypt: plain => plain,
  decrypt: stored => stored
}

/** Fixed, so the same passphrase names the same content the same way in every run (that is what deduplicates). */
const HMAC_SALT = 'pg-backup-action/files/hmac-key/v1'

/** The suffix contents of a snapshot were stored with. */
export function storedSuffix(encryption: FilesManifest['encryption']): string {
  return encryption ? '.gpg' : ''
}

/** Whether contents named under `a` can be reused by a run whose cipher records `b`. */
export function sameNaming(a: FilesManifest['encryption'], b: FilesManifest['encryption']): boolean {
  return a === null || b === null ? a === b : a.algorithm === b.algorithm && a.keyCheck === b.keyCheck
}

export function contentCipher(passphrase: string | undefined): ContentCipher {
  if (!passphrase) return PLAIN
  // scrypt: guessing passphrases against a stored name costs as much as against the content.
  const hmacKey = scryptSync(passphrase, HMAC_SALT, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 })
  const key = new PassphraseKey(passphrase)
  return {
    encryption: { algorithm: 'openpgp-aes256', hash: 'hmac-sha256', keyCheck: createHmac('sha256', hmacKey).update('key check').digest('hex').slice(0, 16) },
    suffix: '.gpg',
    hasher: () => createHmac('sha256', hmacKey),
    encrypt: plain => key.encrypt(plain),
    decrypt: stored => key.decrypt(stored)
  }
}
