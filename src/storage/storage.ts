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
  upload(key: string, body: Readable, contentType?: string): Promise<void>
  put(key: string, body: string | Buffer, contentType?: string): Promise<void>
  get(key: string): Promise<Readable>
  /** Every object under `prefix` (paginated as needed). */
  list(prefix: string): Promise<StoredObject[]>
  delete(keys: string[]): Promise<void>
  /** Called once a backup's manifest is written (the artifact storage uploads then). */
  commit?(manifestKey: string): Promise<void>
  /** Called when a backup failed, to drop anything staged. */
  discard?(): Promise<void>
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
