import { GetObjectCommand, ListBucketsCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3'
import type { Readable } from 'node:stream'
import { BackupError, errorMessage } from '../errors.js'
import type { BucketsEndpoint } from '../model/vocabulary.js'
import { S3Storage } from '../storage/s3.js'

/** One object as the source lists it. */
export interface SourceFile {
  bucket: string
  key: string
  size: number
  etag: string
  lastModified: string
}

/** A client for a Storage endpoint with its own keys (S3Storage's, so its S3-compatibility settings apply). */
export function endpointClient(endpoint: BucketsEndpoint, bucket = ''): S3Client {
  return new S3Storage(
    { bucket, prefix: '', endpoint: endpoint.endpoint, region: endpoint.region, forcePathStyle: endpoint.forcePathStyle },
    process.env,
    endpoint.credentials
  ).client
}

export function describeEndpoint(endpoint: BucketsEndpoint): string {
  return endpoint.endpoint ?? 'AWS S3'
}

/** Every file of the named buckets (`*`: every bucket the keys can list), sorted by bucket then key. */
export async function listSource(client: S3Client, endpoint: BucketsEndpoint, wanted: string[]): Promise<{ buckets: string[]; files: SourceFile[] }> {
  const where = describeEndpoint(endpoint)
  let buckets = wanted
  if (wanted.includes('*')) {
    try {
      buckets = ((await client.send(new ListBucketsCommand({}))).Buckets ?? []).map(b => b.Name ?? '').filter(Boolean)
    } catch (error) {
      throw sourceError(`Listing the buckets of ${where} failed`, error)
    }
  }
  const files: SourceFile[] = []
  for (const bucket of [...buckets].sort()) {
    try {
      for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket })) {
        for (const o of page.Contents ?? []) {
          if (o.Key === undefined) continue
          files.push({ bucket, key: o.Key, size: o.Size ?? 0, etag: o.ETag ?? '', lastModified: (o.LastModified ?? new Date(0)).toISOString() })
        }
      }
    } catch (error) {
      throw sourceError(`Listing bucket "${bucket}" of ${where} failed`, error)
    }
  }
  files.sort((a, b) => (a.bucket === b.bucket ? compare(a.key, b.key) : compare(a.bucket, b.bucket)))
  return { buckets: [...buckets].sort(), files }
}

export async function getSource(client: S3Client, file: { bucket: string; key: string }): Promise<{ body: Readable; contentType?: string }> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: file.bucket, Key: file.key }))
    return { body: response.Body as Readable, contentType: response.ContentType }
  } catch (error) {
    throw sourceError(`Reading ${file.bucket}/${file.key} failed`, error)
  }
}

/** Byte order, as S3 lists keys. */
export function compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

const KEY_ERRORS = /InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|Forbidden|InvalidToken|Unauthorized/i

function sourceError(what: string, error: unknown): BackupError {
  const name = (error as { name?: string }).name ?? ''
  const hint = KEY_ERRORS.test(`${name} ${errorMessage(error)}`)
    ? ': check buckets-access-key-id and buckets-secret-access-key (Supabase: Project Settings → Storage → S3 access keys)'
    : ''
  return new BackupError(`${what}: ${name && name !== 'Error' ? `${name}: ` : ''}${errorMessage(error)}${hint}; nothing was published`, { cause: error })
}
