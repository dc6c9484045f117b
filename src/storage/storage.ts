import { BackupError } from '../errors.js'
import type { Readable } from 'node:stream'
import type { StorageKind } from '../model/vocabulary.js'

export interface StoredObject {
  key: string
  size: number
  modified: Date
}

/**
 * A place backups live. Keys are relative to the storage root ("<name>/<file>").
 * `upload` either stores the whole stream or leaves nothing behind.
 */
export interface Storage {
  readonly type: StorageKind
  /** Where an object is, as the user would write it (s3://bucket/key or a path). */
  locate(key: string): string
  /** Backups never replace an object (S3: If-None-Match, where supported); `replace` is for restores into a target. */
  upload(key: string, body: Readable, contentType?: string, options?: { replace?: boolean }): Promise<void>
  /** `createOnly`: never replace an existing object (S3: If-None-Match, where the store supports it). */
  put(key: string, body: string | Buffer, contentType?: string, options?: { createOnly?: boolean }): Promise<void>
  get(key: string): Promise<Readable>
  /** Every object under `prefix` (paginated as needed); `shallow` leaves out what lies in sub-folders. */
  list(prefix: string, options?: { shallow?: boolean }): Promise<StoredObject[]>
  delete(keys: string[]): Promise<void>
  /** Called once a backup's manifest is written (the artifact storage uploads then). */
  commit?(manifestKey: string): Promise<void>
  /** Called when a backup failed, to drop anything staged. */
  discard?(): Promise<void>
  /** The latest date until which Object Lock keeps any of these objects from deletion, if it is still ahead. */
  lockedUntil?(keys: string[]): Promise<Date | undefined>
  /** Objects under `prefix` that a delete marker hides (a DELETE without version id in a versioned bucket). */
  listHidden?(prefix: string): Promise<StoredObject[]>
}

/** The credentials may not do this (e.g. a write-only backup key asked to delete). */
export class AccessDeniedError extends BackupError {
  constructor(message: string) {
    super(message)
    this.name = 'AccessDeniedError'
  }
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
