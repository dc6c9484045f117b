import { throwIfCancelled, onCancel } from '../cancel.js'
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  paginateListObjectsV2,
  type ObjectIdentifier,
  type S3ClientConfig
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { S3Settings } from '../model/vocabulary.js'
import { BackupError } from '../errors.js'
import { AccessDeniedError, type Storage, type StoredObject } from './storage.js'

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
  private bucketLock?: Promise<{ enabled: boolean; defaultRetention: boolean }>
  private versioning?: Promise<boolean>
  /** Off once the store answered 501 to If-None-Match (it cannot refuse overwrites; the lock still can). */
  private conditionalWrites = true

  constructor(
    private readonly settings: S3Settings,
    env: NodeJS.ProcessEnv = process.env,
    /** Explicit keys (a Storage endpoint's); default: the AWS credential chain. */
    credentials?: { accessKeyId: string; secretAccessKey: string }
  ) {
    const config: S3ClientConfig = {
      region: settings.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
      forcePathStyle: settings.forcePathStyle,
      credentials
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

  private async objectParams(key: string, contentType: string | undefined, createOnly: boolean) {
    const lock = this.settings.objectLock
    const locking = lock !== undefined || (await this.lockConfiguration()).defaultRetention
    return {
      Bucket: this.settings.bucket,
      Key: this.fullKey(key),
      ContentType: contentType,
      StorageClass: this.settings.storageClass as never,
      ServerSideEncryption: this.settings.sse,
      SSEKMSKeyId: this.settings.kmsKeyId,
      // A backup never replaces an object: stores that support conditional writes refuse it.
      IfNoneMatch: createOnly && this.conditionalWrites ? '*' : undefined,
      ...(lock && { ObjectLockMode: lock.mode, ObjectLockRetainUntilDate: new Date(Date.now() + lock.days * 86_400_000) }),
      // S3 wants a checksum on writes that get locked; the SDK only sends one by itself on AWS (parts are buffers: no trailers).
      ...(locking && this.settings.endpoint && { ChecksumAlgorithm: 'CRC32' as const })
    }
  }

  async upload(key: string, body: Readable, contentType = 'application/octet-stream', options: { replace?: boolean } = {}): Promise<void> {
    this.lastRequestError = undefined
    const upload = new Upload({
      client: this.client,
      params: { ...(await this.objectParams(key, contentType, !options.replace)), Body: body },
      partSize: this.partSize,
      // lib-storage buffers queueSize parts (and copies while assembling them): keep ~16 MiB in flight.
      queueSize: Math.max(1, Math.floor((16 * MiB) / this.partSize)),
      leavePartsOnError: false
    })
    // A failing source must abort the multipart upload, not complete it with what was read so far.
    const onError = (): void => void upload.abort().catch(() => undefined)
    body.once('error', onError)
    // Cancelled: abort, and make sure S3 drops the parts already stored (they are billed).
    const release = onCancel(async () => {
      await upload.abort()
      body.destroy()
      const uploadId = (upload as unknown as { uploadId?: string }).uploadId
      if (uploadId) {
        const abort = new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key: this.fullKey(key), UploadId: uploadId })
        await this.client.send(abort).catch(() => undefined)
      }
    })
    try {
      throwIfCancelled()
      await upload.done()
    } catch (error) {
      const cause = (error as Error).name === 'AbortError' && this.lastRequestError ? this.lastRequestError : error
      if (httpStatus(cause) === 501) this.conditionalWrites = false // the next attempt writes without If-None-Match
      throw cause
    } finally {
      release()
      body.off('error', onError)
    }
    await this.checkLocked(key)
  }

  async put(key: string, body: string | Buffer, contentType = 'application/json', options: { createOnly?: boolean } = {}): Promise<void> {
    throwIfCancelled()
    // The length stated, so that the SDK does not take an empty marker for a stream of unknown length.
    const params = async () => ({
      ...(await this.objectParams(key, contentType, options.createOnly === true)),
      Body: body,
      ContentLength: Buffer.byteLength(body)
    })
    const send = async () => this.client.send(new PutObjectCommand(await params()))
    await send().catch(async error => {
      if (httpStatus(error) !== 501 || !options.createOnly || !this.conditionalWrites) throw error
      this.conditionalWrites = false
      await send()
    })
    await this.checkLocked(key)
  }

  /** Whether the bucket has Object Lock, and a default retention that locks objects written without lock headers. */
  private lockConfiguration(): Promise<{ enabled: boolean; defaultRetention: boolean }> {
    this.bucketLock ??= this.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.settings.bucket })).then(
      r => ({
        enabled: r.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled',
        defaultRetention: Boolean(r.ObjectLockConfiguration?.Rule?.DefaultRetention)
      }),
      // No configuration, a store without Object Lock, or no right to read it: locks are only expected from the inputs.
      () => ({ enabled: false, defaultRetention: false })
    )
    return this.bucketLock
  }

  /**
   * Some stores accept Object Lock headers and store the object unlocked: after each write the
   * object must show the retention it was sent with (or the bucket's default), or the backup fails.
   */
  private async checkLocked(key: string): Promise<void> {
    if (!this.settings.objectLock && !(await this.lockConfiguration()).defaultRetention) return
    const head = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.fullKey(key) }))
    const until = head.ObjectLockRetainUntilDate
    if (!head.ObjectLockMode || !until || until.getTime() <= Date.now()) {
      throw new BackupError(
        `${this.locate(key)} was stored without Object Lock retention although ${this.settings.objectLock ? `s3-object-lock-mode asked for ${this.settings.objectLock.mode.toLowerCase()}` : 'the bucket has a default retention'}: ` +
          'this store does not apply Object Lock (or the credentials may not read it: allow s3:GetObjectRetention). Use a bucket with Object Lock enabled, or leave s3-object-lock-mode empty'
      )
    }
  }

  async lockedUntil(keys: string[]): Promise<Date | undefined> {
    if (!(await this.lockConfiguration()).enabled) return undefined
    let latest: Date | undefined
    for (const key of keys) {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.fullKey(key) })).catch(error => {
        if (httpStatus(error) === 404) return undefined
        throw error
      })
      const until = head?.ObjectLockRetainUntilDate
      if (head?.ObjectLockMode && until && until.getTime() > Date.now() && (!latest || until > latest)) latest = until
    }
    return latest
  }

  /** Object Lock buckets are always versioned; there a DELETE without a version id only hides the object. */
  private isVersioned(): Promise<boolean> {
    this.versioning ??= this.client.send(new GetBucketVersioningCommand({ Bucket: this.settings.bucket })).then(
      r => r.Status === 'Enabled' || r.Status === 'Suspended',
      error => {
        throw denied(error, 'read whether the bucket is versioned (s3:GetBucketVersioning)')
      }
    )
    return this.versioning
  }

  /** ListObjectVersions, page by page (the SDK has no paginator for it). */
  private async *versionPages(prefix: string): AsyncGenerator<ListObjectVersionsCommandOutput> {
    let markers: { KeyMarker?: string; VersionIdMarker?: string } = {}
    for (;;) {
      const page = await this.client.send(new ListObjectVersionsCommand({ Bucket: this.settings.bucket, Prefix: prefix, ...markers }))
      yield page
      if (!page.IsTruncated) return
      markers = { KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker }
    }
  }

  /** Every version and delete marker of the keys, newest first per key (one listing per folder). */
  private async versionsOf(keys: string[]): Promise<Map<string, Array<{ versionId: string; marker: boolean; size: number; modified: Date }>>> {
    const wanted = new Set(keys.map(k => this.fullKey(k)))
    const folders = new Set([...wanted].map(k => k.slice(0, k.lastIndexOf('/') + 1)))
    const out = new Map<string, Array<{ versionId: string; marker: boolean; size: number; modified: Date }>>()
    for (const folder of folders) {
      try {
        for await (const page of this.versionPages(folder)) {
          const entries = [
            ...(page.Versions ?? []).map(v => ({ key: v.Key, versionId: v.VersionId, marker: false, size: v.Size ?? 0, modified: v.LastModified })),
            ...(page.DeleteMarkers ?? []).map(m => ({ key: m.Key, versionId: m.VersionId, marker: true, size: 0, modified: m.LastModified }))
          ]
          for (const e of entries) {
            if (!e.key || !e.versionId || !wanted.has(e.key)) continue
            const list = out.get(e.key) ?? []
            list.push({ versionId: e.versionId, marker: e.marker, size: e.size, modified: e.modified ?? new Date(0) })
            out.set(e.key, list)
          }
        }
      } catch (error) {
        throw denied(error, 'list object versions (s3:ListBucketVersions)')
      }
    }
    for (const list of out.values()) list.sort((a, b) => b.modified.getTime() - a.modified.getTime() || Number(b.marker) - Number(a.marker))
    return out
  }

  async listHidden(prefix: string): Promise<StoredObject[]> {
    if (!(await this.isVersioned().catch(() => false))) return []
    const visible = new Set((await this.list(prefix)).map(o => this.fullKey(o.key)))
    const keys: string[] = []
    try {
      for await (const page of this.versionPages(this.fullKey(prefix))) {
        for (const v of page.Versions ?? []) if (v.Key && !visible.has(v.Key)) keys.push(v.Key)
      }
    } catch (error) {
      throw denied(error, 'list object versions (s3:ListBucketVersions)')
    }
    const strip = this.settings.prefix ? this.settings.prefix.length + 1 : 0
    const versions = await this.versionsOf([...new Set(keys)].map(k => k.slice(strip)))
    return [...versions].flatMap(([key, list]) => {
      const newest = list.find(v => !v.marker)
      return list[0]?.marker && newest ? [{ key: key.slice(strip), size: newest.size, modified: newest.modified }] : []
    })
  }

  async get(key: string): Promise<Readable> {
    const params = { Bucket: this.settings.bucket, Key: this.fullKey(key) }
    try {
      return (await this.client.send(new GetObjectCommand(params))).Body as Readable
    } catch (error) {
      // Hidden by a delete marker: read the newest version still there (restore and drill of a "deleted" backup).
      if (httpStatus(error) !== 404 || !(await this.isVersioned().catch(() => false))) throw error
      const newest = (await this.versionsOf([key])).get(params.Key)?.find(v => !v.marker)
      if (!newest) throw error
      return (await this.client.send(new GetObjectCommand({ ...params, VersionId: newest.versionId }))).Body as Readable
    }
  }

  async list(prefix: string, options: { shallow?: boolean } = {}): Promise<StoredObject[]> {
    const out: StoredObject[] = []
    const strip = this.settings.prefix ? this.settings.prefix.length + 1 : 0
    const params = { Bucket: this.settings.bucket, Prefix: this.fullKey(prefix), Delimiter: options.shallow ? '/' : undefined }
    for await (const page of paginateListObjectsV2({ client: this.client }, params)) {
      for (const item of page.Contents ?? []) {
        if (!item.Key) continue
        out.push({ key: item.Key.slice(strip), size: item.Size ?? 0, modified: item.LastModified ?? new Date(0) })
      }
    }
    return out
  }

  /**
   * In a versioned bucket deletes every version of the keys (and their delete markers), so that
   * space is really freed; never bypasses governance retention (a locked version is refused).
   */
  async delete(keys: string[]): Promise<void> {
    let objects: ObjectIdentifier[] = keys.map(key => ({ Key: this.fullKey(key) }))
    if (await this.isVersioned()) {
      const versions = await this.versionsOf(keys)
      objects = [...versions].flatMap(([Key, list]) => list.map(v => ({ Key, VersionId: v.versionId })))
    }
    for (let i = 0; i < objects.length; i += 1000) {
      const command = new DeleteObjectsCommand({ Bucket: this.settings.bucket, Delete: { Objects: objects.slice(i, i + 1000), Quiet: true } })
      if (this.settings.endpoint) withContentMd5(command)
      const result = await this.client.send(command).catch(error => {
        throw denied(error, 'delete objects (s3:DeleteObject, s3:DeleteObjectVersion)')
      })
      if (result.Errors?.length) {
        const first = result.Errors[0]
        const message = `S3 refused to delete ${result.Errors.length} object(s), e.g. ${first.Key}: ${first.Code} ${first.Message}`
        throw first.Code === 'AccessDenied' ? new AccessDeniedError(message) : new Error(message)
      }
    }
  }
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
}

/** A 403 becomes an AccessDeniedError naming what was refused; anything else passes through. */
function denied(error: unknown, what: string): unknown {
  if (httpStatus(error) !== 403) return error
  return new AccessDeniedError(`the S3 credentials may not ${what}: ${(error as Error).message}`)
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
