/**
 * moto's S3 server (`python3 -m moto.server`): versioning, Object Lock and conditional writes, on a
 * random port; plus a small front that plays a write-only key: requests signed with the access key
 * WRITE_ONLY_KEY may not delete or list versions (403 AccessDenied), everything else passes through.
 * (moto's own IAM mode would do it, but rejects valid signatures on listings whose prefix holds a "/".)
 */
import type { IncomingMessage } from 'node:http'
import { startFront, startMotoServer } from './front.js'
import { CreateBucketCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectLockConfigurationCommand, S3Client } from '@aws-sdk/client-s3'

export const WRITE_ONLY_KEY = 'WRITEONLYKEY'

export interface TestMoto {
  endpoint: string
  /** The write-only front's URL (same store). */
  frontEndpoint: string
  client: S3Client
  /** Credentials with every right. */
  env: Record<string, string>
  /** Credentials that may write and read but not delete. */
  writeOnlyEnv: Record<string, string>
  createBucket(name: string, options?: { lock?: boolean; versioned?: boolean; defaultRetentionDays?: number }): Promise<void>
  /** Every version and delete marker under prefix. */
  versions(bucket: string, prefix?: string): Promise<Array<{ key: string; marker: boolean; versionId: string }>>
  stop(): Promise<void>
}

export async function startMoto(): Promise<TestMoto> {
  const server = await startMotoServer()
  const { endpoint } = server
  const port = Number(new URL(endpoint).port)
  const front = await startFront(port)
  front.deny = writeOnlyForbids
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'ADMIN', secretAccessKey: 'ADMIN' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED'
  })
  return {
    endpoint,
    frontEndpoint: front.endpoint,
    client,
    env: { AWS_ACCESS_KEY_ID: 'ADMIN', AWS_SECRET_ACCESS_KEY: 'ADMIN', AWS_REGION: 'us-east-1' },
    writeOnlyEnv: { AWS_ACCESS_KEY_ID: WRITE_ONLY_KEY, AWS_SECRET_ACCESS_KEY: 'WRITEONLYSECRET', AWS_REGION: 'us-east-1' },
    async createBucket(name, options = {}) {
      await client.send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: options.lock }))
      if (options.versioned || options.lock) await client.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }))
      if (options.defaultRetentionDays) {
        await client.send(
          new PutObjectLockConfigurationCommand({
            Bucket: name,
            ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: options.defaultRetentionDays } } }
          })
        )
      }
    },
    async versions(bucket, prefix) {
      const page = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }))
      return [
        ...(page.Versions ?? []).map(v => ({ key: v.Key!, marker: false, versionId: v.VersionId! })),
        ...(page.DeleteMarkers ?? []).map(m => ({ key: m.Key!, marker: true, versionId: m.VersionId! }))
      ]
    },
    async stop() {
      client.destroy()
      await front.stop()
      await server.stop()
    }
  }
}

/** Deletions and version listings signed with WRITE_ONLY_KEY: what the write-only key may not do. */
function writeOnlyForbids(req: IncomingMessage): boolean {
  const query = new URL(req.url ?? '/', 'http://x').searchParams
  const forbidden = req.method === 'DELETE' || (req.method === 'POST' && query.has('delete')) || (req.method === 'GET' && query.has('versions'))
  return forbidden && (req.headers.authorization ?? '').includes(`Credential=${WRITE_ONLY_KEY}/`)
}
