import { createReadStream, createWriteStream } from 'node:fs'
import { rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { listBackups, type BackupEntry } from '../catalog/catalog.js'
import { layout } from '../catalog/manifest.js'
import { BackupError, errorMessage } from '../errors.js'
import { FILES_MANIFEST_VERSION, type BucketTotals, type FilesManifest, type SnapshotFile } from '../model/files-manifest.js'
import type { Storage } from '../storage/storage.js'
import { withTempDir } from '../tempdir.js'
import type { Context } from '../commands/context.js'
import { readableStorages } from '../commands/context.js'
import { contentCipher, sameNaming, type ContentCipher } from './cipher.js'
import { inParallel, LARGE_AT_ONCE, LARGE_FILE, limiter, planSnapshot } from './plan.js'
import { compare, describeEndpoint, endpointClient, getSource, listSource, type SourceFile } from './source.js'
import { contentKey, hasFiles, listContents, readFilesManifest } from './store.js'
import { SWEEP_MARGIN_MS } from './sweep.js'

export interface Snapshot {
  manifest: FilesManifest
  seconds: number
}

/**
 * Copies the configured buckets into the set's content store and writes `<id>.files.json`:
 * list the source, reuse what the previous snapshot already holds (no download, and no listing
 * of the store when nothing changed), fetch the rest `buckets-jobs` at a time (each streamed
 * through the hash and the cipher into a private temporary file, since its name is its hash),
 * store each new content once. The caller writes the manifest that makes the backup exist, last.
 *
 * Against a concurrent prune (see sweepContents): a content is reused only if the previous
 * snapshot references it (checked to still exist once this files manifest is written) or if it
 * was stored recently enough that no sweep may take it before this backup is published.
 */
export async function snapshotBuckets(ctx: Context, name: string, id: string): Promise<Snapshot> {
  const { files: settings } = ctx.settings
  const storages = readableStorages(ctx)
  const cipher = contentCipher(ctx.settings.encryptionPassphrase)
  const naming = { name, encryption: cipher.encryption }
  const started = ctx.now()
  const client = endpointClient(settings.source)
  try {
    // Two servers: the source listing and the set listings run side by side.
    const [{ buckets, files: listing }, sets] = await Promise.all([
      listSource(client, settings.source, settings.buckets),
      Promise.all(storages.map(s => listBackups(s, name)))
    ])
    ctx.host.info(`Files: ${listing.length} file(s) in ${buckets.length} bucket(s) of ${describeEndpoint(settings.source)}`)
    const previous = await previousSnapshot(ctx, storages[0], sets[0], name, cipher)
    // Where the previous snapshot is published, its contents are there (prune never deletes a referenced content).
    const relies = sets.map(entries => previous !== undefined && entries.some(b => b.id === previous.id && b.complete && hasFiles(b, name)))
    const referenced = new Set(previous?.files.map(f => contentKey(naming, f)))
    const listed = await Promise.all(storages.map((s, i) => (relies[i] ? undefined : listContents(s, name))))
    const everywhere = (f: SnapshotFile) => relies.every((r, i) => r || listed[i]!.get(contentKey(naming, f))?.size === f.storedSize)
    const plan = planSnapshot(listing, previous?.files ?? [], everywhere)
    if (plan.fetch.length > 0) for (const [i, storage] of storages.entries()) listed[i] ??= await listContents(storage, name)
    const freshAfter = ctx.now().getTime() - SWEEP_MARGIN_MS / 2
    const stored = storages.map(() => new Set<string>())
    const holds = (i: number, key: string, size: number): boolean => {
      if (stored[i].has(key) || (relies[i] && referenced.has(key))) return true
      const object = listed[i]!.get(key)
      return object?.size === size && object.modified.getTime() >= freshAfter
    }

    const added = new Set<string>()
    // Two files with the same bytes in one run: the second waits for the first's upload instead of racing it.
    const uploading = new Map<string, Promise<void>>()
    const fetched = await withTempDir('files', async dir => {
      const out: SnapshotFile[] = []
      let n = 0
      const large = limiter(LARGE_AT_ONCE)
      const copy = async (source: SourceFile): Promise<void> => {
        const temp = join(dir, String(n++))
        try {
          const file = await spool(client, source, cipher, temp)
          const key = contentKey(naming, file)
          for (const [i, storage] of storages.entries()) {
            // No await between the check and uploading.set: another worker must see this upload.
            const running = uploading.get(`${i}\0${key}`)
            if (running) await running
            if (holds(i, key, file.storedSize)) continue
            const upload = storage.upload(key, createReadStream(temp), 'application/octet-stream').catch(error => {
              throw new BackupError(`Storing ${file.bucket}/${file.key} at ${storage.locate(key)} failed: ${errorMessage(error)}; nothing was published`, {
                cause: error
              })
            })
            uploading.set(`${i}\0${key}`, upload)
            await upload
            stored[i].add(key)
            added.add(`${file.bucket}\0${file.key}`)
          }
          out.push(file)
        } finally {
          await rm(temp, { force: true })
        }
      }
      await inParallel(plan.fetch, settings.jobs, source => (source.size > LARGE_FILE ? large(() => copy(source)) : copy(source)))
      return out
    })

    const files = [...plan.reuse, ...fetched].sort((a, b) => (a.bucket === b.bucket ? compare(a.key, b.key) : compare(a.bucket, b.bucket)))
    const manifest: FilesManifest = {
      filesManifestVersion: FILES_MANIFEST_VERSION,
      id,
      name,
      startedAt: started.toISOString(),
      finishedAt: ctx.now().toISOString(),
      source: { endpoint: settings.source.endpoint, buckets },
      encryption: cipher.encryption,
      buckets: totals(buckets, files, added),
      files
    }
    // Written before the backup's own manifest: from now on a sweep keeps every content it names.
    const json = JSON.stringify(manifest) + '\n'
    for (const storage of storages) await storage.put(layout.filesManifest(name, id), json, 'application/json')
    for (const [i, storage] of storages.entries()) {
      if (!relies[i] || (await listBackups(storage, name)).some(b => b.id === previous!.id && b.complete)) continue
      throw new BackupError(
        `Files snapshot ${id}: the previous backup ${previous!.id}, whose stored files this one reuses, was pruned from ${storage.locate(layout.setPrefix(name))} while it ran; nothing was published (run the backup again)`
      )
    }
    return { manifest, seconds: (ctx.now().getTime() - started.getTime()) / 1000 }
  } finally {
    client.destroy()
  }
}

/** Reads one source object through the hash and the cipher into `temp`; returns its snapshot entry. */
async function spool(client: ReturnType<typeof endpointClient>, source: SourceFile, cipher: ContentCipher, temp: string): Promise<SnapshotFile> {
  const { body, contentType } = await getSource(client, source)
  const hash = cipher.hasher()
  let size = 0
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk)
      size += chunk.length
      callback(null, chunk)
    }
  })
  try {
    await pipeline(cipher.encrypt(tapped(body, tap)), createWriteStream(temp, { mode: 0o600 }))
  } catch (error) {
    throw new BackupError(`Copying ${source.bucket}/${source.key} failed: ${errorMessage(error)}; nothing was published`, { cause: error })
  }
  const storedSize = (await stat(temp)).size
  // The size read, not the listed one: an object rewritten meanwhile is recorded as it was read.
  return { ...source, size, contentType, hash: hash.digest('hex'), storedSize }
}

function tapped(body: Readable, tap: Transform): Readable {
  body.on('error', error => tap.destroy(error))
  return body.pipe(tap)
}

/** The newest complete snapshot of the set named the same way (same passphrase), if any. */
async function previousSnapshot(
  ctx: Context,
  storage: Storage,
  entries: BackupEntry[],
  name: string,
  cipher: ContentCipher
): Promise<{ id: string; files: SnapshotFile[] } | undefined> {
  const candidate = entries.find(b => b.complete && hasFiles(b, name))
  if (!candidate) return undefined
  try {
    const manifest = await readFilesManifest(storage, name, candidate.id)
    if (sameNaming(manifest.encryption, cipher.encryption)) return { id: candidate.id, files: manifest.files }
    ctx.host.info(`Files: the previous snapshot ${candidate.id} was stored with another encryption setting; copying every file again`)
  } catch (error) {
    ctx.host.warning(`could not read the previous files snapshot ${candidate.id} (copying every file again): ${errorMessage(error)}`)
  }
  return undefined
}

function totals(buckets: string[], files: SnapshotFile[], added: Set<string>): BucketTotals[] {
  return buckets.map(bucket => {
    const mine = files.filter(f => f.bucket === bucket)
    const stored = mine.filter(f => added.has(`${f.bucket}\0${f.key}`))
    const sum = (list: SnapshotFile[]) => list.reduce((s, f) => s + f.size, 0)
    return { bucket, files: mine.length, bytes: sum(mine), newFiles: stored.length, newBytes: sum(stored) }
  })
}
