#!/usr/bin/env node
/**
 * How long does `prune` take on a large set, and how many requests does it make?
 * Starts s3rver (as __tests__/helpers/s3.ts does), stores N fake hourly backups (3 objects each),
 * then runs the built CLI: a dry run (listing only) and the real prune.
 *
 *   npm run build && node scripts/bench-prune.mjs [backups=5000]
 */
import { fork, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const CLI = join(ROOT, 'dist/cli/index.js')
const BACKUPS = Number(process.argv[2] ?? 5000)
const BUCKET = 'bench'
const PREFIX = 'pg'
const NAME = 'bench'
const PUT_CONCURRENCY = 32
const HOUR = 3_600_000
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' }

if (!existsSync(CLI)) {
  console.error(`${CLI} not found: run npm run build first`)
  process.exit(1)
}

/** s3rver in a child process; resolves once it listens. Counts requests in <dir>/request-count. */
async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-prune-'))
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const child = fork(join(ROOT, '__tests__/helpers/s3rver-process.mjs'), [dir], {
    execArgv: ['--openssl-legacy-provider'],
    env,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc']
  })
  const port = await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', chunk => {
      out += chunk
      if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))).port)
    })
    child.on('exit', code => reject(new Error(`s3rver exited with ${code}`)))
  })
  const requests = () => Number(readFileSync(join(dir, 'request-count'), 'utf8').trim())
  const stop = () => {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  return { endpoint: `http://127.0.0.1:${port}`, requests, stop }
}

/** `<UTC time, basic ISO 8601>-scheduled-<4 hex>`, as src/catalog/manifest.ts makes them. */
function backupId(time, n) {
  const stamp = new Date(time)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  return `${stamp}-scheduled-${(n & 0xffff).toString(16).padStart(4, '0')}`
}

async function putAll(client, keys) {
  const queue = [...keys]
  await Promise.all(
    Array.from({ length: PUT_CONCURRENCY }, async () => {
      for (let key = queue.shift(); key; key = queue.shift()) {
        await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key.endsWith('.json') ? '{"manifestVersion":1}' : 'x' }))
      }
    })
  )
}

async function countKeys(client, prefix) {
  let count = 0
  let token
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }))
    count += page.KeyCount ?? 0
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token)
  return count
}

/** Runs the CLI; returns wall seconds, requests the server received, and the kept/deleted outputs. */
async function runPrune(server, extra) {
  const args = [CLI, 'prune', '--storage', 's3', '--s3-bucket', BUCKET, '--s3-endpoint', server.endpoint, '--s3-prefix', PREFIX, '--name', NAME]
  args.push('--keep-daily', '7', '--keep-weekly', '4', '--keep-monthly', '12', '--kind', 'scheduled', ...extra)
  const before = server.requests()
  const started = performance.now()
  const child = spawn(process.execPath, args, { env: { ...process.env, ...CREDENTIALS }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => (stdout += chunk))
  child.stderr.on('data', chunk => (stderr += chunk))
  const code = await new Promise(resolve => child.on('close', resolve))
  const seconds = (performance.now() - started) / 1000
  if (code !== 0) throw new Error(`prune exited with ${code}:\n${stderr.slice(-2000)}`)
  const output = name => JSON.parse(new RegExp(`^${name}=(.*)$`, 'm').exec(stdout)?.[1] ?? '[]')
  return { seconds, requests: server.requests() - before, kept: output('kept').length, deleted: output('deleted').length }
}

const server = await startServer()
try {
  const client = new S3Client({
    endpoint: server.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED'
  })
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }))

  // Hourly backups ending an hour ago, so none is mistaken for a running upload.
  const newest = Math.floor(Date.now() / HOUR) * HOUR - HOUR
  const keys = []
  for (let i = 0; i < BACKUPS; i++) {
    const id = backupId(newest - i * HOUR, i)
    keys.push(...['.dump.zst', '.sha256', '.manifest.json'].map(suffix => `${PREFIX}/${NAME}/${id}${suffix}`))
  }
  const started = performance.now()
  await putAll(client, keys)
  const seedSeconds = (performance.now() - started) / 1000
  console.log(`seeded ${BACKUPS} backups (${keys.length} objects) in ${seedSeconds.toFixed(1)} s`)

  const dry = await runPrune(server, ['--dry-run', 'true'])
  const real = await runPrune(server, [])
  const again = await runPrune(server, [])
  const left = await countKeys(client, `${PREFIX}/${NAME}/`)
  client.destroy()

  const rows = [
    ['run', 'wall s', 'HTTP requests', 'kept', 'deleted'],
    ['dry run', dry.seconds.toFixed(2), dry.requests, dry.kept, dry.deleted],
    ['prune', real.seconds.toFixed(2), real.requests, real.kept, real.deleted],
    ['prune again', again.seconds.toFixed(2), again.requests, again.kept, again.deleted]
  ]
  const widths = rows[0].map((_, c) => Math.max(...rows.map(r => String(r[c]).length)))
  for (const row of rows) console.log(row.map((v, c) => String(v).padEnd(widths[c])).join('  '))
  console.log(`objects left in the set: ${left} (${real.kept} backups × 3 = ${real.kept * 3})`)
  if (left !== real.kept * 3) process.exitCode = 1
} finally {
  server.stop()
}
