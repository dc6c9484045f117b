import { open } from 'node:fs/promises'
import { Writable, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { join } from 'node:path'
import { dataObject, layout } from '../catalog/manifest.js'
import { type Manifest, type ManifestObject } from '../model/manifest.js'
import { BackupError, errorMessage } from '../errors.js'
import type { Secrets } from '../secrets.js'
import type { Storage } from '../storage/storage.js'
import { withTempDir } from '../tempdir.js'
import { startChain, type Stage } from './chain.js'
import { withGpgHome } from './gpg-home.js'
import { Checksum } from './checksum.js'
import { describeHeader, payloadSizeProblem } from './age.js'
import { decryptStep, type DecryptionKeys } from './encryption.js'
import { decompressStage, PASS_THROUGH } from './stages.js'

/** A read-back failure that happened before decoding: the object could not be read, or its bytes are not the manifest's. */
export class StoredObjectError extends BackupError {
  constructor(
    readonly problem: 'unreadable' | 'checksum',
    message: string,
    options?: { cause?: unknown }
  ) {
    super(message, options)
  }
}

export interface ReadBack {
  /** The decrypted, decompressed dump (empty when written to `outputFd`). */
  output: Readable
  /** Resolves when the object was read whole, its sha256 matched, and every stage exited 0. */
  done: Promise<{ size: number; sha256: string }>
}

/**
 * Streams a stored object back through decrypt → decompress, checking
 * its size and sha256 against the manifest on the way (no copy on disk).
 */
export async function readBack(
  storage: Storage,
  manifest: Manifest,
  object: ManifestObject,
  options: { keys: DecryptionKeys; gpgHome: string; secrets: Secrets; outputFd?: number }
): Promise<ReadBack> {
  // Fails here, before anything is downloaded, when the keys cannot open the backup.
  const decrypt = await decryptStep(manifest.encryption, options.keys, options.gpgHome, `backup ${manifest.id}`)
  const stages: Stage[] = decrypt.stage ? [decrypt.stage] : []
  const decompress = decompressStage(manifest.compression.algorithm)
  if (decompress) stages.push(decompress)
  if (stages.length === 0) stages.push(PASS_THROUGH)

  const where = storage.locate(layout.object(manifest.name, object.file))
  const source = await storage.get(layout.object(manifest.name, object.file))
  const checksum = new Checksum()
  const chain = startChain(stages, options.secrets, { input: 'pipe', outputFd: options.outputFd })
  // age decrypts in Node between the checksum and the programs. Its failure stops the
  // programs (nothing downstream sees a clean end) but not the reading: the checksum still
  // covers the whole object, so a corrupted byte is reported as such.
  let decrypting: Promise<void> = Promise.resolve()
  let sink: Writable = forwardWhileOpen(chain.input!)
  if (decrypt.transform) {
    decrypting = pipeline(decrypt.transform, sink).catch(error => {
      chain.kill()
      throw error
    })
    decrypting.catch(() => undefined)
    sink = forwardWhileOpen(decrypt.transform)
  }
  const feeding = pipeline(source, checksum, sink).catch(error => {
    chain.kill()
    throw error
  })
  const done = (async () => {
    // Check the checksum first: a corrupted object explains any decrypt/decompress error.
    const [fed, decrypted, chained] = await Promise.allSettled([feeding, decrypting, chain.done])
    const sha256 = checksum.digest()
    if (fed.status === 'fulfilled' && (checksum.bytes !== object.size || sha256 !== object.sha256)) {
      throw new StoredObjectError(
        'checksum',
        `Checksum mismatch for ${where}: ` +
          `the manifest says ${object.size} bytes with sha256 ${object.sha256}, the stored object has ${checksum.bytes} bytes with sha256 ${sha256}`
      )
    }
    if (fed.status === 'rejected') {
      throw new StoredObjectError('unreadable', `Could not read ${where}: ${errorMessage(fed.reason)}`, { cause: fed.reason })
    }
    if (decrypted.status === 'rejected') throw new BackupError(`Could not decrypt ${where}: ${errorMessage(decrypted.reason)}`, { cause: decrypted.reason })
    if (chained.status === 'rejected') throw chained.reason
    return { size: checksum.bytes, sha256 }
  })()
  done.catch(() => undefined)
  return { output: chain.output, done }
}

/**
 * Reads a stored object whole without decrypting it: its size and sha256 against the manifest
 * and, for age files, a well-formed header with one stanza per recipient and a payload that
 * is not cut. What verify can check without the private key.
 */
export async function checkStoredObject(storage: Storage, manifest: Manifest, object: ManifestObject): Promise<string> {
  const where = storage.locate(layout.object(manifest.name, object.file))
  const checksum = new Checksum()
  let head = Buffer.alloc(0)
  try {
    await pipeline(await storage.get(layout.object(manifest.name, object.file)), checksum, async source => {
      for await (const chunk of source) if (head.length < 65536) head = Buffer.concat([head, chunk as Buffer])
    })
  } catch (error) {
    throw new StoredObjectError('unreadable', `Could not read ${where}: ${errorMessage(error)}`, { cause: error })
  }
  const sha256 = checksum.digest()
  if (checksum.bytes !== object.size || sha256 !== object.sha256) {
    throw new StoredObjectError(
      'checksum',
      `Checksum mismatch for ${where}: the manifest says ${object.size} bytes with sha256 ${object.sha256}, the stored object has ${checksum.bytes} bytes with sha256 ${sha256}`
    )
  }
  if (manifest.encryption?.algorithm !== 'age-x25519') return `${object.size} bytes, sha256 matches the manifest`
  const header = describeHeader(head)
  const recipients = manifest.encryption.recipients.length
  const problem =
    typeof header === 'string'
      ? header
      : header.stanzas.filter(s => s === 'X25519').length !== recipients
        ? `its age header has ${header.stanzas.length} recipient stanza(s), the manifest lists ${recipients} public key(s)`
        : payloadSizeProblem(object.size - header.length - 16)
  if (problem) throw new BackupError(`${where} ${problem}`)
  return `${object.size} bytes, sha256 matches the manifest; age header for ${recipients} public key(s), payload length consistent`
}

/**
 * Writes into a program's stdin until it goes away, then drops the rest: the
 * source is still read to the end, so the checksum covers the whole object and a
 * corrupted byte is reported as such rather than as a decrypt error.
 */
export function forwardWhileOpen(target: Writable): Writable {
  let open = true
  const close = (): void => {
    open = false
  }
  target.on('error', close)
  target.on('close', close)
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!open) return callback()
      if (target.write(chunk)) return callback()
      const resume = (): void => {
        target.off('drain', resume)
        target.off('error', resume)
        target.off('close', resume)
        callback()
      }
      target.on('drain', resume)
      target.on('error', resume)
      target.on('close', resume)
    },
    final(callback) {
      if (open) target.end()
      callback()
    }
  })
}

/**
 * Decrypts and decompresses a backup's dump into a private temporary file for `work`
 * (parallel restore needs one), removed afterwards. The last program writes the file
 * itself: the decompressed bytes never pass through Node.
 */
export async function withDumpOnDisk<T>(
  storage: Storage,
  manifest: Manifest,
  options: { keys: DecryptionKeys; secrets: Secrets },
  work: (file: string) => Promise<T>
): Promise<T> {
  return withGpgHome(gpgHome =>
    withTempDir('restore', async dir => {
      const path = join(dir, manifest.format === 'custom' ? 'archive.dump' : 'dump.sql')
      const file = await open(path, 'w', 0o600)
      try {
        const reading = await readBack(storage, manifest, dataObject(manifest), { ...options, gpgHome, outputFd: file.fd })
        await reading.done
      } finally {
        await file.close()
      }
      return work(path)
    })
  )
}
