import { createHash, createHmac, scryptSync, type Hash, type Hmac } from 'node:crypto'
import type { Readable, Transform } from 'node:stream'
import type { FilesEncryption } from '../model/files-manifest.js'
import { ageDecrypter, ageEncrypter } from '../pipeline/age.js'
import { requireKeys, type DecryptionKeys, type EncryptionMode } from '../pipeline/encryption.js'
import { PassphraseKey } from '../pipeline/openpgp.js'

/**
 * The one place a file content is encrypted, decrypted and named: every copy, check and restore
 * of a content goes through a ContentCipher, which follows the backup's encryption mode (none,
 * a gpg passphrase, or age public keys, as in pipeline/encryption.ts).
 */
export interface ContentCipher {
  /** What the files manifest records; null when contents are stored as they are. */
  readonly encryption: FilesEncryption | null
  /** The content hash that names a content: sha256, or a keyed HMAC when encrypted (see the schemes below). */
  hasher(): Hash | Hmac
  encrypt(plain: Readable): Promise<Readable>
  decrypt(stored: Readable): Readable
}

const PLAIN: ContentCipher = {
  encryption: null,
  hasher: () => createHash('sha256'),
  encrypt: async plain => plain,
  decrypt: stored => stored
}

/** Fixed, so the same passphrase names the same content the same way in every run (that is what deduplicates). */
const HMAC_SALT = 'pg-backup-action/files/hmac-key/v1'
const AGE_NAMING = 'pg-backup-action/files/age-recipients-naming/v1'

/** The suffix contents of a snapshot were stored with ('.gpg': `gpg --decrypt` opens it; '.age': `age -d -i key.txt`). */
export function storedSuffix(encryption: FilesEncryption | null): string {
  if (!encryption) return ''
  return encryption.algorithm === 'age-x25519' ? '.age' : '.gpg'
}

/** Whether contents named under `a` can be reused by a run whose cipher records `b`. */
export function sameNaming(a: FilesEncryption | null, b: FilesEncryption | null): boolean {
  return a === null || b === null ? a === b : a.algorithm === b.algorithm && a.keyCheck === b.keyCheck
}

/** The cipher a backup stores contents with, as the encryption inputs say (age needs no secret). */
export function contentCipher(mode: EncryptionMode): ContentCipher {
  if (mode.kind === 'passphrase') return passphraseCipher(mode.passphrase)
  if (mode.kind === 'age') return ageCipher(mode.recipients, [])
  return PLAIN
}

/**
 * The cipher that reads contents stored as `encryption` says. Fails, before anything is
 * downloaded, when the keys cannot open them, naming the keys needed.
 */
export async function readingCipher(encryption: FilesEncryption | null, keys: DecryptionKeys, what: string): Promise<ContentCipher> {
  await requireKeys(encryption, keys, what)
  if (!encryption) return PLAIN
  if (encryption.algorithm === 'openpgp-aes256') return passphraseCipher(keys.passphrase!)
  return ageCipher(encryption.recipients, keys.identities)
}

function keyCheck(hmacKey: Buffer): string {
  return createHmac('sha256', hmacKey).update('key check').digest('hex').slice(0, 16)
}

/** Contents as gpg --symmetric writes them (encrypted in Node), named by an HMAC keyed from the passphrase. */
function passphraseCipher(passphrase: string): ContentCipher {
  // scrypt: guessing passphrases against a stored name costs as much as against the content.
  const hmacKey = scryptSync(passphrase, HMAC_SALT, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 })
  const key = new PassphraseKey(passphrase)
  return {
    encryption: { algorithm: 'openpgp-aes256', hash: 'hmac-sha256', keyCheck: keyCheck(hmacKey) },
    hasher: () => createHmac('sha256', hmacKey),
    encrypt: async plain => key.encrypt(plain),
    decrypt: stored => key.decrypt(stored)
  }
}

/**
 * Contents as age files to the recipients, written by the same code as the dump.
 *
 * Naming: the backup runner holds no secret in this mode, so names cannot be keyed by one. They
 * are an HMAC-SHA256 keyed from the sorted recipient list. What that hides: a name is not the
 * bare sha256 of the file, so lists of known files' hashes do not match names directly, and the
 * same file gets another name under another key set. What it does NOT hide: the public keys are
 * no secret (they are in the workflow and in every files manifest beside the contents), so anyone
 * who can list the store, knows the keys and guesses a file's exact bytes can confirm the guess;
 * sizes, bucket names and keys are visible in the files manifest in every mode.
 */
function ageCipher(recipients: string[], identities: string[]): ContentCipher {
  // Sorted: the same keys name contents the same way in whatever order the input lists them.
  const hmacKey = createHash('sha256')
    .update(`${AGE_NAMING}\n${[...recipients].sort().join('\n')}`)
    .digest()
  return {
    encryption: { algorithm: 'age-x25519', hash: 'hmac-sha256-recipients', recipients, keyCheck: keyCheck(hmacKey) },
    hasher: () => createHmac('sha256', hmacKey),
    encrypt: async plain => piped(plain, await ageEncrypter(recipients)),
    decrypt: stored => piped(stored, ageDecrypter(identities))
  }
}

function piped(input: Readable, transform: Transform): Readable {
  input.on('error', error => transform.destroy(error))
  return input.pipe(transform)
}
