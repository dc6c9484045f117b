import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, S3Client, paginateListObjectsV2, type S3ClientConfig } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { S3Settings } from '../model/vocabulary.js'
import type { Storage, StoredObject } from './storage.js'

const MiB = 1024 * 1024
const MAX_PARTS = 10000

/**
 * S3 or any S3-compatible store. Credentials come from the default AWS chain
 * (env vars, OIDC web identity, profiles), never from inputs.
 */
export class S3Storage implements Storage {
  readonly type = 's3' as const
  readonly client: S3Client
  /** Part size for multipart uploads (see sizePartsFor). */
  partSize = 8 * MiB
  /** The last failed request, to report instead of lib-storage's "Upload aborted.". */
  private lastRequestError: unknown

  constructor(
    private readonly settings: S3Settings,
    env: NodeJS.ProcessEnv = process.env
  ) {
    const config: S3ClientConfig = {
      region: settings.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
      forcePathStyle: settings.forcePathStyle
    }
    if (settings.endpoint) {
      config.endpoint = settings.endpoint
      // The SDK's default flexible checksums make some S3-compatible servers store
      // aws-chunked framing inside the object: only send checksums where required.
      config.requestChecksumCalculation = 'WHEN_REQUIRED'
      config.responseChecksumValidation = 'WHEN_REQUIRED'
    }
    this.client = new S3Client(config)
    // lib-storage reports a failed part as "Upload aborted." (its own abort wins a race):
    // remember the request error that started it, to report that instead.
    this.client.middlewareStack.add(
      next => async args => {
        try {
          return await next(args)
        } catch (error) {
          this.lastRequestError = error
          throw error
        }
      },
      { step: 'finalizeRequest', name: 'pgBackupRememberError' }
    )
  }

  /**
   * Sizes parts so that a dump as large as the database (it leaves out indexes and is
   * compressed, so usually far smaller) fits in S3's 10,000 parts.
   */
  sizePartsFor(databaseBytes: number): void {
    const needed = Math.ceil(databaseBytes / MAX_PARTS)
    this.partSize = Math.max(8 * MiB, Math.ceil(needed / MiB) * MiB)
  }

  private fullKey(key: string): string {
    return this.settings.prefix ? `${this.settings.prefix}/${key}` : key
  }

  locate(key: string): string {
    return `s3://${this.settings.bucket}/${this.fullKey(key)}`
  }

  private objectParams(key: string, contentType?: string) {
    return {
      Bucket: this.settings.bucket,
      Key: this.fullKey(key),
      ContentType: contentType,
      StorageClass: this.settings.storageClass as never,
      ServerSideEncryption: this.settings.sse,
      SSEKMSKeyId: this.settings.kmsKeyId
    }
  }

  async upload(key: string, body: Readable, contentType = 'application/octet-stream'): Promise<void> {
    this.lastRequestError = undefined
    const upload = new Upload({
      client: this.client,
      params: { ...this.objectParams(key, contentType), Body: body },
      partSize: this.partSize,
      // lib-storage buffers queueSize parts (and copies while assembling them): keep ~16 MiB in flight.
      queueSize: Math.max(1, Math.floor((16 * MiB) / this.partSize)),
      leavePartsOnError: false
    })
    // A failing source must abort the multipart upload, not complete it with what was read so far.
    const onError = (): void => void upload.abort().catch(() => undefined)
    body.once('error', onError)
    try {
      await upload.done()
    } catch (error) {
      throw (error as Error).name === 'AbortError' && this.lastRequestError ? this.lastRequestError : error
    } finally {
      body.off('error', onError)
    }
  }

  async put(key: string, body: string | Buffer, contentType = 'application/json'): Promise<void> {
    await this.client.send(new PutObjectCommand({ ...this.objectParams(key, contentType), Body: body }))
  }

  async get(key: string): Promise<Readable> {
    const response = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.fullKey(key) }))
    return response.Body as Readable
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = []
    const strip = this.settings.prefix ? this.settings.prefix.length + 1 : 0
    for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.settings.bucket, Prefix: this.fullKey(prefix) })) {
      for (const item of page.Contents ?? []) {
        if (!item.Key) continue
        out.push({ key: item.Key.slice(strip), size: item.Size ?? 0, modified: item.LastModified ?? new Date(0) })
      }
    }
    return out
  }

  async delete(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000)
      const command = new DeleteObjectsCommand({
        Bucket: this.settings.bucket,
        Delete: { Objects: batch.map(key => ({ Key: this.fullKey(key) })), Quiet: true }
      })
      if (this.settings.endpoint) withContentMd5(command)
      const result = await this.client.send(command)
      if (result.Errors?.length) {
        const first = result.Errors[0]
        throw new Error(`S3 refused to delete ${result.Errors.length} object(s), e.g. ${first.Key}: ${first.Code} ${first.Message}`)
      }
    }
  }
}

/**
 * S3 documents Content-MD5 as required on DeleteObjects, and some S3-compatible stores (older MinIO,
 * Ceph, ...) refuse the request without it, but with WHEN_REQUIRED checksums the SDK sends a CRC32
 * header instead. Runs after the SDK's checksum middleware (build step, low priority), swaps its
 * headers for Content-MD5 of the serialized body, and is signed with the rest of the request.
 */
function withContentMd5(command: DeleteObjectsCommand): void {
  command.middlewareStack.add(
    next => async args => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown }
      if (request.headers && (typeof request.body === 'string' || request.body instanceof Uint8Array)) {
        for (const header of Object.keys(request.headers)) {
          if (/^x-amz-(sdk-)?checksum-/i.test(header)) delete request.headers[header]
        }
        request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64')
      }
      return next(args)
    },
    { step: 'build', priority: 'low', name: 'pgBackupContentMd5' }
  )
}
