import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption'
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'

/**
 * age files (age-encryption.org/v1) that the stock `age -d -i key.txt` opens. typage writes and
 * reads the header (X25519 recipients, header MAC); the payload (STREAM: ChaCha20-Poly1305 over
 * 64 KiB chunks) runs on Node's OpenSSL, about ten times faster than typage's pure-JS cipher,
 * which would otherwise be the slowest stage of a backup.
 */

const CHUNK = 64 * 1024
const TAG = 16
const NONCE = 16
const INTRO = 'age-encryption.org/v1\n'
const MAC_LINE = Buffer.from('\n--- ')
/** A header with hundreds of recipients still fits; anything longer is not an age file. */
const MAX_HEADER = 64 * 1024

const RECIPIENT_PATTERN = /^age1[02-9ac-hj-np-z]{58}$/
const IDENTITY_PATTERN = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/

/**
 * Parses a recipients list: one or more `age1…` keys separated by commas, spaces or newlines,
 * `#` comments allowed (an age recipients file). Throws naming the entry that is not an X25519 key.
 */
export function parseRecipients(text: string): string[] {
  const keys = withoutComments(text).flatMap(line => line.split(/[\s,]+/).filter(Boolean))
  for (const key of keys) {
    if (key.startsWith('age1pq1') || key.startsWith('age1tag')) {
      throw new Error(
        `"${key.slice(0, 12)}…" is not an X25519 key; the age CLI 1.1 cannot open post-quantum or tag recipients: use age1… keys from pg-backup keygen or age-keygen`
      )
    }
    if (!RECIPIENT_PATTERN.test(key))
      throw new Error(`"${key.length > 16 ? `${key.slice(0, 16)}…` : key}" is not an age X25519 public key (age1 followed by 58 characters)`)
    new Encrypter().addRecipient(key) // checks the bech32 checksum
  }
  return [...new Set(keys)]
}

/** Parses `AGE-SECRET-KEY-1…` keys: one key, or a whole identity file (comments and blank lines skipped). */
export function parseIdentities(text: string): string[] {
  const keys = withoutComments(text).flatMap(line => line.split(/\s+/).filter(Boolean))
  // Never echo any part of a private key, not even the start of a wrong one.
  keys.forEach((key, i) => {
    if (!IDENTITY_PATTERN.test(key)) throw new Error(`entry ${i + 1} is not an age X25519 private key (AGE-SECRET-KEY-1 followed by 58 characters)`)
  })
  return keys
}

function withoutComments(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map(line => line.replace(/#.*/, '').trim())
    .filter(Boolean)
}

/** The public keys of private keys, to name them and to check them against a backup's recipients. */
export async function recipientsOf(identities: string[]): Promise<string[]> {
  return Promise.all(identities.map(identity => identityToRecipient(identity)))
}

/** A new key pair, as the identity file `age-keygen` writes. */
export async function generateKeyPair(now: Date): Promise<{ identity: string; recipient: string; file: string }> {
  const identity = await generateX25519Identity()
  const recipient = await identityToRecipient(identity)
  return { identity, recipient, file: `# created: ${now.toISOString()}\n# public key: ${recipient}\n${identity}\n` }
}

function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32))
}

/** STREAM nonce: an 11-byte big-endian chunk counter, then 1 on the last chunk. */
function chunkNonce(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12)
  nonce.writeUIntBE(counter, 5, 6)
  nonce[11] = last ? 1 : 0
  return nonce
}

/** Encrypts to the recipients what passes through; the output is a complete age file. */
export async function ageEncrypter(recipients: string[]): Promise<Transform> {
  // typage writes the header; a recipient that adds no stanza hands us the file key it chose.
  let fileKey: Uint8Array | undefined
  const encrypter = new Encrypter()
  for (const recipient of recipients) encrypter.addRecipient(recipient)
  encrypter.addRecipient({
    wrapFileKey: key => {
      fileKey = key.slice()
      return []
    }
  })
  // An empty file is the header, the payload nonce and one empty final chunk (a bare tag).
  const empty = await encrypter.encrypt(new Uint8Array(0))
  const head = Buffer.from(empty.subarray(0, empty.length - TAG))
  const key = payloadKey(fileKey!, head.subarray(head.length - NONCE))
  let pending: Buffer = Buffer.alloc(0)
  let counter = 0
  const seal = (plain: Buffer, last: boolean): Buffer => {
    const cipher = createCipheriv('chacha20-poly1305', key, chunkNonce(counter++, last), { authTagLength: TAG })
    return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()])
  }
  let headerSent = false
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (!headerSent) {
        this.push(head)
        headerSent = true
      }
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk
      // A full chunk is sealed only once more data follows: the last chunk carries the last flag.
      let offset = 0
      while (pending.length - offset > CHUNK) {
        this.push(seal(pending.subarray(offset, offset + CHUNK), false))
        offset += CHUNK
      }
      pending = pending.subarray(offset)
      callback()
    },
    flush(callback: TransformCallback) {
      if (!headerSent) this.push(head)
      this.push(seal(pending, true))
      callback()
    }
  })
}

/** Where an age header ends (after its MAC line), or -1 when `data` does not hold all of it yet. */
function headerEnd(data: Buffer): number {
  const mac = data.indexOf(MAC_LINE)
  if (mac < 0) return -1
  const newline = data.indexOf(0x0a, mac + MAC_LINE.length)
  return newline < 0 ? -1 : newline + 1
}

/** Stanza types of an age header (`X25519`, `scrypt`, …), or a problem. */
export function describeHeader(data: Buffer): { stanzas: string[]; length: number } | string {
  if (!data.subarray(0, INTRO.length).equals(Buffer.from(INTRO))) return 'does not start with an age header (age-encryption.org/v1)'
  const end = headerEnd(data)
  if (end < 0) return `its age header does not end within ${data.length} bytes`
  const stanzas = [
    ...data
      .subarray(0, end)
      .toString('latin1')
      .matchAll(/^-> (\S+)/gm)
  ].map(m => m[1])
  return { stanzas, length: end }
}

/** Whether a payload of this many bytes (after header and nonce) is a whole STREAM: a cut file usually is not. */
export function payloadSizeProblem(bytes: number): string | undefined {
  if (bytes < TAG) return `its payload is ${bytes} bytes, shorter than one sealed chunk`
  const last = bytes % (CHUNK + TAG)
  if (last > 0 && last <= TAG && bytes > TAG) return `its payload of ${bytes} bytes ends inside a chunk: the file was cut`
  return undefined
}

class AgeError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'AgeError'
  }
}

/**
 * Decrypts an age file with the identities. Every chunk is authenticated before it is passed on;
 * a truncated, tampered or wrongly keyed file makes the stream fail (the chunks before it were
 * already passed on, so callers treat any error as the failure of the whole read).
 */
export function ageDecrypter(identities: string[]): Transform {
  let buffered: Buffer = Buffer.alloc(0)
  let key: Buffer | undefined
  let counter = 0
  const open = (sealed: Buffer, last: boolean): Buffer => {
    const decipher = createDecipheriv('chacha20-poly1305', key!, chunkNonce(counter, last), { authTagLength: TAG })
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG))
    const plain = decipher.update(sealed.subarray(0, sealed.length - TAG))
    try {
      decipher.final()
    } catch {
      throw new AgeError(`age: chunk ${counter} of the payload failed authentication: the file is truncated or was modified`)
    }
    counter++
    return plain
  }
  const readHeader = async (): Promise<void> => {
    const end = headerEnd(buffered)
    if (end < 0 || buffered.length < end + NONCE) {
      if (buffered.length > MAX_HEADER) throw new AgeError('age: not an age file (no header within 64 KiB)')
      return
    }
    if (!buffered.subarray(0, INTRO.length).equals(Buffer.from(INTRO))) throw new AgeError('age: not an age file (no age-encryption.org/v1 header)')
    const decrypter = new Decrypter()
    for (const identity of identities) decrypter.addIdentity(identity)
    let fileKey: Uint8Array
    try {
      fileKey = await decrypter.decryptHeader(buffered.subarray(0, end))
    } catch (error) {
      throw new AgeError(`age: could not open the file's header: ${(error as Error).message}`)
    }
    key = payloadKey(fileKey, buffered.subarray(end, end + NONCE))
    buffered = buffered.subarray(end + NONCE)
  }
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk
      const work = async (): Promise<void> => {
        if (!key) await readHeader()
        if (!key) return
        // A sealed chunk is opened as "not last" only when more bytes follow it.
        let offset = 0
        while (buffered.length - offset > CHUNK + TAG) {
          this.push(open(buffered.subarray(offset, offset + CHUNK + TAG), false))
          offset += CHUNK + TAG
        }
        buffered = buffered.subarray(offset)
      }
      work().then(() => callback(), callback)
    },
    flush(callback: TransformCallback) {
      try {
        if (!key) throw new AgeError('age: the file ends inside its header: it is truncated or not an age file')
        if (buffered.length < TAG) throw new AgeError('age: the payload ends inside a chunk: the file is truncated')
        const plain = open(buffered, true)
        if (plain.length === 0 && counter > 1) throw new AgeError('age: the last chunk is empty: the file was modified')
        callback(null, plain)
      } catch (error) {
        callback(error as Error)
      }
    }
  })
}
