/**
 * A throw-away S3 endpoint (s3rver) in a child Node process, plus a client configured for it.
 */
import { fork } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'

export interface TestS3 {
  /** http://127.0.0.1:<port> */
  endpoint: string
  /** Created at start. */
  bucket: string
  region: 'us-east-1'
  /** forcePathStyle, checksums WHEN_REQUIRED, credentials S3RVER/S3RVER. */
  client: S3Client
  /** AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION for code that uses the default credential chain. */
  env: Record<string, string>
  createBucket(name: string): Promise<void>
  getObject(key: string, bucket?: string): Promise<Buffer>
  /** All keys under prefix, following continuation tokens. */
  listKeys(prefix?: string, bucket?: string): Promise<string[]>
  /** SIGKILLs the server (cleanup, or simulating it dying mid-upload) and removes its files. Idempotent. */
  stop(): Promise<void>
  /** HTTP requests the server has received so far (last known value after stop()). */
  requestCount(): number
}

const LAUNCHER = join(dirname(fileURLToPath(import.meta.url)), 's3rver-process.mjs')
const START_TIMEOUT_MS = 15_000

export async function startS3(): Promise<TestS3> {
  const dir = mkdtempSync(join(tmpdir(), 's3rver-test-'))
  const env = { ...process.env }
  delete env.NODE_OPTIONS // jest's flags (or an --inspect) are not meant for the server process
  const child = fork(LAUNCHER, [dir], {
    execArgv: ['--openssl-legacy-provider'],
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc']
  })
  let exited = false
  const exitPromise = new Promise<void>(res => child.on('exit', () => ((exited = true), res())))

  let port: number
  try {
    port = await new Promise<number>((res, rej) => {
      let out = ''
      let err = ''
      const timer = setTimeout(() => rej(new Error(`s3rver did not start within ${START_TIMEOUT_MS} ms:\n${err}`)), START_TIMEOUT_MS)
      child.stderr!.on('data', (d: Buffer) => (err += d))
      child.stdout!.on('data', (d: Buffer) => {
        out += d
        const nl = out.indexOf('\n')
        if (nl >= 0) {
          clearTimeout(timer)
          res((JSON.parse(out.slice(0, nl)) as { port: number }).port)
        }
      })
      child.on('exit', code => {
        clearTimeout(timer)
        rej(new Error(`s3rver exited with ${code} during startup:\n${err}`))
      })
    })
  } catch (e) {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
    throw e
  }
  // Don't let a forgotten stop() keep jest alive; the child exits by itself when our IPC channel closes.
  child.unref()
  child.channel?.unref()
  ;(child.stdout as Socket).unref()
  ;(child.stderr as Socket).unref()

  const endpoint = `http://127.0.0.1:${port}`
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true, // s3rver cannot do virtual-host buckets on an IP address
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    // The SDK's default (WHEN_SUPPORTED) sends CRC32 trailers in aws-chunked framing, which s3rver stores verbatim.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED'
  })

  const counterFile = join(dir, 'request-count')
  let lastCount = 0
  const requestCount = (): number => {
    try {
      lastCount = Number(readFileSync(counterFile, 'utf8').trim()) || lastCount
    } catch {
      // stopped: keep the last known value
    }
    return lastCount
  }

  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    requestCount()
    if (!exited) {
      child.kill('SIGKILL')
      await exitPromise
    }
    client.destroy()
    rmSync(dir, { recursive: true, force: true })
  }

  const createBucket = async (name: string): Promise<void> => {
    await client.send(new CreateBucketCommand({ Bucket: name }))
  }
  const bucket = 'test-bucket'
  try {
    await createBucket(bucket)
  } catch (e) {
    await stop()
    throw e
  }

  return {
    endpoint,
    bucket,
    region: 'us-east-1',
    client,
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' },
    createBucket,
    getObject: async (key, b = bucket) => {
      const res = await client.send(new GetObjectCommand({ Bucket: b, Key: key }))
      return Buffer.from(await res.Body!.transformToByteArray())
    },
    listKeys: async (prefix, b = bucket) => {
      const keys: string[] = []
      let token: string | undefined
      do {
        const res = await client.send(new ListObjectsV2Command({ Bucket: b, Prefix: prefix, ContinuationToken: token }))
        for (const o of res.Contents ?? []) keys.push(o.Key!)
        token = res.IsTruncated ? res.NextContinuationToken : undefined
      } while (token)
      return keys
    },
    stop,
    requestCount
  }
}
