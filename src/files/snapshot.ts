import { createReadStream, createWriteStream } from 'node:fs'
import { rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { listBackups } from '../catalog/catalog.js'
import { layout } from '../catalog/manifest.js'
import { BackupError, errorMessage } from '../errors.js'
import { FILES_MANIFEST_VERSION, type BucketTotals, type FilesManifest, type SnapshotFile } from '../model/files-manifest.js'
import type { Storage } from '../storage/storage.js'
import { withTempDir } from '../tempdir.js'
import type { Context } from '../commands/context.js'
import { readableStorages } from '../commands/context.js'
import { contentCipher, sameNaming, type ContentCipher } from './cipher.js'
import { inParallel, planSnapshot } from './plan.js'
import { compare, describeEndpoint, endpointClient, getSource, listSource, type SourceFile } from './source.js'
import { contentKey, describeFiles, hasFiles, listContents, missingContents, readFilesManifest } from './store.js'

export interface Snapshot {
  manifest: FilesManifest
  seconds: number
}

/**
 * Copies the configured buckets into the set's content store and writes `<id>.files.json`:
 * list the source, reuse what the previous snapshot already holds, fetch the rest `buckets-jobs`
 * at a time (each streamed through the hash and the cipher into a private temporary file, since
 * its name is its hash), store each new content once, then check every referenced content is
 * present. The caller writes the manifest that makes the backup exist, last.
 */
export async function snapshotBuckets(ctx: Context, name: string, id: string): Promise<Snapshot> {
  const { files: settings } = ctx.settings
  const storages = readableStorages(ctx)
  const cipher = contentCipher(ctx.settings.encryptionPassphrase)
  const started = ctx.now()
  const client = endpointClient(settings.source)
  try {
    const { buckets, files: listing } = await listSource(client, settings.source, settings.buckets)
    ctx.host.info(`Files: ${listing.length} file(s) in ${buckets.length} bucket(s) of ${describeEndpoint(settings.source)}`)
    const previous = await previousSnapshot(ctx, storages[0], name, cipher)
    const present = await Promise.all(storages.map(s => listContents(s, name)))
    const naming = { name, encryption: cipher.encryption }
    const everywhere = (f: SnapshotFile) => present.every(p => p.get(contentKey(naming, f)) === f.storedSize)
    const plan = planSnapshot(listing, previous, everywhere)

    const fresh = new Set<string>()
    // Two files with the same bytes in one run: the second waits for the first's upload instead of racing it.
    const uploading = new Map<string, Promise<void>>()
    const fetched = await withTempDir('files', async dir => {
      const out: SnapshotFile[] = []
      let n = 0
      await inParallel(plan.fetch, settings.jobs, async source => {
        const temp = join(dir, String(n++))
        try {
          const file = await spool(client, source, cipher, temp)
          const key = contentKey(naming, file)
          for (const [i, storage] of storages.entries()) {
            const running = uploading.get(`${i}\0${key}`)
            if (running) await running
            if (present[i].get(key) === file.storedSize) continue
            const upload = storage.upload(key, createReadStream(temp), 'application/octet-stream').catch(error => {
              throw new BackupError(`Storing ${file.bucket}/${file.key} at ${storage.locate(key)} failed: ${errorMessage(error)}; nothing was published`, {
                cause: error
              })
            })
            uploading.set(`${i}\0${key}`, upload)
            await upload
            present[i].set(key, file.storedSize)
            fresh.add(`${file.bucket}\0${file.key}`)
          }
          out.push(file)
        } finally {
          await rm(temp, { force: true })
        }
      })
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
      buckets: totals(buckets, files, fresh),
      files
    }
    // Written before the backup's own manifest: while it is there, prune's sweep keeps its contents.
    const json = JSON.stringify(manifest) + '\n'
    for (const storage of storages) await storage.put(layout.filesManifest(name, id), json, 'application/json')
    for (const storage of storages) {
      const missing = missingContents(manifest, await listContents(storage, name))
      if (missing.length > 0) {
        throw new BackupError(
          `Files snapshot ${id}: ${missing.length} content(s) vanished from ${storage.locate(layout.contents(name))} during the backup (${describeFiles(missing)}); nothing was published`
        )
      }
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
async function previousSnapshot(ctx: Context, storage: Storage, name: string, cipher: ContentCipher): Promise<SnapshotFile[]> {
  const candidate = (await listBackups(storage, name)).find(b => b.complete && hasFiles(b, name))
  if (!candidate) return []
  try {
    const manifest = await readFilesManifest(storage, name, candidate.id)
    if (sameNaming(manifest.encryption, cipher.encryption)) return manifest.files
    ctx.host.info(`Files: the previous snapshot ${candidate.id} was stored with another encryption setting; copying every file again`)
  } catch (error) {
    ctx.host.warning(`could not read the previous files snapshot ${candidate.id} (copying every file again): ${errorMessage(error)}`)
  }
  return []
}

function totals(buckets: string[], files: SnapshotFile[], fresh: Set<string>): BucketTotals[] {
  return buckets.map(bucket => {
    const mine = files.filter(f => f.bucket === bucket)
    const added = mine.filter(f => fresh.has(`${f.bucket}\0${f.key}`))
    const sum = (list: SnapshotFile[]) => list.reduce((s, f) => s + f.size, 0)
    return { bucket, files: mine.length, bytes: sum(mine), newFiles: added.length, newBytes: sum(added) }
  })
}
