import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { makeTempDir } from '../tempdir.js'
import { LocalStorage } from './local.js'
import type { Storage, StoredObject } from './storage.js'

/** The part of @actions/artifact this storage uses; tests hand in a fake. */
export interface ArtifactUploader {
  uploadArtifact(name: string, files: string[], rootDirectory: string, options?: { retentionDays?: number }): Promise<{ id?: number; size?: number }>
}

/**
 * A copy of each backup as a GitHub workflow artifact. The artifact service takes
 * files, so objects are staged on the runner's disk and uploaded together once the
 * backup is complete. Write-only: verify, prune and restore read s3 or local storage.
 */
export class ArtifactStorage implements Storage {
  readonly type = 'artifact' as const
  private staging?: LocalStorage

  constructor(
    private readonly retentionDays?: number,
    private readonly uploader: () => Promise<ArtifactUploader> = async () => new (await import('@actions/artifact')).DefaultArtifactClient()
  ) {}

  private async stage(): Promise<LocalStorage> {
    this.staging ??= new LocalStorage(await makeTempDir('artifact'))
    return this.staging
  }

  locate(key: string): string {
    return `artifact:${artifactName(key)}/${key.split('/').pop()}`
  }

  async upload(key: string, body: Readable): Promise<void> {
    await (await this.stage()).upload(key, body)
  }

  async put(key: string, body: string | Buffer): Promise<void> {
    await (await this.stage()).put(key, body)
  }

  /** Uploads the staged files of a finished backup as the artifact `<name>-<id>`. */
  async commit(key: string): Promise<void> {
    const staging = await this.stage()
    const files = (await readdir(staging.root, { recursive: true, withFileTypes: true })).filter(e => e.isFile()).map(e => join(e.parentPath, e.name))
    const client = await this.uploader()
    await client.uploadArtifact(artifactName(key), files, staging.root, { retentionDays: this.retentionDays })
    await rm(staging.root, { recursive: true, force: true })
    this.staging = undefined
  }

  async discard(): Promise<void> {
    if (this.staging) await rm(this.staging.root, { recursive: true, force: true })
    this.staging = undefined
  }

  get(): Promise<Readable> {
    return Promise.reject(new Error('artifact storage is write-only; read backups from s3 or local storage'))
  }

  list(): Promise<StoredObject[]> {
    return Promise.reject(new Error('artifact storage is write-only; list backups in s3 or local storage'))
  }

  delete(): Promise<void> {
    // Artifacts expire by themselves (artifact-retention-days).
    return Promise.resolve()
  }
}

/** `<name>/<id>.manifest.json` → `<name>-<id>`. */
function artifactName(key: string): string {
  const [name, file] = key.split('/')
  return `${name}-${file.split('.')[0]}`
}
