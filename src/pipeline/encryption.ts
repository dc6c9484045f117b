import type { Readable, Transform } from 'node:stream'
import { InputError } from '../errors.js'
import type { ManifestEncryption } from '../model/manifest.js'
import type { Secrets } from '../secrets.js'
import { ageDecrypter, ageEncrypter, recipientsOf } from './age.js'
import { startChain, type Stage } from './chain.js'
import { Checksum } from './checksum.js'
import { decryptStage, encryptStage } from './stages.js'

/**
 * The one place that decides how backup contents are encrypted, for every object a backup
 * writes (the dump, the roles, and whatever later features store): no encryption, a gpg
 * passphrase (symmetric AES-256, `gpg --decrypt` opens it), or age to public keys (no secret
 * on the runner at all; `age -d -i key.txt` opens it).
 */
export type EncryptionMode = { kind: 'none' } | { kind: 'passphrase'; passphrase: string } | { kind: 'age'; recipients: string[] }

/** What a reader holds to decrypt: the passphrase and/or age private keys. */
export interface DecryptionKeys {
  passphrase?: string
  identities: string[]
}

/** The inputs' choice (inputs.ts refuses a passphrase together with public keys). */
export function encryptionMode(settings: { encryptionPassphrase?: string; encryptionPublicKeys: string[] }): EncryptionMode {
  if (settings.encryptionPublicKeys.length > 0) return { kind: 'age', recipients: settings.encryptionPublicKeys }
  if (settings.encryptionPassphrase) return { kind: 'passphrase', passphrase: settings.encryptionPassphrase }
  return { kind: 'none' }
}

/** The suffix an encrypted file's name ends with. */
export function encryptedExtension(mode: EncryptionMode): string {
  return { none: '', passphrase: '.gpg', age: '.age' }[mode.kind]
}

/** What the manifest records, so that readers know what opens the backup. */
export function encryptionRecord(mode: EncryptionMode): ManifestEncryption | null {
  if (mode.kind === 'passphrase') return { algorithm: 'openpgp-aes256' }
  if (mode.kind === 'age') return { algorithm: 'age-x25519', recipients: mode.recipients }
  return null
}

/**
 * An encryption or decryption step: gpg runs as a program at the end (or start) of a chain of
 * programs, so its bytes never pass through Node; age runs as a Node stream beside the chain.
 */
export interface CryptoStep {
  stage?: Stage
  transform?: Transform
}

export async function encryptStep(mode: EncryptionMode, gpgHome: string): Promise<CryptoStep> {
  if (mode.kind === 'passphrase') return { stage: encryptStage(gpgHome, mode.passphrase) }
  if (mode.kind === 'age') return { transform: await ageEncrypter(mode.recipients) }
  return {}
}

/**
 * Fails, before anything is downloaded, when the keys cannot open a backup encrypted as
 * `record` says, naming the keys it needs. `what` names the backup in the message.
 */
export async function requireKeys(record: ManifestEncryption | null, keys: DecryptionKeys, what: string): Promise<void> {
  if (!record) return
  if (record.algorithm === 'openpgp-aes256') {
    if (!keys.passphrase) throw new InputError('encryption-passphrase', `${what} is encrypted; set encryption-passphrase to the passphrase it was made with`)
    return
  }
  const needed = record.recipients
  const held = await recipientsOf(keys.identities)
  if (held.some(r => needed.includes(r))) return
  throw new InputError(
    'encryption-private-key',
    `${what} is encrypted to the age public key(s) ${needed.join(', ')}; ` +
      (held.length === 0 ? 'set encryption-private-key to the private key of one of them' : `the private key(s) given are for ${held.join(', ')}`)
  )
}

export async function decryptStep(record: ManifestEncryption | null, keys: DecryptionKeys, gpgHome: string, what: string): Promise<CryptoStep> {
  await requireKeys(record, keys, what)
  if (!record) return {}
  if (record.algorithm === 'openpgp-aes256') return { stage: decryptStage(gpgHome, keys.passphrase!) }
  return { transform: ageDecrypter(keys.identities) }
}

/** True when the keys can read contents encrypted as `record` says (verify checks contents only then). */
export async function canDecrypt(record: ManifestEncryption | null, keys: DecryptionKeys): Promise<boolean> {
  return requireKeys(record, keys, '').then(
    () => true,
    () => false
  )
}

/**
 * Encrypts any Node stream (bucket files, exports, …) as `mode` says: the function every
 * encrypted object that is not a program's output goes through. The returned stream fails
 * if encryption fails.
 */
export async function encryptStream(mode: EncryptionMode, input: Readable, options: { gpgHome: string; secrets: Secrets }): Promise<Readable> {
  const step = await encryptStep(mode, options.gpgHome)
  if (step.transform) {
    input.on('error', error => step.transform!.destroy(error))
    return input.pipe(step.transform)
  }
  if (!step.stage) return input
  const chain = startChain([step.stage], options.secrets, { input: 'pipe' })
  input.on('error', error => {
    chain.kill()
    chain.output.destroy(error)
  })
  input.pipe(chain.input!)
  // The output only ends cleanly once gpg exited 0.
  const guarded = new Checksum(chain.done)
  chain.output.on('error', error => guarded.destroy(error))
  chain.done.catch(error => guarded.destroy(error as Error))
  return chain.output.pipe(guarded)
}
